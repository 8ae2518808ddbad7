import { describe, expect, it } from "vitest";
import { formatMessage, safeLink } from "../src/core/text";

describe("formatMessage", () => {
  it("formatMessage_Plain_OneTextSegment", () => {
    expect(formatMessage("hello world")).toEqual([{ kind: "text", text: "hello world" }]);
  });

  it("formatMessage_Html_StaysText", () => {
    const payload = `<img src=x onerror="alert(1)"><script>alert(2)</script>`;
    expect(formatMessage(payload)).toEqual([{ kind: "text", text: payload }]);
  });

  it("formatMessage_Formatting_Segments", () => {
    expect(formatMessage("a *b* _c_ `d<e>` https://x.example/p?q=1.")).toEqual([
      { kind: "text", text: "a " },
      { kind: "bold", text: "b" },
      { kind: "text", text: " " },
      { kind: "italic", text: "c" },
      { kind: "text", text: " " },
      { kind: "code", text: "d<e>" },
      { kind: "text", text: " " },
      { kind: "link", text: "https://x.example/p?q=1", href: "https://x.example/p?q=1" },
      { kind: "text", text: "." },
    ]);
  });

  it("formatMessage_HtmlWithUnderscoresAndStars_StaysOneTextSegment", () => {
    const payload = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> a * b * c`;
    expect(formatMessage(payload)).toEqual([{ kind: "text", text: payload }]);
  });

  it("formatMessage_SnakeCase_NotItalic", () => {
    expect(formatMessage("snake_case_name")).toEqual([{ kind: "text", text: "snake_case_name" }]);
  });

  it.each(["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:x"])("formatMessage_DangerousScheme %s_Text", (s) => {
    expect(formatMessage(s).every((seg) => seg.kind === "text")).toBe(true);
  });

  it("safeLink_CredentialsInUrl_Text", () => {
    expect(safeLink("https://user:pw@evil.example/")).toEqual({ kind: "text", text: "https://user:pw@evil.example/" });
  });

  it("formatMessage_JoinsBackToOriginal", () => {
    const s = "x *y* `z` _w_ https://a.example/ end";
    const joined = formatMessage(s)
      .map((seg) => (seg.kind === "bold" ? `*${seg.text}*` : seg.kind === "italic" ? `_${seg.text}_` : seg.kind === "code" ? `\`${seg.text}\`` : seg.text))
      .join("");
    expect(joined).toBe(s);
  });
});
