/**
 * One ordered stream of numbered items from one sender instance to this side: de-duplicates and
 * releases items strictly in order (1, 2, 3, ...), holding early arrivals in a bounded window.
 */
export interface InboundStream<T> {
  /** Highest n such that 1..n were all released. */
  readonly delivered: number;
  /** Offers item n; returns the items now released, in order (empty for a duplicate or a gap). */
  offer(n: number, item: T): T[];
}

/** How far ahead of the next expected item a stream holds early arrivals. */
export const MAX_REORDER_WINDOW = 4096;

export class OrderedStream<T> implements InboundStream<T> {
  private next = 1;
  private readonly early = new Map<number, T>();

  get delivered(): number {
    return this.next - 1;
  }

  offer(n: number, item: T): T[] {
    if (n < this.next || this.early.has(n)) return []; // duplicate
    if (n - this.next >= MAX_REORDER_WINDOW) return []; // too far ahead: the sender resends later
    this.early.set(n, item);
    const out: T[] = [];
    for (let e = this.early.get(this.next); e !== undefined; e = this.early.get(this.next)) {
      this.early.delete(this.next);
      this.next++;
      out.push(e);
    }
    return out;
  }
}

export type StreamFactory = <T>() => InboundStream<T>;
export const orderedStreams: StreamFactory = <T>() => new OrderedStream<T>();

/** One numbered entry waiting for its recipient's ack. */
export interface OutboxEntry {
  n: number;
  id: string;
  at: number;
  text: string;
  ttl: number | null;
  bf: boolean;
  /** The signed frame, once signed (signing may be asynchronous). */
  frame: string | null;
  /** Clock time of the last transmission, or -Infinity when never sent. */
  sentAt: number;
}

/** Largest number of unacknowledged messages kept for one recipient. */
export const MAX_OUTBOX = 10_000;

/**
 * Messages for one recipient instance, numbered from 1, kept until acked (cumulative acks).
 * `retarget` renumbers what is left for a new instance of the same member (it reloaded).
 */
export class Outbox {
  private entries: OutboxEntry[] = [];
  private nextN = 1;
  acked = 0;
  read = 0;
  /** Delivered but not yet read: (n, id), to report read marks per message. */
  private unread: { n: number; id: string }[] = [];

  constructor(public inc: string) {}

  get pending(): readonly OutboxEntry[] {
    return this.entries;
  }

  get size(): number {
    return this.entries.length;
  }

  push(id: string, at: number, text: string, ttl: number | null, bf: boolean): OutboxEntry | null {
    if (this.entries.length >= MAX_OUTBOX) return null;
    const entry: OutboxEntry = { n: this.nextN++, id, at, text, ttl, bf, frame: null, sentAt: -Infinity };
    this.entries.push(entry);
    return entry;
  }

  /** Applies a cumulative ack; returns ids newly delivered and ids newly read. */
  ack(n: number, rd: number): { delivered: string[]; read: string[] } {
    const delivered: string[] = [];
    const read: string[] = [];
    if (n >= this.nextN) n = this.nextN - 1; // never beyond what was sent
    if (rd > n) rd = n;
    if (n > this.acked) {
      while (this.entries.length > 0 && this.entries[0]!.n <= n) {
        const e = this.entries.shift()!;
        delivered.push(e.id);
        this.unread.push({ n: e.n, id: e.id });
      }
      this.acked = n;
    }
    if (rd > this.read) {
      while (this.unread.length > 0 && this.unread[0]!.n <= rd) read.push(this.unread.shift()!.id);
      if (this.unread.length > MAX_OUTBOX) this.unread.splice(0, this.unread.length - MAX_OUTBOX);
      this.read = rd;
    }
    return { delivered, read };
  }

  /** The member came back as a new instance: what was not acked is renumbered from 1 for it. */
  retarget(inc: string): void {
    this.inc = inc;
    this.nextN = 1;
    this.acked = 0;
    this.read = 0;
    this.unread = [];
    for (const e of this.entries) {
      e.n = this.nextN++;
      e.frame = null;
      e.sentAt = -Infinity;
    }
  }
}
