import { describe, expect, it } from "vitest";
import {
  AUDIO_BPS,
  MAX_VIDEO_BPS,
  PROBE_EVERY,
  WARMUP_POLLS,
  adaptVideo,
  initialAdapt,
  PAUSE_BELOW_BPS,
  RESUME_ABOVE_BPS,
  TOTAL_VIDEO_BPS,
  bitrates,
  callFigures,
  decideVideo,
  isSpeaking,
  lossBetween,
  mediaProblem,
} from "../src/core/calls";

const good = { availableBps: 5_000_000, rttMs: 30, loss: 0, receivers: 1 };

describe("decideVideo", () => {
  it("ampleLink_OneReceiver_FullResolutionAtMax", () => {
    expect(decideVideo(good, false)).toEqual({ active: true, maxBitrate: MAX_VIDEO_BPS, scaleResolutionDownBy: 1 });
  });

  it("moreReceivers_ShareOfTheUplinkEach", () => {
    const five = decideVideo({ ...good, receivers: 5 }, false);
    expect(five.maxBitrate).toBe(TOTAL_VIDEO_BPS / 5);
    expect(five.scaleResolutionDownBy).toBe(2);
  });

  it("measuredCapacity_AudioSetAsideFirst", () => {
    expect(decideVideo({ ...good, availableBps: 600_000 }, false).maxBitrate).toBe(600_000 - AUDIO_BPS);
  });

  it("lossAndLongRoundTrip_LowerTheCap", () => {
    const base = decideVideo({ ...good, availableBps: 1_000_000 }, false).maxBitrate;
    expect(decideVideo({ ...good, availableBps: 1_000_000, loss: 0.2 }, false).maxBitrate).toBe(Math.round(base * 0.5));
    expect(decideVideo({ ...good, availableBps: 1_000_000, rttMs: 800 }, false).maxBitrate).toBe(Math.round(base * 0.7));
  });

  it("belowThreshold_VideoPauses_AudioUntouched", () => {
    const d = decideVideo({ ...good, availableBps: AUDIO_BPS + PAUSE_BELOW_BPS - 1 }, false);
    expect(d.active).toBe(false);
  });

  it("paused_StaysPausedUntilAboveResumeLevel_ThenRecovers", () => {
    expect(decideVideo({ ...good, availableBps: AUDIO_BPS + PAUSE_BELOW_BPS + 10 }, true).active).toBe(false);
    expect(decideVideo({ ...good, availableBps: AUDIO_BPS + RESUME_ABOVE_BPS }, true).active).toBe(true);
    expect(decideVideo(good, true)).toEqual({ active: true, maxBitrate: MAX_VIDEO_BPS, scaleResolutionDownBy: 1 });
  });

  it("unknownCapacity_Firefox_DefaultsByReceivers", () => {
    expect(decideVideo({ availableBps: null, rttMs: null, loss: null, receivers: 2 }, false).maxBitrate).toBe(Math.min(MAX_VIDEO_BPS, TOTAL_VIDEO_BPS / 2));
  });

  it.each([NaN, -5, Infinity])("strangeInput_%s_NoThrow_ValidLimit", (v) => {
    const d = decideVideo({ availableBps: v, rttMs: v, loss: v, receivers: v }, false);
    expect(d.maxBitrate).toBeGreaterThanOrEqual(PAUSE_BELOW_BPS);
    expect([1, 2, 4]).toContain(d.scaleResolutionDownBy);
  });
});

describe("callFigures", () => {
  const report = (t: number, bytes: number, lost: number, got: number, level: number) =>
    new Map<string, unknown>([
      [
        "v",
        {
          id: "v",
          type: "inbound-rtp",
          kind: "video",
          timestamp: t,
          bytesReceived: bytes,
          packetsLost: lost,
          packetsReceived: got,
          framesDecoded: t / 40,
          framesPerSecond: 25,
          frameWidth: 640,
          frameHeight: 480,
          jitter: 0.012,
        },
      ],
      [
        "a",
        {
          id: "a",
          type: "inbound-rtp",
          kind: "audio",
          timestamp: t,
          bytesReceived: 100,
          packetsReceived: 10,
          packetsLost: 0,
          audioLevel: level,
          jitter: 0.004,
        },
      ],
      ["o", { id: "o", type: "outbound-rtp", kind: "video", timestamp: t, bytesSent: bytes * 2 }],
      ["p", { id: "p", type: "candidate-pair", state: "succeeded", nominated: true, currentRoundTripTime: 0.05, availableOutgoingBitrate: 900_000 }],
      ["r", { id: "r", type: "remote-inbound-rtp", fractionLost: 0.02 }],
      ["junk", { nothing: true }],
    ]);

  it("reads_VideoAudioPathAndLoss", () => {
    const f = callFigures(report(1000, 10_000, 0, 100, 0.3));
    expect(f).toMatchObject({
      framesDecoded: 25,
      framesPerSecond: 25,
      width: 640,
      height: 480,
      jitterMs: 12,
      audioLevel: 0.3,
      rttMs: 50,
      availableBps: 900_000,
      sentLoss: 0.02,
    });
    expect(isSpeaking(f)).toBe(true);
    expect(isSpeaking(callFigures(report(1000, 0, 0, 0, 0)))).toBe(false);
  });

  it("bitratesAndLoss_BetweenReadings", () => {
    const a = callFigures(report(1000, 10_000, 0, 100, 0));
    const b = callFigures(report(2000, 20_000, 10, 190, 0));
    expect(bitrates(a, b)).toEqual({ sendBps: 160_000, receiveBps: 80_000 });
    expect(lossBetween(a, b)).toBeCloseTo(10 / 100);
    expect(bitrates(b, b)).toEqual({ sendBps: 0, receiveBps: 0 });
  });

  it("emptyOrGarbage_NoFigures", () => {
    expect(callFigures([null, 5, "x", { id: 1 }])).toMatchObject({ framesDecoded: 0, audioLevel: null, rttMs: null });
  });
});

describe("mediaProblem", () => {
  it.each([
    ["NotAllowedError", true, true, "denied"],
    ["SecurityError", true, true, "denied"],
    ["NotFoundError", true, true, "no-device"],
    ["OverconstrainedError", true, true, "no-device"],
    ["NotReadableError", true, true, "in-use"],
    ["AbortError", true, true, "in-use"],
    ["Weird", true, true, "other"],
    [null, false, true, "insecure"],
    ["NotAllowedError", true, false, "insecure"],
  ] as const)("%s_secure%s_devices%s_%s", (name, secure, devices, want) => {
    expect(mediaProblem(name, secure, devices)).toBe(want);
  });
});

describe("adaptVideo", () => {
  const slow = { availableBps: 80_000, rttMs: 50, loss: 0.2, receivers: 1 };
  const run = (measures: (typeof good)[], from = initialAdapt()) => {
    let state = from;
    const limits = [];
    for (const m of measures) {
      const step = adaptVideo(state, m);
      state = step.state;
      limits.push(step.limit);
    }
    return { state, limits };
  };

  it("warmUp_EstimateIgnored_VideoOn", () => {
    const { limits } = run(Array(WARMUP_POLLS).fill(slow));
    expect(limits.every((l) => l.active)).toBe(true);
  });

  it("slowLinkAfterWarmUp_Pauses_ThenProbes_ThenRecoversWhenLinkDoes", () => {
    const { state, limits } = run(Array(WARMUP_POLLS + 1).fill(slow));
    expect(limits.at(-1)!.active).toBe(false);
    expect(state.paused).toBe(true);
    // Still slow: paused, with a short probe every PROBE_EVERY polls.
    const more = run(Array(PROBE_EVERY).fill(slow), state);
    expect(more.limits.map((l) => l.active)).toEqual([...Array<boolean>(PROBE_EVERY - 1).fill(false), true]);
    expect(more.limits.at(-1)).toEqual({ active: true, maxBitrate: PAUSE_BELOW_BPS, scaleResolutionDownBy: 4 });
    // The link recovers: video back at full rate.
    const back = run([good, good, good, good], more.state);
    expect(back.limits.at(-1)).toEqual({ active: true, maxBitrate: MAX_VIDEO_BPS, scaleResolutionDownBy: 1 });
    expect(back.state.paused).toBe(false);
  });
});
