import { Emitter } from "../emitter";
import type { FileLane } from "../connection/ports";
import { sanitiseFileName, sanitiseType } from "./name";
import {
  MAX_CHUNK,
  MAX_WINDOW,
  chunkCount,
  chunkLength,
  decodeChunk,
  decodeControl,
  encodeChunk,
  type CancelReason,
  type ControlFrame,
  type OfferFrame,
} from "./wire";

/** Where the links' file lanes come from (MeshSession.fileLanes). */
export interface LaneSource {
  /** The file lane of the authenticated link to `peer`, or null without one. */
  lane(peer: string): FileLane | null;
  /** Members whose link is up now (their lanes are taken at once). */
  peers?(): string[];
  onUp(fn: (peer: string) => void): () => void;
  onDown(fn: (peer: string) => void): () => void;
}

/** Where received bytes go while they arrive (adapters/opfs.ts; `MemoryStore` below). */
export interface FileSink {
  append(bytes: Uint8Array): Promise<void>;
  /** The whole file, once every byte is written (its hash was checked before). */
  finish(type: string): Promise<Blob>;
  /** Removes what was written. */
  discard(): Promise<void>;
}
export interface SinkStore {
  open(size: number): Promise<FileSink>;
}

/** What the sender reads: a File, read a slice at a time. */
export interface FileSource {
  readonly name: string;
  readonly size: number;
  readonly type: string;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

export type TransferState = "hashing" | "offered" | "asking" | "moving" | "paused" | "done" | "failed" | "cancelled";

/** One transfer as the UI shows it. For a file sent to several members, `bytes` sums their progress. */
export interface TransferView {
  id: string;
  dir: "in" | "out";
  /** The sender (in) or the recipients (out). */
  peers: string[];
  name: string;
  size: number;
  type: string;
  state: TransferState;
  /** Bytes verified by the receiver(s), for progress, speed and time left. */
  bytes: number;
  /** Total bytes to move (size × recipients). */
  total: number;
  startedAt: number;
  reason?: CancelReason;
  /** The received file (in, done): hashed and checked. */
  blob?: Blob;
}

export type FileError = { peer: string; reason: "not-json" | "too-large" | "bad-shape" | "unknown-transfer" | "bad-chunk" | "protocol" };

export interface FileEvents extends Record<string, unknown> {
  changed: TransferView;
  /** A frame from `peer` was refused (the transfer it named, if any, failed; nothing else changed). */
  refused: FileError;
}

export interface FileOptions {
  lanes: LaneSource;
  store: SinkStore;
  /** Files up to this many bytes are accepted without asking (the user's setting). */
  autoAcceptBytes: () => number;
  /** Files above this are refused (the operator's or the client's limit). */
  maxBytes: () => number;
  now?: () => number;
  /** Chunk payload size (default 64 KiB). */
  chunkSize?: number;
  /** Chunks sent and not yet acknowledged, at most (default 64). */
  window?: number;
  /**
   * The receiver's running SHA-256 of each incoming file (default: in this thread). The page gives
   * one in a worker, so hashing does not hold up the main thread's message events — chat included.
   */
  hash?: () => StreamHash;
  /** The sender's SHA-256 of a whole file before it offers it (default: hashFile, in this thread). */
  hashFile?: (file: FileSource) => Promise<string>;
}

/** A running SHA-256: bytes in order, then the hex digest once. */
export interface StreamHash {
  update(bytes: Uint8Array): void;
  digest(): Promise<string>;
}

/**
 * @noble/hashes, loaded on first use: the chat page does not download it until a file is offered or
 * received (the receiver hashes in a worker, which has its own copy; docs/benchmarks.md, "JS").
 */
function sha256Module() {
  return import("./sha256");
}

/**
 * SHA-256 in this thread (@noble/hashes). Bytes given before the module has loaded are copied and
 * hashed in order once it has; after that, each update is hashed at once (the caller may reuse them).
 */
export function inThreadHash(): StreamHash {
  type Loaded = Awaited<ReturnType<typeof sha256Module>>;
  let loaded: { m: Loaded; h: ReturnType<Loaded["sha256"]["create"]> } | null = null;
  const early: Uint8Array[] = [];
  const ready = sha256Module().then((m) => {
    loaded = { m, h: m.sha256.create() };
    for (const bytes of early.splice(0)) loaded.h.update(bytes);
    return loaded;
  });
  return {
    update: (bytes) => {
      if (loaded) loaded.h.update(bytes);
      else early.push(bytes.slice());
    },
    digest: () => ready.then((s) => s.m.bytesToHex(s.h.digest())),
  };
}

/** The sender stops queueing on a lane above this many buffered bytes and goes on at the lane's low mark. */
export const HIGH_WATER = 1024 * 1024;
/** Offers from one member waiting for an answer or moving at once; more are declined. */
const MAX_OPEN_PER_PEER = 16;
const HASH_SLICE = 1024 * 1024;
/** The sender reads the file this much at a time (a multiple of every chunk size). */
const READ_BLOCK = 1024 * 1024;

/** SHA-256 of a whole file, read a slice at a time (WebCrypto has no streaming digest). */
export async function hashFile(file: FileSource): Promise<string> {
  const { sha256, bytesToHex } = await sha256Module();
  const h = sha256.create();
  for (let at = 0; at < file.size; at += HASH_SLICE) h.update(new Uint8Array(await file.slice(at, Math.min(file.size, at + HASH_SLICE)).arrayBuffer()));
  return bytesToHex(h.digest());
}

export function newTransferId(): string {
  const b = crypto.getRandomValues(new Uint8Array(12));
  return btoa(String.fromCharCode(...b))
    .replace(/\+/g, "-")
    .replace(/\//g, "_");
}

interface Leg {
  peer: string;
  lane: FileLane | null;
  state: TransferState;
  next: number;
  acked: number;
  reason?: CancelReason;
  pumping: boolean;
  gen: number;
}

interface Outgoing {
  offer: OfferFrame;
  file: FileSource;
  chunks: number;
  legs: Map<string, Leg>;
  startedAt: number;
  hashing: boolean;
  /** The last block of the file read, and the read under way (readChunk). */
  block?: { start: number; bytes: Uint8Array };
  reading?: { from: number; bytes: Promise<ArrayBuffer> };
}

interface Incoming {
  offer: OfferFrame;
  peer: string;
  name: string;
  type: string;
  chunks: number;
  state: TransferState;
  /** Next chunk index expected on the lane. */
  expected: number;
  /** Chunks written and hashed. */
  verified: number;
  hasher: StreamHash;
  sink: FileSink | null;
  queue: Promise<void>;
  startedAt: number;
  reason?: CancelReason;
  blob?: Blob;
}

const ENDED: readonly TransferState[] = ["done", "failed", "cancelled"];

/**
 * Files over the links' file lanes (docs/protocol.md, "Files"). The sender hashes the file, offers
 * it on each recipient's lane and, once accepted, sends chunks in order, at most `window` ahead of
 * the receiver's acknowledgements and never above HIGH_WATER buffered on the lane. The receiver
 * takes chunks only in order and of the declared length, hashes them as it writes them to its
 * sink, acknowledges, and checks the whole file's SHA-256 before it calls the file done. A link
 * that comes back with a new lane (redial) gets the offer again and the receiver answers with the
 * chunks it has verified: the transfer goes on from there. One member per lane: a group send is a
 * leg per member, each with its own lane and window.
 */
export class FileTransfers {
  readonly events = new Emitter<FileEvents>();
  private readonly out = new Map<string, Outgoing>();
  /** Keyed by sender and id: a member can only ever name its own transfers. */
  private readonly inc = new Map<string, Incoming>();
  private readonly attached = new Map<string, FileLane>();
  private readonly off: (() => void)[] = [];
  private readonly now: () => number;
  private readonly cs: number;
  private readonly window: number;
  private readonly hash: () => StreamHash;
  private readonly hashWhole: (file: FileSource) => Promise<string>;

  constructor(private readonly o: FileOptions) {
    this.now = o.now ?? (() => Date.now());
    this.cs = Math.min(MAX_CHUNK, o.chunkSize ?? MAX_CHUNK);
    this.window = Math.min(MAX_WINDOW, Math.max(1, o.window ?? 64));
    this.hash = o.hash ?? inThreadHash;
    this.hashWhole = o.hashFile ?? hashFile;
    this.off.push(
      o.lanes.onUp((peer) => this.linkUp(peer)),
      o.lanes.onDown((peer) => this.linkDown(peer)),
    );
    for (const peer of o.lanes.peers?.() ?? []) this.linkUp(peer);
  }

  stop(): void {
    for (const f of this.off.splice(0)) f();
  }

  /** Offers `file` to each of `peers`; resolves with the transfer id once it is hashed and offered. */
  async send(file: FileSource, peers: readonly string[]): Promise<string> {
    const id = newTransferId();
    const offer: OfferFrame = {
      t: "fo",
      id,
      name: sanitiseFileName(file.name),
      size: file.size,
      type: sanitiseType(file.type),
      sha: "",
      cs: this.cs,
      w: this.window,
    };
    const legs = new Map<string, Leg>(peers.map((p) => [p, { peer: p, lane: null, state: "hashing", next: 0, acked: 0, pumping: false, gen: 0 }]));
    const t: Outgoing = { offer, file, chunks: chunkCount(file.size, this.cs), legs, startedAt: this.now(), hashing: true };
    this.out.set(id, t);
    this.emitOut(t);
    offer.sha = await this.hashWhole(file);
    t.hashing = false;
    for (const leg of legs.values()) {
      if (leg.state !== "hashing") continue;
      leg.state = "paused";
      this.offerLeg(t, leg);
    }
    this.emitOut(t);
    return id;
  }

  /** The user accepts a file that was above the automatic limit. */
  accept(peer: string, id: string): void {
    const t = this.inc.get(key(peer, id));
    if (t?.state === "asking") void this.startReceiving(t);
  }

  /** Cancels a transfer this side sends or receives (declines one that was asked about). */
  cancel(id: string, peer?: string): void {
    const o = this.out.get(id);
    if (o) {
      for (const leg of o.legs.values()) if (!ENDED.includes(leg.state)) this.endLeg(o, leg, "cancelled", "cancelled", true);
      this.emitOut(o);
    }
    for (const t of this.inc.values())
      if (t.offer.id === id && (peer === undefined || t.peer === peer) && !ENDED.includes(t.state))
        this.failIncoming(t, t.state === "asking" ? "declined" : "cancelled", "cancelled", true);
  }

  /** `peer` left the room: what moves to or from it ends ("gone"); its partial bytes are removed. */
  peerGone(peer: string): void {
    for (const o of this.out.values()) {
      const leg = o.legs.get(peer);
      if (leg && !ENDED.includes(leg.state)) {
        this.endLeg(o, leg, "gone", "failed", false);
        this.emitOut(o);
      }
    }
    for (const t of this.inc.values()) if (t.peer === peer && !ENDED.includes(t.state)) this.failIncoming(t, "gone", "failed", false);
    this.attached.delete(peer);
  }

  /** Every transfer, for a view that starts late. */
  views(): TransferView[] {
    return [...[...this.out.values()].map((t) => this.viewOut(t)), ...[...this.inc.values()].map((t) => this.viewIn(t))];
  }

  // ---- lanes ----

  private linkUp(peer: string): void {
    const lane = this.o.lanes.lane(peer);
    if (!lane || this.attached.get(peer) === lane) return; // same lane (ICE came back): SCTP carries on
    this.attached.set(peer, lane);
    lane.onMessage((data) => {
      if (this.attached.get(peer) === lane) this.receive(peer, data);
    });
    lane.onLow(() => {
      for (const t of this.out.values()) {
        const leg = t.legs.get(peer);
        if (leg?.lane === lane) void this.pump(t, leg);
      }
    });
    for (const t of this.out.values()) {
      const leg = t.legs.get(peer);
      if (leg && !t.hashing && !ENDED.includes(leg.state)) this.offerLeg(t, leg);
    }
  }

  private linkDown(peer: string): void {
    for (const t of this.out.values()) {
      const leg = t.legs.get(peer);
      if (leg?.state === "moving" || leg?.state === "offered") {
        leg.state = "paused";
        this.emitOut(t);
      }
    }
    for (const t of this.inc.values())
      if (t.peer === peer && t.state === "moving") {
        t.state = "paused";
        this.emit(this.viewIn(t));
      }
  }

  private offerLeg(t: Outgoing, leg: Leg): void {
    const lane = this.o.lanes.lane(leg.peer);
    if (!lane || this.attached.get(leg.peer) !== lane) return; // offered when the link comes up
    leg.lane = lane;
    leg.gen++;
    leg.state = "offered";
    this.sendControl(lane, t.offer);
  }

  private sendControl(lane: FileLane | null, frame: ControlFrame): void {
    try {
      lane?.send(JSON.stringify(frame));
    } catch {
      // The lane closed: the link's recovery brings a new one, and the offer is made again there.
    }
  }

  private receive(peer: string, data: string | ArrayBuffer): void {
    if (typeof data !== "string") return this.receiveChunk(peer, data);
    const d = decodeControl(data);
    if (!d.ok) return this.events.emit("refused", { peer, reason: d.reason });
    const f = d.frame;
    if (f.t === "fo") return this.receiveOffer(peer, f);
    const o = this.out.get(f.id);
    const leg = o?.legs.get(peer);
    const t = this.inc.get(key(peer, f.id));
    if (f.t === "fx" && t) {
      if (!ENDED.includes(t.state)) this.failIncoming(t, f.why, "cancelled", false);
      return;
    }
    if (!o || !leg) return this.events.emit("refused", { peer, reason: "unknown-transfer" });
    if (ENDED.includes(leg.state)) return;
    switch (f.t) {
      case "fa":
        if (f.from > o.chunks) return this.badFrame(o, leg);
        leg.next = leg.acked = f.from;
        leg.state = "moving";
        leg.gen++;
        this.emitOut(o);
        void this.pump(o, leg);
        return;
      case "fk":
        if (leg.state !== "moving" || f.n < leg.acked || f.n > leg.next) return this.badFrame(o, leg);
        leg.acked = f.n;
        this.emitOut(o);
        void this.pump(o, leg);
        return;
      case "fd":
        leg.state = "done";
        leg.acked = o.chunks;
        this.emitOut(o);
        return;
      case "fx":
        this.endLeg(o, leg, f.why, f.why === "cancelled" || f.why === "declined" ? "cancelled" : "failed", false);
        this.emitOut(o);
        return;
    }
  }

  private badFrame(o: Outgoing, leg: Leg): void {
    this.events.emit("refused", { peer: leg.peer, reason: "protocol" });
    this.endLeg(o, leg, "bad-chunk", "failed", true);
    this.emitOut(o);
  }

  private endLeg(o: Outgoing, leg: Leg, why: CancelReason, state: TransferState, tell: boolean): void {
    leg.state = state;
    leg.reason = why;
    leg.gen++;
    if (tell) this.sendControl(leg.lane, { t: "fx", id: o.offer.id, why });
  }

  private async pump(t: Outgoing, leg: Leg): Promise<void> {
    if (leg.pumping) return;
    leg.pumping = true;
    const gen = leg.gen;
    try {
      const lane = leg.lane;
      while (
        lane &&
        leg.gen === gen &&
        leg.state === "moving" &&
        leg.next < t.chunks &&
        leg.next - leg.acked < this.window &&
        lane.bufferedAmount() < HIGH_WATER
      ) {
        const index = leg.next;
        const bytes = await this.readChunk(t, index);
        if (leg.gen !== gen || leg.next !== index || leg.state !== "moving") break;
        lane.send(encodeChunk(t.offer.id, index, bytes));
        leg.next++;
      }
    } catch {
      // The lane closed under us: the link's recovery offers again and the receiver says where to go on.
    } finally {
      leg.pumping = false;
    }
    // Resumed (or accepted again) while a chunk was being read: the call that came meanwhile
    // returned at once, so go on from the new position now.
    if (leg.gen !== gen && leg.state === "moving") void this.pump(t, leg);
  }

  /**
   * Chunk `index` of the file. The file is read READ_BLOCK bytes at a time (one read of a
   * disk-backed Blob costs a round trip to the browser's file thread, whatever its size); the last
   * block read is kept for the chunks it holds — per transfer, shared by its legs.
   */
  private async readChunk(t: Outgoing, index: number): Promise<Uint8Array> {
    const start = index * t.offer.cs;
    const length = chunkLength(t.offer.size, t.offer.cs, index);
    let block = t.block;
    if (!block || start < block.start || start + length > block.start + block.bytes.length) {
      const from = start - (start % READ_BLOCK);
      const pending = t.reading?.from === from ? t.reading.bytes : t.file.slice(from, Math.min(t.offer.size, from + READ_BLOCK)).arrayBuffer();
      t.reading = { from, bytes: pending };
      block = { start: from, bytes: new Uint8Array(await pending) };
      t.block = block;
    }
    return block.bytes.subarray(start - block.start, start - block.start + length);
  }

  // ---- receiving ----

  private receiveOffer(peer: string, f: OfferFrame): void {
    const k = key(peer, f.id);
    const known = this.inc.get(k);
    const lane = this.attached.get(peer) ?? null;
    if (known) {
      // The same offer again on a new lane: the link was made anew. Say where we stand.
      if (known.offer.sha !== f.sha || known.offer.size !== f.size || known.offer.cs !== f.cs) {
        this.events.emit("refused", { peer, reason: "protocol" });
        if (!ENDED.includes(known.state)) this.failIncoming(known, "bad-chunk", "failed", true);
        return;
      }
      if (known.state === "done") return this.sendControl(lane, { t: "fd", id: f.id });
      if (ENDED.includes(known.state)) return this.sendControl(lane, { t: "fx", id: f.id, why: known.reason ?? "cancelled" });
      if (known.state === "asking") return;
      void known.queue.then(() => {
        if (ENDED.includes(known.state)) return;
        known.expected = known.verified;
        known.state = "moving";
        this.emit(this.viewIn(known));
        this.sendControl(this.attached.get(peer) ?? null, { t: "fa", id: f.id, from: known.verified });
      });
      return;
    }
    const open = [...this.inc.values()].filter((t) => t.peer === peer && !ENDED.includes(t.state)).length;
    const t: Incoming = {
      offer: f,
      peer,
      name: sanitiseFileName(f.name),
      type: sanitiseType(f.type),
      chunks: chunkCount(f.size, f.cs),
      state: "asking",
      expected: 0,
      verified: 0,
      hasher: this.hash(),
      sink: null,
      queue: Promise.resolve(),
      startedAt: this.now(),
    };
    this.inc.set(k, t);
    if (f.size > this.o.maxBytes()) return this.failIncoming(t, "too-large", "failed", true);
    if (open >= MAX_OPEN_PER_PEER) return this.failIncoming(t, "declined", "cancelled", true);
    this.emit(this.viewIn(t));
    if (f.size <= this.o.autoAcceptBytes()) void this.startReceiving(t);
  }

  private async startReceiving(t: Incoming): Promise<void> {
    t.state = "moving";
    t.startedAt = this.now();
    this.emit(this.viewIn(t));
    try {
      t.sink = await this.o.store.open(t.offer.size);
    } catch {
      return this.failIncoming(t, "storage", "failed", true);
    }
    if (t.state !== "moving") return void t.sink.discard().catch(() => undefined);
    this.sendControl(this.attached.get(t.peer) ?? null, { t: "fa", id: t.offer.id, from: 0 });
    if (t.chunks === 0) t.queue = t.queue.then(() => this.complete(t));
  }

  private receiveChunk(peer: string, data: ArrayBuffer): void {
    const c = decodeChunk(data);
    if (!c.ok) return this.events.emit("refused", { peer, reason: "bad-chunk" });
    const t = this.inc.get(key(peer, c.id));
    if (!t) return this.events.emit("refused", { peer, reason: "unknown-transfer" });
    if (t.state === "cancelled" || t.state === "failed") return; // in flight when it ended
    const length = chunkLength(t.offer.size, t.offer.cs, c.index);
    if (t.state !== "moving" || !t.sink || c.index !== t.expected || length !== c.payload.length) {
      this.events.emit("refused", { peer, reason: "bad-chunk" });
      return this.failIncoming(t, "bad-chunk", "failed", true);
    }
    t.expected++;
    const sink = t.sink;
    const payload = c.payload;
    t.queue = t.queue.then(async () => {
      if (t.state === "failed" || t.state === "cancelled") return;
      try {
        await sink.append(payload);
      } catch {
        return this.failIncoming(t, "storage", "failed", true);
      }
      t.hasher.update(payload);
      t.verified++;
      this.emit(this.viewIn(t));
      if (t.verified === t.chunks) return this.complete(t);
      if (t.verified % Math.max(1, Math.floor(t.offer.w / 4)) === 0)
        this.sendControl(this.attached.get(peer) ?? null, { t: "fk", id: t.offer.id, n: t.verified });
    });
  }

  private async complete(t: Incoming): Promise<void> {
    const sha = await t.hasher.digest();
    if (t.state === "failed" || t.state === "cancelled" || !t.sink) return; // ended meanwhile
    if (sha !== t.offer.sha) return this.failIncoming(t, "hash-mismatch", "failed", true);
    try {
      t.blob = await t.sink!.finish(t.type);
    } catch {
      return this.failIncoming(t, "storage", "failed", true);
    }
    t.state = "done";
    this.sendControl(this.attached.get(t.peer) ?? null, { t: "fd", id: t.offer.id });
    this.emit(this.viewIn(t));
  }

  private failIncoming(t: Incoming, why: CancelReason, state: TransferState, tell: boolean): void {
    t.state = state;
    t.reason = why;
    if (tell) this.sendControl(this.attached.get(t.peer) ?? null, { t: "fx", id: t.offer.id, why });
    const sink = t.sink;
    t.sink = null;
    if (sink) t.queue = t.queue.then(() => sink.discard()).catch(() => undefined);
    this.emit(this.viewIn(t));
  }

  // ---- views ----

  private emit(v: TransferView): void {
    this.events.emit("changed", v);
  }

  private emitOut(t: Outgoing): void {
    this.emit(this.viewOut(t));
  }

  private viewOut(t: Outgoing): TransferView {
    const legs = [...t.legs.values()];
    const states = legs.map((l) => l.state);
    const state: TransferState = t.hashing
      ? "hashing"
      : states.some((s) => s === "moving")
        ? "moving"
        : states.some((s) => s === "paused")
          ? "paused"
          : states.every((s) => s === "cancelled")
            ? "cancelled"
            : states.some((s) => s === "done")
              ? "done"
              : states.every((s) => ENDED.includes(s))
                ? "failed"
                : "offered";
    const bytes = legs.reduce((n, l) => n + Math.min(t.offer.size, (l.state === "done" ? t.chunks : l.acked) * t.offer.cs), 0);
    const reason = legs.find((l) => l.reason)?.reason;
    const v: TransferView = {
      id: t.offer.id,
      dir: "out",
      peers: legs.map((l) => l.peer),
      name: t.offer.name,
      size: t.offer.size,
      type: t.offer.type,
      state,
      bytes,
      total: t.offer.size * legs.length,
      startedAt: t.startedAt,
    };
    if (reason) v.reason = reason;
    return v;
  }

  private viewIn(t: Incoming): TransferView {
    const v: TransferView = {
      id: t.offer.id,
      dir: "in",
      peers: [t.peer],
      name: t.name,
      size: t.offer.size,
      type: t.type,
      state: t.state,
      bytes: Math.min(t.offer.size, t.verified * t.offer.cs),
      total: t.offer.size,
      startedAt: t.startedAt,
    };
    if (t.reason) v.reason = t.reason;
    if (t.blob) v.blob = t.blob;
    return v;
  }
}

function key(peer: string, id: string): string {
  return `${peer} ${id}`;
}

/** Received files in memory: only where the browser has no Origin Private File System, and small. */
export const MEMORY_LIMIT = 64 * 1024 * 1024;
export class MemoryStore implements SinkStore {
  constructor(private readonly limit = MEMORY_LIMIT) {}
  open(size: number): Promise<FileSink> {
    if (size > this.limit) return Promise.reject(new Error("too large to keep in memory"));
    let parts: Uint8Array[] = [];
    return Promise.resolve({
      append: (bytes) => {
        parts.push(bytes.slice());
        return Promise.resolve();
      },
      finish: (type) => Promise.resolve(new Blob(parts as BlobPart[], { type })),
      discard: () => {
        parts = [];
        return Promise.resolve();
      },
    });
  }
}
