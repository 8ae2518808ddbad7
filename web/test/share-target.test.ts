import { describe, expect, it } from "vitest";
import { MAX_MESSAGE_LENGTH, sharedDraft } from "../src/core/delivery";

const q = (s: string) => new URLSearchParams(s);

describe("sharedDraft (the manifest's share target)", () => {
  it("textAndLink_Joined_LinkNotRepeated_TitleOnlyWhenAlone", () => {
    expect(sharedDraft(q("share-text=look%20at%20this&share-url=https%3A%2F%2Fexample.org%2Fa"))).toBe("look at this https://example.org/a");
    expect(sharedDraft(q("share-text=see%20https%3A%2F%2Fexample.org&share-url=https%3A%2F%2Fexample.org"))).toBe("see https://example.org");
    expect(sharedDraft(q("share-title=Only%20a%20title"))).toBe("Only a title");
    expect(sharedDraft(q("share-title=T&share-url=https%3A%2F%2Fx.example"))).toBe("https://x.example");
  });

  it("nothingShared_Null", () => {
    expect(sharedDraft(q(""))).toBeNull();
    expect(sharedDraft(q("group&share-text=%20%20"))).toBeNull();
  });

  it("hostileOrHuge_ControlCharactersGone_LineBreaksKept_CutToTheMessageLimit", () => {
    expect(sharedDraft(q("share-text=a%E2%80%AEb%00c%0Ad"))).toBe("abc\nd");
    const huge = sharedDraft(q(`share-text=${"😀".repeat(MAX_MESSAGE_LENGTH + 50)}`))!;
    expect(huge.length).toBe(MAX_MESSAGE_LENGTH);
    expect(huge.endsWith("😀")).toBe(true);
    const odd = sharedDraft(q(`share-text=x${"😀".repeat(MAX_MESSAGE_LENGTH)}`))!;
    expect(odd.length).toBe(MAX_MESSAGE_LENGTH - 1);
    expect(odd.endsWith("😀")).toBe(true);
  });
});
