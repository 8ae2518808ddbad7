/**
 * How much a file sender keeps in flight, adapted to what it measures (docs/protocol.md, "Files",
 * "Adaptation"). Per leg (one recipient, one lane): every acknowledgement gives a round-trip sample
 * (the send of the last chunk it covers → the ack), every round (the chunks in flight when it
 * started all acknowledged) gives a throughput. Then, like TCP Vegas / LEDBAT:
 * - the round's least round trip above the least seen lately (`base`) is queueing that this
 *   sender caused somewhere (the lane's SCTP buffer, the network, the receiver's backlog); above
 *   `targetMs` the window shrinks by a quarter, so what waits in front of a chat message stays short;
 * - otherwise, while throughput still rises from round to round (the window is what limits it), the
 *   window grows by a quarter; once it is flat, by one chunk a round (probing for more).
 * The window stays within [min, max]. Time is given by the caller: the controller has no clock.
 */

/** Fewest chunks in flight: two acknowledgement periods (the receiver acks every ⌊w/4⌋ chunks of the offer's w). */
export const ADAPT_MIN_WINDOW = 8;
export const ADAPT_MAX_WINDOW = 256;
export const ADAPT_START_WINDOW = 32;
/** The offer's `w` when the window adapts: the receiver acknowledges every 4 chunks. */
export const ADAPT_OFFER_WINDOW = 16;
/** Queueing (round trip above the base) the sender lets build before it shrinks its window. */
export const TARGET_QUEUE_MS = 25;
/** How long a least round trip counts as the base (older minima age out, so a lasting change of path is learnt). */
const BASE_HISTORY_MS = 30_000;

export interface AdaptOptions {
  min?: number;
  max?: number;
  start?: number;
  targetMs?: number;
}

interface InFlight {
  index: number;
  at: number;
  bytes: number;
}

export class SendWindow {
  private w: number;
  private readonly min: number;
  private readonly max: number;
  private readonly target: number;
  private readonly flight: InFlight[] = [];
  /** Least round trip of each past round, with when it ended. */
  private readonly minima: { at: number; rtt: number }[] = [];
  private roundStart = -1;
  private roundEnd = -1;
  private roundBytes = 0;
  private roundMin = Infinity;
  private prevRate = 0;
  private smoothed = 0;
  private lastRtt = 0;

  constructor(o: AdaptOptions = {}) {
    this.min = Math.max(1, o.min ?? ADAPT_MIN_WINDOW);
    this.max = Math.max(this.min, o.max ?? ADAPT_MAX_WINDOW);
    this.w = Math.min(this.max, Math.max(this.min, o.start ?? ADAPT_START_WINDOW));
    this.target = o.targetMs ?? TARGET_QUEUE_MS;
  }

  /** Chunks the sender may have sent and not yet seen acknowledged. */
  get window(): number {
    return this.w;
  }

  /** Throughput of the last rounds, smoothed (bytes per second; 0 before the first round ends). */
  get rate(): number {
    return this.smoothed;
  }

  /** The latest round-trip sample (ms; 0 before the first). */
  get rtt(): number {
    return this.lastRtt;
  }

  /** The least round trip seen in the last 30 s (ms; Infinity before the first round ends). */
  get base(): number {
    let b = Infinity;
    for (const m of this.minima) b = Math.min(b, m.rtt);
    return b;
  }

  sent(index: number, bytes: number, now: number): void {
    this.flight.push({ index, at: now, bytes });
    if (this.roundStart < 0) {
      // A first round (or one after a pause): it ends once a window's worth is acknowledged.
      this.roundStart = now;
      this.roundEnd = index + this.w - 1;
    }
  }

  /** Chunks 0..n−1 are acknowledged (cumulative). */
  acked(n: number, now: number): void {
    let last: InFlight | undefined;
    while (this.flight.length > 0 && this.flight[0]!.index < n) {
      last = this.flight.shift()!;
      this.roundBytes += last.bytes;
    }
    if (!last) return;
    this.lastRtt = Math.max(0, now - last.at);
    this.roundMin = Math.min(this.roundMin, this.lastRtt);
    if (last.index >= this.roundEnd) this.endRound(now);
  }

  /** The leg starts again from an acceptance (a resume): what was in flight is forgotten; the estimates stay. */
  restart(): void {
    this.flight.length = 0;
    this.roundStart = -1;
    this.roundBytes = 0;
    this.roundMin = Infinity;
    this.prevRate = 0;
  }

  private endRound(now: number): void {
    const elapsed = now - this.roundStart;
    const rate = elapsed > 0 ? (this.roundBytes * 1000) / elapsed : 0;
    while (this.minima.length > 0 && now - this.minima[0]!.at > BASE_HISTORY_MS) this.minima.shift();
    this.minima.push({ at: now, rtt: this.roundMin });
    const queueing = this.roundMin - this.base;
    if (queueing > this.target) this.w = Math.max(this.min, Math.floor(this.w * 0.75));
    else if (rate > this.prevRate * 1.1) this.w = Math.min(this.max, this.w + Math.ceil(this.w / 4));
    else if (queueing < this.target / 2) this.w = Math.min(this.max, this.w + 1);
    if (rate > 0) {
      this.prevRate = rate;
      this.smoothed = this.smoothed === 0 ? rate : this.smoothed * 0.7 + rate * 0.3;
    }
    // The next round: until what is in flight now has been acknowledged.
    this.roundStart = now;
    this.roundBytes = 0;
    this.roundMin = Infinity;
    this.roundEnd = this.flight.length > 0 ? this.flight[this.flight.length - 1]!.index : Infinity;
    if (this.flight.length === 0) this.roundStart = -1;
  }
}

/**
 * Chunk size for a new transfer from the throughput last measured to its recipient(s): about 10 ms
 * of the link per chunk, so a chat message on the same connection never waits long behind one
 * chunk; 64 KiB (the most every browser pair passes, wire.ts MAX_CHUNK) when nothing is known yet.
 */
export function chooseChunkSize(rate: number | undefined, min: number, max: number): number {
  if (!rate || !Number.isFinite(rate) || rate <= 0) return max;
  let cs = max;
  while (cs > min && cs > rate / 100) cs /= 2;
  return Math.max(min, cs);
}
