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
