/**
 * What a call shows from `getStats()`: per link the video it receives (frame rate, resolution,
 * frames decoded), loss and jitter, the bitrates both ways, the round trip and the capacity the
 * browser estimates, and the audio level that says who is speaking.
 */

type Stat = Record<string, unknown> & { id: string; type: string };

export interface CallFigures {
  /** When measured (the report's timestamp, ms). */
  at: number;
  bytesSent: number;
  bytesReceived: number;
  packetsReceived: number;
  packetsLost: number;
  framesDecoded: number;
  framesPerSecond: number | null;
  width: number | null;
  height: number | null;
  /** ms, audio or video, the larger. */
  jitterMs: number | null;
  /** 0..1 of the audio received; null when none. */
  audioLevel: number | null;
  rttMs: number | null;
  availableBps: number | null;
  /** Fraction the other side reports lost of what this side sends (remote-inbound-rtp), 0..1. */
  sentLoss: number | null;
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

function entries(report: Iterable<unknown> | Map<string, unknown>): Stat[] {
  const out: Stat[] = [];
  for (const raw of report instanceof Map ? report.values() : report) {
    const s = (Array.isArray(raw) && raw.length === 2 ? raw[1] : raw) as Stat;
    if (s && typeof s === "object" && typeof s.id === "string" && typeof s.type === "string") out.push(s);
  }
  return out;
}

/** Reads the call figures of one connection's stats report (any iterable of stats, or a Map). */
export function callFigures(report: Iterable<unknown> | Map<string, unknown>): CallFigures {
  const all = entries(report);
  const f: CallFigures = {
    at: 0,
    bytesSent: 0,
    bytesReceived: 0,
    packetsReceived: 0,
    packetsLost: 0,
    framesDecoded: 0,
    framesPerSecond: null,
    width: null,
    height: null,
    jitterMs: null,
    audioLevel: null,
    rttMs: null,
    availableBps: null,
    sentLoss: null,
  };
  for (const s of all) {
    f.at = Math.max(f.at, num(s.timestamp) ?? 0);
    const kind = s.kind ?? s.mediaType;
    if (s.type === "inbound-rtp") {
      f.bytesReceived += num(s.bytesReceived) ?? 0;
      f.packetsReceived += num(s.packetsReceived) ?? 0;
      f.packetsLost += Math.max(0, num(s.packetsLost) ?? 0);
      const jitter = num(s.jitter);
      if (jitter !== null) f.jitterMs = Math.max(f.jitterMs ?? 0, jitter * 1000);
      if (kind === "video") {
        f.framesDecoded += num(s.framesDecoded) ?? 0;
        f.framesPerSecond = num(s.framesPerSecond) ?? f.framesPerSecond;
        f.width = num(s.frameWidth) ?? f.width;
        f.height = num(s.frameHeight) ?? f.height;
      } else if (kind === "audio") {
        const level = num(s.audioLevel);
        if (level !== null) f.audioLevel = Math.max(f.audioLevel ?? 0, level);
      }
    } else if (s.type === "outbound-rtp") {
      f.bytesSent += num(s.bytesSent) ?? 0;
    } else if (s.type === "remote-inbound-rtp") {
      const lost = num(s.fractionLost);
      if (lost !== null) f.sentLoss = Math.max(f.sentLoss ?? 0, lost);
    } else if (s.type === "candidate-pair" && (s.nominated === true || s.selected === true) && s.state === "succeeded") {
      const rtt = num(s.currentRoundTripTime);
      if (rtt !== null) f.rttMs = rtt * 1000;
      f.availableBps = num(s.availableOutgoingBitrate) ?? f.availableBps;
    }
  }
  return f;
}

/** bit/s between two readings of the same connection (0 when the clock did not move). */
export function bitrates(prev: CallFigures, now: CallFigures): { sendBps: number; receiveBps: number } {
  const dt = (now.at - prev.at) / 1000;
  if (!(dt > 0)) return { sendBps: 0, receiveBps: 0 };
  return {
    sendBps: Math.max(0, ((now.bytesSent - prev.bytesSent) * 8) / dt),
    receiveBps: Math.max(0, ((now.bytesReceived - prev.bytesReceived) * 8) / dt),
  };
}

/** Fraction of packets lost between two readings (0..1). */
export function lossBetween(prev: CallFigures, now: CallFigures): number {
  const lost = now.packetsLost - prev.packetsLost;
  const got = now.packetsReceived - prev.packetsReceived;
  return lost > 0 && lost + got > 0 ? lost / (lost + got) : 0;
}

/** Audio level above which someone counts as speaking (getStats' audioLevel, 0..1). */
export const SPEAKING_LEVEL = 0.02;

export function isSpeaking(f: CallFigures): boolean {
  return (f.audioLevel ?? 0) > SPEAKING_LEVEL;
}

/** Why the microphone or camera could not be had, from getUserMedia's error name and the context. */
export type MediaProblem = "insecure" | "denied" | "no-device" | "in-use" | "other";

export function mediaProblem(errorName: string | null, secureContext: boolean, hasMediaDevices: boolean): MediaProblem {
  if (!secureContext || !hasMediaDevices) return "insecure";
  switch (errorName) {
    case "NotAllowedError":
    case "SecurityError":
      return "denied";
    case "NotFoundError":
    case "OverconstrainedError":
      return "no-device";
    case "NotReadableError":
    case "AbortError":
      return "in-use";
    default:
      return "other";
  }
}
