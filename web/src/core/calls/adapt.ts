/**
 * Bandwidth adaptation of a call: what one sender's video may use on each link, decided from the
 * measured capacity of that link, of the whole uplink, and the number of people it sends to (a mesh
 * sends one copy per receiver over the same uplink).
 *
 * Capacity of a link: the browser's own estimate (`availableOutgoingBitrate` of the selected
 * candidate pair, Chromium), or, where the browser reports none (Firefox), a loss-based estimate
 * kept here from what the receiver reports lost (`lossEstimate`, the rule of Google's congestion
 * control: down by half the loss above 10 %, up 5 % a second below 2 %). Capacity of the uplink: the
 * sum of the links' capacities (each link's estimate is its share of the uplink they all cross),
 * shared equally among the receivers. Until the links are measured (the first `WARMUP_POLLS`
 * seconds: the estimate starts low and grows with what is sent) the uplink is taken as
 * `START_UPLINK_BPS`.
 *
 * Audio is never capped: its share is set aside first, and below `PAUSE_BELOW_BPS` video pauses so
 * that audio goes on; it comes back above `RESUME_ABOVE_BPS` (the gap keeps it from flapping).
 * Resolution follows the bitrate and what the camera or screen gives: the largest picture that gets
 * at least `MIN_BITS_PER_PIXEL` (a smaller sharp picture rather than a large blurred one).
 */

/** Set aside for audio (Opus at its default rate, with headers). */
export const AUDIO_BPS = 64_000;
/** The uplink assumed until it is measured, split among the receivers. */
export const START_UPLINK_BPS = 2_500_000;
/** Most video per link (a 720p picture at its best). */
export const MAX_VIDEO_BPS = 1_500_000;
export const PAUSE_BELOW_BPS = 100_000;
export const RESUME_ABOVE_BPS = 150_000;
/** Fewest bits a pixel of a frame gets before the resolution is lowered (VP8/H.264 at these sizes). */
export const MIN_BITS_PER_PIXEL = 0.05;
/** The resolution divisors tried, largest picture first. */
export const SCALES = [1, 1.5, 2, 3, 4] as const;
const MAX_SCALE = 4;
/** What the default camera gives (ui/call.ts asks for 640×360 at 24 frames a second). */
export const DEFAULT_SOURCE: VideoSource = { width: 640, height: 360, fps: 24 };

export interface VideoSource {
  width: number;
  height: number;
  fps: number;
}

export interface LinkMeasure {
  /** bit/s the browser's congestion control estimates it can send on this link; null when not reported (Firefox). */
  availableBps: number | null;
  /** ms, null when unknown. */
  rttMs: number | null;
  /** Fraction of the packets the other side lost lately (0..1), null when unknown. */
  loss: number | null;
  /** People this side sends video to. */
  receivers: number;
  /** Measured capacity of the uplink all the links share (bit/s), null when unknown. */
  uplinkBps?: number | null;
  /** What the sent track gives (its settings); null or absent: `DEFAULT_SOURCE`. */
  source?: VideoSource | null;
}

export interface VideoLimit {
  /** Video encodings on or off (paused). */
  active: boolean;
  maxBitrate: number;
  /** 1 full resolution, up to 4 (a quarter of the width and height). */
  scaleResolutionDownBy: number;
}

const finite = (v: number | null | undefined): v is number => typeof v === "number" && Number.isFinite(v);

/** The smallest divisor (largest picture) for which `cap` gives each pixel `MIN_BITS_PER_PIXEL`. */
export function resolutionScale(cap: number, source: VideoSource | null | undefined): number {
  const s = source && finite(source.width) && finite(source.height) && source.width > 0 && source.height > 0 ? source : DEFAULT_SOURCE;
  const fps = finite(s.fps) && s.fps > 0 ? Math.min(s.fps, 60) : DEFAULT_SOURCE.fps;
  for (const scale of SCALES) if (((s.width * s.height) / (scale * scale)) * fps * MIN_BITS_PER_PIXEL <= cap) return scale;
  return MAX_SCALE;
}

/** The video limit for one link, given the previous one (`paused` keeps the hysteresis). */
export function decideVideo(m: LinkMeasure, wasPaused: boolean): VideoLimit {
  const receivers = finite(m.receivers) ? Math.max(1, Math.floor(m.receivers)) : 1;
  const uplink = finite(m.uplinkBps) ? Math.max(0, m.uplinkBps) : START_UPLINK_BPS;
  let cap = Math.min(MAX_VIDEO_BPS, uplink / receivers - AUDIO_BPS);
  if (finite(m.availableBps)) cap = Math.min(cap, m.availableBps - AUDIO_BPS);
  cap = Math.max(0, cap);
  if (finite(m.loss) && m.loss > 0.1) cap *= 0.5;
  else if (finite(m.loss) && m.loss > 0.03) cap *= 0.8;
  if (finite(m.rttMs) && m.rttMs > 400) cap *= 0.7;
  cap = Math.round(cap);
  const active = wasPaused ? cap >= RESUME_ABOVE_BPS : cap >= PAUSE_BELOW_BPS;
  const maxBitrate = Math.max(cap, PAUSE_BELOW_BPS);
  return { active, maxBitrate, scaleResolutionDownBy: resolutionScale(maxBitrate, m.source) };
}

/** Polls (one a second) before a link's estimate is trusted: the browser's estimate starts low and grows with the media sent. */
export const WARMUP_POLLS = 5;
/** Paused this many polls, video is tried again at the lowest rate for `PROBE_POLLS`: with nothing sent, the estimate cannot grow. */
export const PROBE_EVERY = 10;
export const PROBE_POLLS = 3;
/** Bounds of the loss-based estimate: no lower than a paused link's probe, no higher than a link can use. */
export const LOSS_ESTIMATE_MIN_BPS = PAUSE_BELOW_BPS;
export const LOSS_ESTIMATE_MAX_BPS = MAX_VIDEO_BPS + AUDIO_BPS;

export interface AdaptState {
  polls: number;
  paused: boolean;
  pausedPolls: number;
  probing: number;
  /** The loss-based estimate of the link (bit/s), used where the browser gives none; null until first measured. */
  estimateBps: number | null;
}

export const initialAdapt = (): AdaptState => ({ polls: 0, paused: false, pausedPolls: 0, probing: 0, estimateBps: null });

/** Growth of the loss-based estimate per second without loss; while a paused link probes, faster. */
export const LOSS_ESTIMATE_UP = 1.05;
export const LOSS_ESTIMATE_PROBE_UP = 1.25;

/**
 * One second of the loss-based estimate: down by half the loss above 10 %, held from 2 % to 10 %, up
 * by `up` below 2 % (and when nothing is reported), within the bounds.
 */
export function lossEstimate(previous: number, loss: number | null, up = LOSS_ESTIMATE_UP): number {
  let next = previous;
  if (finite(loss) && loss > 0.1) next = previous * (1 - 0.5 * Math.min(1, loss));
  else if (!finite(loss) || loss < 0.02) next = previous * up;
  return Math.round(Math.min(LOSS_ESTIMATE_MAX_BPS, Math.max(LOSS_ESTIMATE_MIN_BPS, next)));
}

/**
 * One step of a link's adaptation (called once a second): `decideVideo` on the measure, after a
 * warm-up that ignores the estimate, and, while paused, a short probe now and then so that a link
 * that recovered is noticed (a paused sender sends nothing, so its estimate would never rise).
 */
export function adaptVideo(state: AdaptState, m: LinkMeasure): { limit: VideoLimit; state: AdaptState } {
  const polls = state.polls + 1;
  const estimateBps = state.estimateBps;
  if (polls <= WARMUP_POLLS) {
    const limit = decideVideo({ ...m, availableBps: null, loss: null, uplinkBps: null }, false);
    return { limit, state: { ...initialAdapt(), polls, estimateBps } };
  }
  if (state.probing > 0) {
    return {
      limit: { active: true, maxBitrate: PAUSE_BELOW_BPS, scaleResolutionDownBy: resolutionScale(PAUSE_BELOW_BPS, m.source) },
      state: { polls, paused: true, pausedPolls: state.pausedPolls, probing: state.probing - 1, estimateBps },
    };
  }
  const limit = decideVideo(m, state.paused);
  if (limit.active) return { limit, state: { polls, paused: false, pausedPolls: 0, probing: 0, estimateBps } };
  const pausedPolls = state.pausedPolls + 1;
  const probing = pausedPolls % PROBE_EVERY === 0 ? PROBE_POLLS : 0;
  return { limit, state: { polls, paused: true, pausedPolls, probing, estimateBps } };
}

/** What one second of getStats says of a link (core/calls/figures: `callFigures`, `lossBetween`). */
export interface LinkReading {
  availableBps: number | null;
  rttMs: number | null;
  /** Fraction the receiver reports lost of what this side sends. */
  loss: number | null;
}

/**
 * One second of the whole call's adaptation: each link's capacity (the browser's estimate, else the
 * loss-based one, which starts from an equal share of `START_UPLINK_BPS`), the uplink as their sum,
 * then `adaptVideo` per link with the receivers counted. `source`: what this side sends now.
 */
export function adaptCall(
  states: ReadonlyMap<string, AdaptState>,
  readings: ReadonlyMap<string, LinkReading>,
  source: VideoSource | null,
): Map<string, { limit: VideoLimit; state: AdaptState; capacityBps: number }> {
  const receivers = Math.max(1, readings.size);
  const capacities = new Map<string, { capacityBps: number; state: AdaptState }>();
  for (const [peer, r] of readings) {
    const state = states.get(peer) ?? initialAdapt();
    if (finite(r.availableBps) && r.availableBps >= 0) {
      capacities.set(peer, { capacityBps: r.availableBps, state: { ...state, estimateBps: null } });
      continue;
    }
    const start = state.estimateBps ?? Math.min(LOSS_ESTIMATE_MAX_BPS, START_UPLINK_BPS / receivers);
    // While warming up, or paused between probes, the link sends little: its loss says nothing of
    // what it could carry. A probe that gets through without loss raises the estimate faster.
    const estimateBps =
      state.polls < WARMUP_POLLS || (state.paused && state.probing === 0)
        ? start
        : lossEstimate(start, r.loss, state.probing > 0 ? LOSS_ESTIMATE_PROBE_UP : LOSS_ESTIMATE_UP);
    capacities.set(peer, { capacityBps: estimateBps, state: { ...state, estimateBps } });
  }
  let uplinkBps = 0;
  for (const c of capacities.values()) uplinkBps += c.capacityBps;
  const out = new Map<string, { limit: VideoLimit; state: AdaptState; capacityBps: number }>();
  for (const [peer, r] of readings) {
    const c = capacities.get(peer)!;
    const measured = finite(r.availableBps);
    const step = adaptVideo(c.state, {
      availableBps: c.capacityBps,
      rttMs: r.rttMs,
      // The loss-based estimate has taken the loss into account already.
      loss: measured ? r.loss : null,
      receivers,
      uplinkBps,
      source,
    });
    out.set(peer, { ...step, capacityBps: c.capacityBps });
  }
  return out;
}
