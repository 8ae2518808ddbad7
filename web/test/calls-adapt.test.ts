import { describe, expect, it } from "vitest";
import {
  AUDIO_BPS,
  DEFAULT_SOURCE,
  LOSS_ESTIMATE_MAX_BPS,
  MAX_VIDEO_BPS,
  MIN_BITS_PER_PIXEL,
  PROBE_EVERY,
  START_UPLINK_BPS,
  WARMUP_POLLS,
  adaptCall,
  adaptVideo,
  initialAdapt,
  lossEstimate,
  PAUSE_BELOW_BPS,
  RESUME_ABOVE_BPS,
  bitrates,
  callFigures,
  decideVideo,
  isSpeaking,
  lossBetween,
  mediaProblem,
  resolutionScale,
  type AdaptState,
  type LinkReading,
} from "../src/core/calls";

const good = { availableBps: 5_000_000, rttMs: 30, loss: 0, receivers: 1 };

describe("decideVideo", () => {
  it("ampleLink_OneReceiver_FullResolutionAtMax", () => {
    expect(decideVideo(good, false)).toEqual({ active: true, maxBitrate: MAX_VIDEO_BPS, scaleResolutionDownBy: 1 });
  });

  it("moreReceivers_ShareOfTheMeasuredUplinkEach", () => {
    const five = decideVideo({ ...good, receivers: 5, uplinkBps: 2_000_000 }, false);
    expect(five.maxBitrate).toBe(2_000_000 / 5 - AUDIO_BPS);
    // 336 kbit/s still gives the default 640×360 camera its full resolution.
    expect(five.scaleResolutionDownBy).toBe(1);
    const two = decideVideo({ ...good, receivers: 2, uplinkBps: 2_000_000 }, false);
    expect(two.maxBitrate).toBe(1_000_000 - AUDIO_BPS);
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

  it("nothingMeasuredYet_StartingUplinkSharedByReceivers", () => {
    expect(decideVideo({ availableBps: null, rttMs: null, loss: null, receivers: 2 }, false).maxBitrate).toBe(
      Math.min(MAX_VIDEO_BPS, START_UPLINK_BPS / 2 - AUDIO_BPS),
    );
  });

  it.each([NaN, -5, Infinity])("strangeInput_%s_NoThrow_ValidLimit", (v) => {
    const d = decideVideo({ availableBps: v, rttMs: v, loss: v, receivers: v, uplinkBps: v, source: { width: v, height: v, fps: v } }, false);
    expect(d.maxBitrate).toBeGreaterThanOrEqual(PAUSE_BELOW_BPS);
    expect(d.scaleResolutionDownBy).toBeGreaterThanOrEqual(1);
    expect(d.scaleResolutionDownBy).toBeLessThanOrEqual(4);
  });
});

describe("resolutionScale", () => {
  const cam = DEFAULT_SOURCE; // 640×360 at 24
  const needFull = cam.width * cam.height * cam.fps * MIN_BITS_PER_PIXEL;

  it("defaultCamera_FullResolutionFromAFewHundredKbit", () => {
    // Was ÷2 (320×180) below 1 Mbit/s whatever the camera gave: a 640×360 camera at 600 kbit/s sent 320×180.
    expect(resolutionScale(600_000, cam)).toBe(1);
    expect(resolutionScale(needFull, cam)).toBe(1);
    expect(resolutionScale(needFull - 1, cam)).toBe(1.5);
  });

  it("lowerBitrate_SmallerPicture_NeverBelowAQuarter", () => {
    expect(resolutionScale(needFull / 4, cam)).toBe(2);
    expect(resolutionScale(needFull / 9, cam)).toBe(3);
    expect(resolutionScale(1, cam)).toBe(4);
  });

  it("largerSource_ScreenOr720p_NeedsMoreForFullSize", () => {
    const hd = { width: 1280, height: 720, fps: 30 };
    expect(resolutionScale(600_000, hd)).toBe(2);
    expect(resolutionScale(MAX_VIDEO_BPS, hd)).toBe(1);
  });

  it("unknownSource_DefaultCamera", () => {
    expect(resolutionScale(600_000, null)).toBe(resolutionScale(600_000, cam));
    expect(resolutionScale(600_000, { width: 0, height: -1, fps: NaN })).toBe(resolutionScale(600_000, cam));
  });
});

describe("lossEstimate", () => {
  it("heavyLoss_DownByHalfTheLoss_LightLossHolds_NoLossGrows", () => {
    expect(lossEstimate(1_000_000, 0.2)).toBe(900_000);
    expect(lossEstimate(1_000_000, 0.05)).toBe(1_000_000);
    expect(lossEstimate(1_000_000, 0)).toBe(1_050_000);
    expect(lossEstimate(1_000_000, null)).toBe(1_050_000);
  });

  it("staysWithinBounds", () => {
    expect(lossEstimate(LOSS_ESTIMATE_MAX_BPS, 0)).toBe(LOSS_ESTIMATE_MAX_BPS);
    expect(lossEstimate(PAUSE_BELOW_BPS, 1)).toBe(PAUSE_BELOW_BPS);
    expect(lossEstimate(1_000_000, NaN)).toBe(1_050_000);
  });
});

describe("adaptCall", () => {
  const step = (states: Map<string, AdaptState>, readings: Map<string, LinkReading>) => {
    const out = adaptCall(states, readings, DEFAULT_SOURCE);
    for (const [peer, r] of out) states.set(peer, r.state);
    return out;
  };
  const warm = (states: Map<string, AdaptState>, readings: Map<string, LinkReading>) => {
    for (let i = 0; i < WARMUP_POLLS; i++) step(states, readings);
  };

  it("measuredLinks_EachFollowsItsOwnCapacity_UplinkSharedByReceivers", () => {
    const states = new Map<string, AdaptState>();
    const readings = new Map<string, LinkReading>([
      ["a", { availableBps: 3_000_000, rttMs: 20, loss: 0 }],
      ["b", { availableBps: 400_000, rttMs: 20, loss: 0 }],
    ]);
    warm(states, readings);
    const out = step(states, readings);
    expect(out.get("a")!.limit.maxBitrate).toBe(MAX_VIDEO_BPS);
    expect(out.get("b")!.limit.maxBitrate).toBe(400_000 - AUDIO_BPS);
    expect(out.get("a")!.capacityBps).toBe(3_000_000);
  });

  it("moreReceiversOnTheSameUplink_LessEach", () => {
    // Three links whose estimates add up to 1.2 Mbit/s of uplink: 400 kbit/s each less audio.
    const states = new Map<string, AdaptState>();
    const three = new Map<string, LinkReading>(["a", "b", "c"].map((p) => [p, { availableBps: 400_000, rttMs: 20, loss: 0 }]));
    warm(states, three);
    const out = step(states, three);
    for (const r of out.values()) expect(r.limit.maxBitrate).toBe(400_000 - AUDIO_BPS);
  });

  it("warmUp_StartingUplinkSplitAmongReceivers_EstimateIgnored", () => {
    const states = new Map<string, AdaptState>();
    const readings = new Map<string, LinkReading>(["a", "b", "c", "d"].map((p) => [p, { availableBps: 50_000, rttMs: 20, loss: 0 }]));
    const out = step(states, readings);
    for (const r of out.values()) expect(r.limit).toMatchObject({ active: true, maxBitrate: START_UPLINK_BPS / 4 - AUDIO_BPS });
  });

  it("noEstimateFromTheBrowser_Firefox_LossBasedEstimateFallsWithLoss_AndGrowsBack", () => {
    const states = new Map<string, AdaptState>();
    const lossy = new Map<string, LinkReading>([["a", { availableBps: null, rttMs: 30, loss: 0.3 }]]);
    warm(states, lossy);
    const first = step(states, lossy).get("a")!;
    let last = first;
    for (let i = 0; i < 20; i++) last = step(states, lossy).get("a")!;
    // Sustained 30 % loss: video paused, audio goes on.
    expect(last.limit.active).toBe(false);
    expect(last.capacityBps).toBeLessThan(first.capacityBps);
    // The loss stops: the paused link's probes find it and the estimate climbs until video resumes.
    const clean = new Map<string, LinkReading>([["a", { availableBps: null, rttMs: 30, loss: 0 }]]);
    let resumedAfter = -1;
    for (let i = 0; i < 120 && resumedAfter < 0; i++) if (step(states, clean).get("a")!.limit.active && !states.get("a")!.paused) resumedAfter = i;
    expect(resumedAfter).toBeGreaterThan(0);
    for (let i = 0; i < 60; i++) last = step(states, clean).get("a")!;
    expect(last.limit).toEqual({ active: true, maxBitrate: MAX_VIDEO_BPS, scaleResolutionDownBy: 1 });
  });

  it("noEstimate_NoLoss_ThreeReceivers_StartsAtAShareAndGrows", () => {
    const states = new Map<string, AdaptState>();
    const readings = new Map<string, LinkReading>(["a", "b", "c"].map((p) => [p, { availableBps: null, rttMs: 30, loss: 0 }]));
    warm(states, readings);
    const first = step(states, readings).get("a")!;
    expect(first.capacityBps).toBe(Math.round((START_UPLINK_BPS / 3) * 1.05));
    let last = first;
    for (let i = 0; i < 30; i++) last = step(states, readings).get("a")!;
    expect(last.limit.maxBitrate).toBeGreaterThan(first.limit.maxBitrate);
  });

  it("noEstimate_OneReceiver_StartWithinTheEstimateBounds", () => {
    const states = new Map<string, AdaptState>();
    const out = step(states, new Map([["a", { availableBps: null, rttMs: null, loss: null }]]));
    expect(out.get("a")!.capacityBps).toBe(LOSS_ESTIMATE_MAX_BPS);
    expect(out.get("a")!.limit.maxBitrate).toBe(MAX_VIDEO_BPS);
  });

  it("emptyCall_NothingDecided", () => {
    expect(adaptCall(new Map(), new Map(), null).size).toBe(0);
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
    expect(more.limits.at(-1)).toEqual({ active: true, maxBitrate: PAUSE_BELOW_BPS, scaleResolutionDownBy: resolutionScale(PAUSE_BELOW_BPS, null) });
    // The link recovers: video back at full rate.
    const back = run([good, good, good, good], more.state);
    expect(back.limits.at(-1)).toEqual({ active: true, maxBitrate: MAX_VIDEO_BPS, scaleResolutionDownBy: 1 });
    expect(back.state.paused).toBe(false);
  });
});
