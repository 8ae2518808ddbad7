// The call figures as the quality indicator words them (ui/quality.ts formatCallFigures).
import { describe, expect, it } from "vitest";
import { formatCallFigures, type CallLinkFigures } from "../src/ui/quality";

const video: CallLinkFigures = { sendBps: 1_250_000, receiveBps: 640_000, loss: 0.012, jitterMs: 4.4, width: 640, height: 360, fps: 23.6 };

describe("formatCallFigures", () => {
  it("video_ShortLineAndSentence_EveryFigure", () => {
    expect(formatCallFigures(video, true)).toBe("Call ↑ 1.3 Mbit/s ↓ 640.0 kbit/s · loss 1.2 % · jitter 4 ms · 640×360 24 fps");
    expect(formatCallFigures(video, false)).toBe(
      "In the call: sending 1.3 Mbit/s, receiving 640.0 kbit/s; 1.2 % of it lost, jitter 4 ms; video received at 640×360, 24 frames a second.",
    );
  });

  it("voiceOnly_SaysNoVideo", () => {
    const voice = { ...video, width: null, height: null, fps: null };
    expect(formatCallFigures(voice, true)).toMatch(/· no video$/);
    expect(formatCallFigures(voice, false)).toMatch(/; no video\.$/);
  });

  it("strangeFigures_StillReadable", () => {
    const odd = { sendBps: NaN, receiveBps: -1, loss: 7, jitterMs: null, width: 0, height: 360, fps: NaN };
    expect(formatCallFigures(odd, true)).toBe("Call ↑ 0 bit/s ↓ 0 bit/s · loss 100.0 % · jitter 0 ms · no video");
    expect(formatCallFigures({ ...odd, loss: NaN, jitterMs: Infinity }, true)).toBe("Call ↑ 0 bit/s ↓ 0 bit/s · loss 0.0 % · jitter 0 ms · no video");
  });
});
