import type { StringKey } from "../strings";

/** The path the data channel's selected candidate pair takes. */
export interface PathInfo {
  kind: "direct" | "relayed";
  localType: string;
  remoteType: string;
  /** Transport between the two ICE candidates. */
  protocol: "udp" | "tcp";
  /** How this browser reaches its TURN server (only when its own candidate is a relay). */
  relayProtocol: "udp" | "tcp" | "tls" | null;
  /** The TURN provider's name, when the relay's URL belongs to a known server. */
  provider: string | null;
}

export interface StatsSnapshot {
  /** ms; the candidate pair's current round-trip time. */
  pairRttMs: number | null;
  bytesSent: number;
  bytesReceived: number;
  path: PathInfo | null;
}

type Stat = { id: string; type: string; [key: string]: unknown };

/**
 * Reads the selected candidate pair from a `getStats()` report (any iterable of stats or a Map):
 * the transport's `selectedCandidatePairId` when present, otherwise the nominated succeeded pair
 * (Firefox marks it `selected`). `providers` maps TURN URLs to provider names.
 */
export function snapshotFromStats(report: Iterable<unknown> | Map<string, unknown>, providers: ReadonlyMap<string, string> = new Map()): StatsSnapshot | null {
  const byId = new Map<string, Stat>();
  const values = report instanceof Map ? report.values() : report;
  for (const raw of values) {
    const s = (Array.isArray(raw) && raw.length === 2 ? raw[1] : raw) as Stat;
    if (s && typeof s === "object" && typeof s.id === "string" && typeof s.type === "string") byId.set(s.id, s);
  }
  let pair: Stat | undefined;
  for (const s of byId.values()) {
    if (s.type === "transport" && typeof s.selectedCandidatePairId === "string") pair = byId.get(s.selectedCandidatePairId);
  }
  pair ??= [...byId.values()].find((s) => s.type === "candidate-pair" && (s.selected === true || (s.nominated === true && s.state === "succeeded")));
  if (!pair) return null;
  const local = byId.get(String(pair.localCandidateId));
  const remote = byId.get(String(pair.remoteCandidateId));
  const localType = str(local?.candidateType) ?? "unknown";
  const remoteType = str(remote?.candidateType) ?? "unknown";
  const rtt = num(pair.currentRoundTripTime);
  const relayProtocol = str(local?.relayProtocol)?.toLowerCase();
  const url = str(local?.url);
  const protocol = str(local?.protocol)?.toLowerCase() === "tcp" ? "tcp" : "udp";
  return {
    pairRttMs: rtt === null ? null : Math.round(rtt * 1000),
    bytesSent: num(pair.bytesSent) ?? 0,
    bytesReceived: num(pair.bytesReceived) ?? 0,
    path: {
      kind: localType === "relay" || remoteType === "relay" ? "relayed" : "direct",
      localType,
      remoteType,
      protocol,
      relayProtocol: localType === "relay" && (relayProtocol === "udp" || relayProtocol === "tcp" || relayProtocol === "tls") ? relayProtocol : null,
      provider: url ? (providers.get(url) ?? null) : null,
    },
  };
}

function str(v: unknown): string | null {
  return typeof v === "string" && v.length > 0 ? v : null;
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : null;
}

export type QualityLevel = "good" | "fair" | "poor" | "unknown";

export interface Quality {
  level: QualityLevel;
  /** Best current RTT estimate, ms: the app-level ping when fresh, else the candidate pair's. */
  rttMs: number | null;
  pairRttMs: number | null;
  pingRttMs: number | null;
  /** bits per second over the last interval. */
  inBps: number;
  outBps: number;
  path: PathInfo | null;
  /** Why the level is what it is (string keys), most important first. */
  reasons: StringKey[];
}

export interface QualityThresholds {
  /** RTT at or below: good. Default 150 ms. */
  goodRttMs: number;
  /** RTT at or below: fair; above: poor. Default 400 ms. */
  fairRttMs: number;
  /** A ping unanswered this long makes the link poor. Default 5000 ms. */
  pingTimeoutMs: number;
}

export const DEFAULT_THRESHOLDS: QualityThresholds = { goodRttMs: 150, fairRttMs: 400, pingTimeoutMs: 5000 };

/**
 * Per-peer live quality from periodic stats snapshots and app-level pings. Pure: the caller feeds
 * timestamps, so it is unit-tested without timers.
 */
export class QualityTracker {
  private last: { at: number; snap: StatsSnapshot } | null = null;
  private inBps = 0;
  private outBps = 0;
  private pingRtt: number | null = null;
  private pingAt = 0;
  private outstanding = new Map<number, number>();
  private nextPing = 1;

  constructor(private readonly thresholds: QualityThresholds = DEFAULT_THRESHOLDS) {}

  addStats(at: number, snap: StatsSnapshot): void {
    if (this.last && at > this.last.at) {
      const seconds = (at - this.last.at) / 1000;
      this.inBps = Math.max(0, ((snap.bytesReceived - this.last.snap.bytesReceived) * 8) / seconds);
      this.outBps = Math.max(0, ((snap.bytesSent - this.last.snap.bytesSent) * 8) / seconds);
    }
    this.last = { at, snap };
  }

  /** A ping to send now: its sequence number. */
  ping(at: number): number {
    const seq = this.nextPing++;
    this.outstanding.set(seq, at);
    // Forget pings far older than the timeout (lost): they only count through `oldestOutstanding`.
    for (const [s, sent] of this.outstanding) if (at - sent > this.thresholds.pingTimeoutMs * 4) this.outstanding.delete(s);
    return seq;
  }

  /** The pong for `seq` arrived; unknown or repeated sequence numbers are ignored. */
  pong(at: number, seq: number): void {
    const sent = this.outstanding.get(seq);
    if (sent === undefined || at < sent) return;
    this.outstanding.delete(seq);
    this.pingRtt = at - sent;
    this.pingAt = at;
  }

  current(now: number): Quality {
    const snap = this.last?.snap ?? null;
    const pairRtt = snap?.pairRttMs ?? null;
    const pingFresh = this.pingRtt !== null && now - this.pingAt < this.thresholds.pingTimeoutMs * 2;
    const pingRtt = pingFresh ? this.pingRtt : null;
    const rtt = pingRtt ?? pairRtt;
    const reasons: StringKey[] = [];
    let oldest = Infinity;
    for (const sent of this.outstanding.values()) oldest = Math.min(oldest, sent);
    const stalled = oldest !== Infinity && now - oldest > this.thresholds.pingTimeoutMs;

    let level: QualityLevel;
    if (stalled) {
      level = "poor";
      reasons.push("quality.reason.stalled");
    } else if (rtt === null) {
      level = "unknown";
      reasons.push("quality.reason.measuring");
    } else if (rtt <= this.thresholds.goodRttMs) {
      level = "good";
      reasons.push("quality.reason.fast");
    } else if (rtt <= this.thresholds.fairRttMs) {
      level = "fair";
      reasons.push("quality.reason.slow");
    } else {
      level = "poor";
      reasons.push("quality.reason.veryslow");
    }
    const path = snap?.path ?? null;
    if (path?.kind === "relayed")
      reasons.push(path.relayProtocol === "tls" || path.relayProtocol === "tcp" ? "quality.reason.relayTcp" : "quality.reason.relayed");
    else if (path?.kind === "direct") reasons.push("quality.reason.direct");
    return { level, rttMs: rtt, pairRttMs: pairRtt, pingRttMs: pingRtt, inBps: Math.round(this.inBps), outBps: Math.round(this.outBps), path, reasons };
  }
}

/** "1.2 Mbit/s" style text for a rate. */
export function formatRate(bps: number): string {
  if (!Number.isFinite(bps) || bps < 0) return "0 bit/s";
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(1)} Mbit/s`;
  if (bps >= 1e3) return `${(bps / 1e3).toFixed(1)} kbit/s`;
  return `${Math.round(bps)} bit/s`;
}

/** The path in short words for the tooltip: "direct (UDP)", "relayed via embedded (TURN/TLS)". */
export function pathKey(path: PathInfo | null): StringKey {
  if (!path) return "quality.path.unknown";
  if (path.kind === "direct") return path.protocol === "tcp" ? "quality.path.directTcp" : "quality.path.directUdp";
  switch (path.relayProtocol) {
    case "tls":
      return "quality.path.relayTls";
    case "tcp":
      return "quality.path.relayTcp";
    case "udp":
      return "quality.path.relayUdp";
    // This side reaches the friend's relay directly; the relay is on the other side.
    default:
      return path.localType === "relay" ? "quality.path.relay" : "quality.path.relayRemote";
  }
}
