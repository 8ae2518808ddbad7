import { describe, expect, it } from "vitest";
import { buildHash, filesOf } from "../scripts/build-hash.mjs";

const files = (entries: Record<string, string>) => new Map(Object.entries(entries).map(([p, text]) => [p, new TextEncoder().encode(text)]));

describe("build hash", () => {
  const app = { "/index.html": "<html>", "/assets/main-1.js": "run()", "/assets/main-1.css": "body{}" };

  it("anyByteOfAnyFileChanged_HashChanges", () => {
    const base = buildHash(files(app));
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(buildHash(files({ ...app, "/assets/main-1.js": "run();" }))).not.toBe(base);
    expect(buildHash(files({ ...app, "/assets/extra.js": "" }))).not.toBe(base);
    const { ["/assets/main-1.css"]: _css, ...without } = app;
    expect(buildHash(files(without))).not.toBe(base);
    // A file renamed with the same bytes is another build too.
    expect(buildHash(files({ ...without, "/assets/main-2.css": "body{}" }))).not.toBe(base);
  });

  it("orderOfListingAndTheFilesCarryingTheHash_DoNotCount", () => {
    const base = buildHash(files(app));
    expect(buildHash(files(Object.fromEntries(Object.entries(app).reverse())))).toBe(base);
    expect(buildHash(files({ ...app, "/": "anything", "/sw.js": "x", "/build.json": "{}" }))).toBe(base);
  });

  it("filesOf_ReadsTheListFromBuildJson_RefusesAnythingElse", () => {
    expect(filesOf('{"build":"x","files":["/index.html","/assets/a.js"]}')).toEqual(["/index.html", "/assets/a.js"]);
    for (const bad of ['{"build":"x"}', "not json", '{"files":["index.html"]}', '{"files":["/../etc/passwd"]}', '{"files":[1]}'])
      expect(() => filesOf(bad)).toThrow(/no list of files/);
  });
});
