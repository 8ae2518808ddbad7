import { describe, expect, it } from "vitest";
import { cleanName, MAX_MESSAGE_LENGTH, MAX_NAME_LENGTH, validateOutgoing } from "../src/core/delivery";

describe("validateOutgoing", () => {
  it("validateOutgoing_TrailingBlankLines_Trimmed", () => {
    expect(validateOutgoing("hi\n  \n")).toEqual({ ok: true, text: "hi" });
  });
  it("validateOutgoing_EmptyOrBlank_Refused", () => {
    expect(validateOutgoing("")).toEqual({ ok: false, reason: "empty" });
    expect(validateOutgoing(" \n\t")).toEqual({ ok: false, reason: "empty" });
  });
  it("validateOutgoing_OverTheLimit_Refused", () => {
    expect(validateOutgoing("x".repeat(MAX_MESSAGE_LENGTH)).ok).toBe(true);
    expect(validateOutgoing("x".repeat(MAX_MESSAGE_LENGTH + 1))).toEqual({ ok: false, reason: "too-long" });
  });
});

describe("cleanName", () => {
  it.each([
    ["plain", "Ana", "Ana"],
    ["spaces collapsed and trimmed", "  Ana   María \n", "Ana María"],
    ["any script", "Анна 李 😀", "Анна 李 😀"],
    ["bidi override removed", "\u202Egnp.exe", "gnp.exe"],
    ["zero-width characters removed", "A\u200Bn\u200Da\uFEFF", "Ana"],
    ["control characters removed", "A\u0000n\u0007a", "Ana"],
    ["markup stays text", "<b>x</b>", "<b>x</b>"],
    ["only invisible", "\u200B\u200E", ""],
  ])("cleanName_%s", (_name, input, expected) => {
    expect(cleanName(input)).toBe(expected);
  });

  it("cleanName_Long_CutAtTheLimitWithoutHalfACharacter", () => {
    const name = cleanName("😀".repeat(MAX_NAME_LENGTH + 5));
    expect([...name]).toHaveLength(MAX_NAME_LENGTH);
    expect(name).toBe("😀".repeat(MAX_NAME_LENGTH));
  });
});
