import { describe, expect, it } from "vitest";
import { TypingReceiver, TypingSender, TYPING_RESEND_MS, TYPING_SHOW_MS } from "../src/core/typing";

describe("typing", () => {
  it("TypingSender_Keystrokes_ThrottledOnThenOff", () => {
    const s = new TypingSender();
    expect(s.input(0, false)).toBe(true);
    expect(s.input(100, false)).toBeNull();
    expect(s.input(TYPING_RESEND_MS, false)).toBe(true);
    expect(s.stop()).toBe(false);
    expect(s.stop()).toBeNull();
    expect(s.input(TYPING_RESEND_MS + 1, false)).toBe(true);
    expect(s.input(TYPING_RESEND_MS + 2, true)).toBe(false);
  });

  it("TypingReceiver_ShowsThenTimesOut", () => {
    const r = new TypingReceiver();
    expect(r.isTyping(0)).toBe(false);
    r.signal(true, 1000);
    expect(r.isTyping(1000 + TYPING_SHOW_MS - 1)).toBe(true);
    expect(r.recheckIn(1000)).toBe(TYPING_SHOW_MS);
    expect(r.isTyping(1000 + TYPING_SHOW_MS)).toBe(false);
    r.signal(true, 5000);
    r.messageArrived();
    expect(r.isTyping(5001)).toBe(false);
    r.signal(true, 6000);
    r.signal(false, 6001);
    expect(r.isTyping(6002)).toBe(false);
  });
});
