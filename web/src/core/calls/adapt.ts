/**
 * Bandwidth adaptation of a call: what one sender's video may use on one link, decided from that
 * link's measured capacity (`availableOutgoingBitrate`, round trip, loss, from getStats) and the
 * number of people it sends to (a mesh sends one copy per receiver over the same uplink). Audio is
 * never capped: its share is set aside first, and below `PAUSE_BELOW_BPS` video pauses so that audio
 * goes on; it comes back above `RESUME_ABOVE_BPS` (the gap keeps it from flapping).
 */

/** Set aside for audio (Opus at its default rate, with headers). */
export const AUDIO_BPS = 64_000;
/** Most a sender uploads for video in all, split among the receivers. */
export const TOTAL_VIDEO_BPS = 2_500_000;
/** Most video per link (the default 720p camera at its best). */
export const MAX_VIDEO_BPS = 1_500_000;
export const PAUSE_BELOW_BPS = 100_000;
export const RESUME_ABOVE_BPS = 150_000;

export interface LinkMeasure {
  /** bit/s the browser's congestion control estimates it can send on this link; null when not reported (Firefox). */
  availableBps: number | null;
  /** ms, null when unknown. */
  rttMs: number | null;
  /** Fraction of the packets the other side lost lately (0..1), null when unknown. */
  loss: number | null;
  /** People this side sends video to. */
  receivers: number;
}

export interface VideoLimit {
  /** Video encodings on or off (paused). */
  active: boolean;
  maxBitrate: number;
  /** 1 full resolution, 2 half, 4 quarter. */
  scaleResolutionDownBy: number;
}

/** The video limit for one link, given the previous one (`paused` keeps the hysteresis). */
export function decideVideo(m: LinkMeasure, wasPaused: boolean): VideoLimit {
  const receivers = Number.isFinite(m.receivers) ? Math.max(1, Math.floor(m.receivers)) : 1;
  let cap = Math.min(MAX_VIDEO_BPS, TOTAL_VIDEO_BPS / receivers);
  if (m.availableBps !== null && Number.isFinite(m.availableBps)) cap = Math.min(cap, Math.max(0, m.availableBps - AUDIO_BPS));
  if (m.loss !== null && m.loss > 0.1) cap *= 0.5;
  else if (m.loss !== null && m.loss > 0.03) cap *= 0.8;
  if (m.rttMs !== null && m.rttMs > 400) cap *= 0.7;
  cap = Math.round(cap);
  const active = wasPaused ? cap >= RESUME_ABOVE_BPS : cap >= PAUSE_BELOW_BPS;
  const scaleResolutionDownBy = cap >= 1_000_000 ? 1 : cap >= 400_000 ? 2 : 4;
  return { active, maxBitrate: Math.max(cap, PAUSE_BELOW_BPS), scaleResolutionDownBy };
}

/** Polls (one a second) before a link's estimate is trusted: the browser's estimate starts low and grows with the media sent. */
export const WARMUP_POLLS = 5;
/** Paused this many polls, video is tried again at the lowest rate for `PROBE_POLLS`: with nothing sent, the estimate cannot grow. */
export const PROBE_EVERY = 10;
export const PROBE_POLLS = 3;

export interface AdaptState {
  polls: number;
  paused: boolean;
  pausedPolls: number;
  probing: number;
}

export const initialAdapt = (): AdaptState => ({ polls: 0, paused: false, pausedPolls: 0, probing: 0 });

/**
 * One step of a link's adaptation (called once a second): `decideVideo` on the measure, after a
 * warm-up that ignores the estimate, and, while paused, a short probe now and then so that a link
 * that recovered is noticed (a paused sender sends nothing, so its estimate would never rise).
 */
export function adaptVideo(state: AdaptState, m: LinkMeasure): { limit: VideoLimit; state: AdaptState } {
  const polls = state.polls + 1;
  if (polls <= WARMUP_POLLS) return { limit: decideVideo({ ...m, availableBps: null, loss: null }, false), state: { ...initialAdapt(), polls } };
  if (state.probing > 0) {
    return {
      limit: { active: true, maxBitrate: PAUSE_BELOW_BPS, scaleResolutionDownBy: 4 },
      state: { polls, paused: true, pausedPolls: state.pausedPolls, probing: state.probing - 1 },
    };
  }
  const limit = decideVideo(m, state.paused);
  if (limit.active) return { limit, state: { polls, paused: false, pausedPolls: 0, probing: 0 } };
  const pausedPolls = state.pausedPolls + 1;
  const probing = pausedPolls % PROBE_EVERY === 0 ? PROBE_POLLS : 0;
  return { limit, state: { polls, paused: true, pausedPolls, probing } };
}
