#!/usr/bin/env node
/**
 * The build hash of the GhostChat web app (docs/security.md, "A compromised web origin"): the
 * SHA-256, in hex, of the lines `<path> <SHA-256 hex of the file's bytes>\n`, sorted by path, for
 * every page, script and style the build made (everything but `/sw.js`, which carries the offline
 * list, and `/build.json`, which carries the hash and the list of the files it covers). A file left
 * out of that list, or added, or changed, changes the hash.
 *
 * The build writes it to `build.json` and the app shows it (Server settings); this script computes
 * it from a built folder or from what a running server serves, to compare with the published one:
 *
 *   node scripts/build-hash.mjs dist
 *   node scripts/build-hash.mjs https://chat.example.org
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";

/** Shell entries the hash leaves out. */
export const NOT_HASHED = new Set(["/", "/sw.js", "/build.json"]);

/** The hash of the files given as `path → bytes` (paths as in the shell: "/assets/…"). */
export function buildHash(files) {
  const lines = [...files.keys()]
    .filter((p) => !NOT_HASHED.has(p))
    .sort()
    .map((p) => `${p} ${createHash("sha256").update(files.get(p)).digest("hex")}\n`);
  return createHash("sha256").update(lines.join("")).digest("hex");
}

/** The files a `build.json` says the hash covers. */
export function filesOf(buildJson) {
  let files;
  try {
    files = JSON.parse(buildJson).files;
  } catch {
    files = undefined;
  }
  if (!Array.isArray(files) || !files.every((f) => typeof f === "string" && f.startsWith("/") && !f.includes("..")))
    throw new Error("build.json: no list of files (is this a GhostChat build?)");
  return files;
}

/** The build hash of a built folder or of what the server at `target` (http:// or https://) serves. */
export async function buildHashOf(target) {
  const remote = /^https?:\/\//.test(target);
  const read = async (p) => {
    if (!remote) return readFile(path.join(target, p));
    const response = await fetch(new URL(p, target), { cache: "no-store" });
    if (!response.ok) throw new Error(`${p}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  };
  const files = new Map();
  for (const p of filesOf(Buffer.from(await read("/build.json")).toString("utf8"))) if (!NOT_HASHED.has(p)) files.set(p, await read(p));
  return buildHash(files);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const target = process.argv[2];
  if (!target) {
    console.error("usage: node scripts/build-hash.mjs <dist folder | https://server>");
    process.exit(2);
  }
  try {
    console.log(await buildHashOf(target));
  } catch (error) {
    console.error(`build-hash: ${error.message}`);
    process.exit(1);
  }
}
