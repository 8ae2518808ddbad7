import { Emitter } from "../emitter";
import type { FileLane } from "../connection/ports";
import { deflateIfSmaller, deflatesWell, inflateExactly, platformCodec, type Codec } from "../compress";
import { ADAPT_OFFER_WINDOW, SendWindow, chooseChunkSize } from "./adapt";
import { isTextLike, sanitiseFileName, sanitiseType } from "./name";
import { RESTORE_WAIT_MS, isPartialRecord, type PartialBook, type PartialRecord } from "./resume";
import {
  MAX_CHUNK,
  MAX_WINDOW,
  MIN_CHUNK,
  chunkCount,
  chunkLength,
  decodeChunk,
  decodeControl,
  encodeChunk,
  type AcceptFrame,
  type CancelReason,
  type ControlFrame,
  type OfferFrame,
  type ResumeFrame,
} from "./wire";

/** Where the links' file lanes come from (MeshSession.fileLanes). */
export interface LaneSource {
  /** The file lane of the authenticated link to `peer`, or null without one. */
  lane(peer: string): FileLane | null;
  /** Members whose link is up now (their lanes are taken at once). */
  peers?(): string[];
  onUp(fn: (peer: string) => void): () => void;
  onDown(fn: (peer: string) => void): () => void;
  /** The member key the link to `peer` proved (resume after a reload is bound to it); null without a link. */
  key?(peer: string): string | null;
  /** The room's id. */
  room?(): string;
}

/** Where received bytes go while they arrive (adapters/opfs.ts; `MemoryStore` below). */
export interface FileSink {
  append(bytes: Uint8Array): Promise<void>;
  /** The whole file, once every byte is written (its hash was checked before). */
  finish(type: string): Promise<Blob>;
  /** Removes what was written. */
  discard(): Promise<void>;
  /** The partial file's name in its store, when it survives a reload of the page (SinkStore.reopen). */
  readonly name?: string;
}
export interface SinkStore {
  /** `durable` is told how many bytes are on disk for good, each time that grows (whole chunks). */
  open(size: number, durable?: (bytes: number) => void): Promise<FileSink>;
  /**
   * The partial file `name` again (after a reload): its first `bytes` bytes are kept, anything after
   * them removed, and appending goes on from there. `prefix` is those bytes (to hash them again).
   * Null when the file is gone or does not hold `bytes` bytes.
   */
  reopen?(name: string, size: number, bytes: number, durable?: (bytes: number) => void): Promise<{ sink: FileSink; prefix: Blob } | null>;
  /** Removes the partial file `name` without opening it (a kept transfer that cannot go on). */
  remove?(name: string): Promise<void>;
}

/** What the sender reads: a File, read a slice at a time. */
export interface FileSource {
  readonly name: string;
  readonly size: number;
  readonly type: string;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

/** Why a transfer ended: a wire reason, or `unreachable` (no path to the other side for a minute). */
export type EndReason = CancelReason | "unreachable";

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
  reason?: EndReason;
  /** The received file (in, done): hashed and checked. */
  blob?: Blob;
  /** (in) Kept from before this page reloaded, waiting for the sender to go on. */
  kept?: boolean;
  /** Bytes there were at `startedAt` (a transfer that went on after a reload): speed counts from here. */
  from?: number;
}

export type FileError = {
  peer: string;
  /** `bad-deflate`: a deflated chunk did not inflate to its declared length (garbage, or a "zip bomb"): the transfer failed `bad-chunk`. */
  reason: "not-json" | "too-large" | "bad-shape" | "unknown-transfer" | "bad-chunk" | "bad-deflate" | "protocol";
};

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
  /** Chunk payload size, fixed (default: chosen per transfer from the throughput last measured to its recipients, adapt.ts). */
  chunkSize?: number;
  /** Chunks sent and not yet acknowledged, at most, fixed (default: adapted per recipient to round trip and throughput, adapt.ts). */
  window?: number;
  /**
   * Raw DEFLATE for text-like files (default: the platform's streams, else fflate). null: this side
   * neither compresses nor says it inflates, as a version before compression.
   */
  codec?: Codec | null;
  /**
   * The receiver's running SHA-256 of each incoming file (default: in this thread). The page gives
   * one in a worker, so hashing does not hold up the main thread's message events — chat included.
   */
  hash?: () => StreamHash;
  /** Partial files kept across a reload of this page (adapters/idb.ts); without it nothing is kept. */
  partials?: PartialBook;
  /** A timer (default setTimeout); returns its cancel. */
  setTimer?: (ms: number, fn: () => void) => () => void;
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
  reason?: EndReason;
  pumping: boolean;
  gen: number;
  /** What the leg was doing when its link stalled: it goes on so if the same lane comes back (ICE restart). */
  pausedFrom?: "moving" | "offered";
  /** The receiver's token from `fa`: a reloaded receiver proves with it that it is this leg's. */
  tok?: string;
  /** The receiver's `fa` said it inflates deflated chunks. */
  z?: boolean;
  /** The adapted window (null when the window is fixed). */
  ctl?: SendWindow | null;
}

interface Outgoing {
  offer: OfferFrame;
  file: FileSource;
  chunks: number;
  legs: Map<string, Leg>;
  startedAt: number;
  hashing: boolean;
  /** Text-like and a sample of it deflates well: each chunk goes deflated when that makes it smaller. */
  deflate?: boolean;
  /** The last chunk deflated (or found not worth it: null), shared by the legs. */
  deflated?: { index: number; bytes: Promise<Uint8Array | null> };
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
  reason?: EndReason;
  blob?: Blob;
  /** This side's token for a resume after a reload (sent in `fa`). */
  tok: string;
  /** The sender's key when the transfer was accepted (the record is bound to it). */
  key: string | null;
  /** Chunks on disk for good (the store said so). */
  durable: number;
  /** Saves and removals of this transfer's record, in order. */
  book: Promise<void>;
  /** Restored after a reload, waiting for the sender's link (then `fr`). */
  restored?: PartialRecord;
  cancelWait?: () => void;
  /** Chunks there were when this page started receiving (kept ones after a reload). */
  base: number;
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
  private readonly cs: number | null;
  private readonly window: number | null;
  private readonly hash: () => StreamHash;
  private readonly setTimer: (ms: number, fn: () => void) => () => void;
  /** Resolves once the partial files kept before a reload are restored (shown, waiting for their sender). */
  readonly restoring: Promise<void>;
  private readonly hashWhole: (file: FileSource) => Promise<string>;
  private readonly codec: Codec | null;
  /** Throughput last measured to each member (bytes/s), for the next transfer's chunk size. */
  private readonly rates = new Map<string, number>();

  constructor(private readonly o: FileOptions) {
    this.now = o.now ?? (() => Date.now());
    this.cs = o.chunkSize === undefined ? null : Math.min(MAX_CHUNK, o.chunkSize);
    this.window = o.window === undefined ? null : Math.min(MAX_WINDOW, Math.max(1, o.window));
    this.hash = o.hash ?? inThreadHash;
    this.setTimer =
      o.setTimer ??
      ((ms, fn) => {
        const h = setTimeout(fn, ms);
        return () => clearTimeout(h);
      });
    this.hashWhole = o.hashFile ?? hashFile;
    this.codec = o.codec === undefined ? platformCodec() : o.codec;
    this.off.push(
      o.lanes.onUp((peer) => this.linkUp(peer)),
      o.lanes.onDown((peer) => this.linkDown(peer)),
    );
    for (const peer of o.lanes.peers?.() ?? []) this.linkUp(peer);
    /** Partial files this tab kept before a reload: shown paused until their sender's link is up. */
    this.restoring = o.partials
      ? o.partials.list().then(
          (records) => {
            for (const r of records) this.restore(r);
          },
          () => undefined,
        )
      : Promise.resolve();
  }

  stop(): void {
    for (const f of this.off.splice(0)) f();
    for (const t of this.inc.values()) t.cancelWait?.();
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
      cs: this.cs ?? chooseChunkSize(Math.min(...peers.map((p) => this.rates.get(p) ?? Infinity)), MIN_CHUNK, MAX_CHUNK),
      w: this.window ?? ADAPT_OFFER_WINDOW,
    };
    const legs = new Map<string, Leg>(peers.map((p) => [p, { peer: p, lane: null, state: "hashing", next: 0, acked: 0, pumping: false, gen: 0 }]));
    const t: Outgoing = { offer, file, chunks: chunkCount(file.size, offer.cs), legs, startedAt: this.now(), hashing: true };
    this.out.set(id, t);
    this.emitOut(t);
    offer.sha = await this.hashWhole(file);
    // Text-like by name or type, and its first chunk deflates well: worth deflating chunk by chunk.
    t.deflate = this.codec !== null && file.size > 0 && isTextLike(file.name, file.type) && (await deflatesWell(this.codec, await this.readChunk(t, 0)));
    t.hashing = false;
    for (const leg of legs.values()) {
      if (leg.state !== "hashing") continue;
      leg.state = "paused";
      this.offerLeg(t, leg);
    }
    this.emitOut(t);
    return id;
  }

  /** Sends a file this side offered before again, as a new transfer, to `peers` (after it failed). */
  resend(id: string, peers: readonly string[]): Promise<string> | null {
    const o = this.out.get(id);
    return o && peers.length > 0 ? this.send(o.file, peers) : null;
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

  /**
   * `peer` left the room (`gone`), or no path has reached it for a minute (`unreachable`: a tab
   * closed without a goodbye): what moves to or from it ends; its partial bytes are removed. A
   * partial file restored after a reload and still waiting for its sender is left to its own wait.
   */
  peerGone(peer: string, why: "gone" | "unreachable" = "gone"): void {
    for (const o of this.out.values()) {
      const leg = o.legs.get(peer);
      if (leg && !ENDED.includes(leg.state)) {
        this.endLeg(o, leg, why, "failed", false);
        this.emitOut(o);
      }
    }
    for (const t of this.inc.values()) if (t.peer === peer && !t.restored && !ENDED.includes(t.state)) this.failIncoming(t, why, "failed", false);
    // A lane still up stays attached (a roster that does not list the member yet, after a reload).
    if (why === "gone" && this.o.lanes.lane(peer) !== this.attached.get(peer)) this.attached.delete(peer);
  }

  /** Every transfer, for a view that starts late. */
  views(): TransferView[] {
    return [...[...this.out.values()].map((t) => this.viewOut(t)), ...[...this.inc.values()].map((t) => this.viewIn(t))];
  }

  // ---- lanes ----

  private linkUp(peer: string): void {
    const lane = this.o.lanes.lane(peer);
    if (!lane) return;
    if (this.attached.get(peer) === lane) return this.sameLaneBack(peer, lane); // ICE came back: SCTP carries on
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
    for (const t of this.inc.values()) if (t.peer === peer && t.restored) void this.resumeRestored(t);
  }

  /**
   * The link recovered on the same connection (ICE restart): the lane and its SCTP stream are the
   * same, so what was under way goes on where it was, with no new offer (frames held in the stall
   * arrive in order on the lane).
   */
  private sameLaneBack(peer: string, lane: FileLane): void {
    for (const t of this.out.values()) {
      const leg = t.legs.get(peer);
      if (leg?.lane !== lane || leg.state !== "paused" || !leg.pausedFrom) continue;
      leg.state = leg.pausedFrom;
      leg.pausedFrom = undefined;
      this.emitOut(t);
      if (leg.state === "moving") void this.pump(t, leg);
    }
    for (const t of this.inc.values())
      if (t.peer === peer && t.state === "paused") {
        t.state = "moving";
        this.emit(this.viewIn(t));
      }
  }

  private linkDown(peer: string): void {
    for (const t of this.out.values()) {
      const leg = t.legs.get(peer);
      if (leg?.state === "moving" || leg?.state === "offered") {
        leg.pausedFrom = leg.state;
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
    leg.pausedFrom = undefined;
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
    if (f.t === "fr") return this.receiveResume(peer, f);
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
        if (f.tok) leg.tok = f.tok;
        leg.next = leg.acked = f.from;
        leg.state = "moving";
        leg.pausedFrom = undefined;
        leg.gen++;
        leg.z = f.z === 1;
        if (this.window === null) (leg.ctl ??= new SendWindow()).restart();
        this.emitOut(o);
        void this.pump(o, leg);
        return;
      case "fk":
        // Acks sent before a stall arrive while the leg is paused on the same lane (ICE restart:
        // taken), or after a redial on the new lane ahead of its `fa` (stale, not hostile: ignored,
        // the `fa` says where to go on).
        if (leg.state !== "moving" && leg.pausedFrom !== "moving") return;
        if (f.n < leg.acked || f.n > leg.next) return this.badFrame(o, leg);
        leg.acked = f.n;
        if (leg.ctl) {
          leg.ctl.acked(f.n, this.now());
          if (leg.ctl.rate > 0) this.rates.set(peer, leg.ctl.rate);
        }
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

  /**
   * A receiver that reloaded its page asks to go on (`fr`): it is a new page, so a new peer id, and
   * it proves with the token of its `fa` that it is the page this leg was going to. The leg moves to
   * the new peer and goes on from the chunks the receiver kept. A transfer this page does not have
   * (any more) is answered `fx gone`; one that ended otherwise, with how it ended.
   */
  private receiveResume(peer: string, f: ResumeFrame): void {
    const lane = this.attached.get(peer) ?? null;
    const o = this.out.get(f.id);
    const leg = o && [...o.legs.values()].find((l) => l.tok !== undefined && l.tok === f.tok);
    if (!o || !leg || (leg.peer !== peer && o.legs.has(peer))) {
      this.events.emit("refused", { peer, reason: "unknown-transfer" });
      return this.sendControl(lane, { t: "fx", id: f.id, why: "gone" });
    }
    if (leg.state === "done") return this.sendControl(lane, { t: "fd", id: f.id });
    if (leg.state === "cancelled" || (leg.state === "failed" && leg.reason !== "gone" && leg.reason !== "unreachable"))
      return this.sendControl(lane, { t: "fx", id: f.id, why: leg.reason === "unreachable" || !leg.reason ? "cancelled" : leg.reason });
    if (f.from > o.chunks) {
      this.events.emit("refused", { peer, reason: "protocol" });
      return this.sendControl(lane, { t: "fx", id: f.id, why: "bad-chunk" });
    }
    if (leg.peer !== peer) {
      o.legs.delete(leg.peer);
      leg.peer = peer;
      o.legs.set(peer, leg);
    }
    leg.lane = lane;
    leg.next = leg.acked = f.from;
    leg.state = "moving";
    delete leg.reason;
    leg.gen++;
    this.emitOut(o);
    void this.pump(o, leg);
  }

  private badFrame(o: Outgoing, leg: Leg): void {
    this.events.emit("refused", { peer: leg.peer, reason: "protocol" });
    this.endLeg(o, leg, "bad-chunk", "failed", true);
    this.emitOut(o);
  }

  private endLeg(o: Outgoing, leg: Leg, why: EndReason, state: TransferState, tell: boolean): void {
    leg.state = state;
    leg.reason = why;
    leg.gen++;
    if (tell && why !== "unreachable") this.sendControl(leg.lane, { t: "fx", id: o.offer.id, why });
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
        leg.next - leg.acked < (leg.ctl?.window ?? this.window ?? MAX_WINDOW) &&
        lane.bufferedAmount() < HIGH_WATER
      ) {
        const index = leg.next;
        const bytes = await this.readChunk(t, index);
        const deflated = leg.z && t.deflate ? await this.deflateChunk(t, index, bytes) : null;
        if (leg.gen !== gen || leg.next !== index || leg.state !== "moving") break;
        const frame = encodeChunk(t.offer.id, index, deflated ?? bytes, deflated !== null);
        lane.send(frame);
        leg.ctl?.sent(index, frame.byteLength, this.now());
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

  /** Chunk `index` deflated, or null when that does not make it smaller (deflated once for all legs). */
  private deflateChunk(t: Outgoing, index: number, bytes: Uint8Array): Promise<Uint8Array | null> {
    if (t.deflated?.index !== index) t.deflated = { index, bytes: deflateIfSmaller(this.codec!, bytes).catch(() => null) };
    return t.deflated.bytes;
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
      if (ENDED.includes(known.state))
        return this.sendControl(lane, { t: "fx", id: f.id, why: known.reason === undefined || known.reason === "unreachable" ? "cancelled" : known.reason });
      if (known.state === "asking") return;
      // No acknowledgement goes out until the resume point is said (`fa`): the chunks still being
      // written from the old lane would otherwise ack on the new one before it.
      known.state = "paused";
      void known.queue.then(() => {
        if (ENDED.includes(known.state)) return;
        known.expected = known.verified;
        known.state = "moving";
        this.emit(this.viewIn(known));
        this.sendControl(this.attached.get(peer) ?? null, this.acceptFrame(f.id, known.verified));
      });
      return;
    }
    const open = [...this.inc.values()].filter((t) => t.peer === peer && !ENDED.includes(t.state)).length;
    const t: Incoming = {
      tok: newTransferId(),
      base: 0,
      key: null,
      durable: 0,
      book: Promise.resolve(),
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

  /** `fa`, saying `z` when this side inflates deflated chunks. */
  private acceptFrame(id: string, from: number): AcceptFrame {
    return this.codec ? { t: "fa", id, from, z: 1 } : { t: "fa", id, from };
  }

  private async startReceiving(t: Incoming): Promise<void> {
    t.state = "moving";
    t.startedAt = this.now();
    t.key = this.o.lanes.key?.(t.peer) ?? null;
    this.emit(this.viewIn(t));
    try {
      t.sink = await this.o.store.open(t.offer.size, (bytes) => this.madeDurable(t, bytes));
    } catch {
      return this.failIncoming(t, "storage", "failed", true);
    }
    if (t.state !== "moving") return void t.sink.discard().catch(() => undefined);
    this.saveRecord(t);
    const keeps = this.o.partials && t.sink.name !== undefined && t.key !== null;
    this.sendControl(this.attached.get(t.peer) ?? null, keeps ? { ...this.acceptFrame(t.offer.id, 0), tok: t.tok } : this.acceptFrame(t.offer.id, 0));
    if (t.chunks === 0) t.queue = t.queue.then(() => this.complete(t));
  }

  // ---- resume after a reload (docs/protocol.md, "Files") ----

  /** The store committed `bytes` to disk: the record says how many chunks a reload can keep. */
  private madeDurable(t: Incoming, bytes: number): void {
    t.durable = Math.min(t.chunks, Math.floor(bytes / t.offer.cs));
    this.saveRecord(t);
  }

  private saveRecord(t: Incoming): void {
    const book = this.o.partials;
    const sink = t.sink?.name;
    if (!book || sink === undefined || t.key === null || ENDED.includes(t.state) || t.durable >= t.chunks) return;
    const record: PartialRecord = {
      peer: t.peer,
      key: t.key,
      room: this.o.lanes.room?.() ?? "",
      offer: t.offer,
      tok: t.tok,
      verified: t.durable,
      sink,
      at: this.now(),
    };
    t.book = t.book.then(() => book.put(record)).catch(() => undefined);
  }

  private forgetRecord(t: Incoming): void {
    const book = this.o.partials;
    if (!book || (t.key === null && !t.restored)) return;
    t.book = t.book.then(() => book.remove(t.peer, t.offer.id)).catch(() => undefined);
  }

  /** A record kept before this page reloaded: a paused card until the sender's link is up. */
  private restore(r: PartialRecord): void {
    if (!isPartialRecord(r)) return;
    const k = key(r.peer, r.offer.id);
    if (this.inc.has(k)) return;
    const t: Incoming = {
      offer: r.offer,
      peer: r.peer,
      name: sanitiseFileName(r.offer.name),
      type: sanitiseType(r.offer.type),
      chunks: chunkCount(r.offer.size, r.offer.cs),
      state: "paused",
      expected: r.verified,
      verified: r.verified,
      hasher: this.hash(),
      sink: null,
      queue: Promise.resolve(),
      startedAt: this.now(),
      tok: r.tok,
      key: r.key,
      durable: r.verified,
      book: Promise.resolve(),
      restored: r,
      base: r.verified,
    };
    this.inc.set(k, t);
    // A sender whose page went too (or never comes back) would leave the card paused for ever.
    t.cancelWait = this.setTimer(RESTORE_WAIT_MS, () => {
      if (t.restored && !ENDED.includes(t.state)) this.failIncoming(t, "unreachable", "failed", false);
    });
    this.emit(this.viewIn(t));
    if (this.attached.has(r.peer)) void this.resumeRestored(t);
  }

  /**
   * The sender's link is up: only the same sender page (the key its link proves now is the one
   * the record names, in the same room) may go on. The partial file is opened again at the kept
   * chunks, hashed again from disk, and the sender asked to go on from there (`fr`).
   */
  private async resumeRestored(t: Incoming): Promise<void> {
    const r = t.restored;
    if (!r || ENDED.includes(t.state)) return;
    if (this.o.lanes.key?.(t.peer) !== r.key || (this.o.lanes.room?.() ?? "") !== r.room) {
      this.events.emit("refused", { peer: t.peer, reason: "unknown-transfer" });
      return this.failIncoming(t, "gone", "failed", false);
    }
    if (!t.sink) {
      if (t.state === "moving") return; // being opened
      t.state = "moving";
      t.cancelWait?.();
      const bytes = r.verified * r.offer.cs;
      let reopened: { sink: FileSink; prefix: Blob } | null = null;
      try {
        reopened = (await this.o.store.reopen?.(r.sink, r.offer.size, bytes, (b) => this.madeDurable(t, b))) ?? null;
        if (reopened && reopened.prefix.size !== bytes) throw new Error("partial file shorter than its record");
        for (let at = 0; reopened && at < bytes; at += HASH_SLICE)
          t.hasher.update(new Uint8Array(await reopened.prefix.slice(at, Math.min(bytes, at + HASH_SLICE)).arrayBuffer()));
      } catch {
        if (reopened) void reopened.sink.discard().catch(() => undefined);
        reopened = null;
      }
      if (!reopened) return this.failIncoming(t, "storage", "failed", false);
      if (ENDED.includes(t.state)) return void reopened.sink.discard().catch(() => undefined);
      t.sink = reopened.sink;
      t.startedAt = this.now();
    }
    // Asked again on every new lane until the first chunk comes (the ask may have met a dying lane).
    t.state = "moving";
    t.expected = t.verified;
    this.emit(this.viewIn(t));
    this.sendControl(this.attached.get(t.peer) ?? null, { t: "fr", id: t.offer.id, from: t.verified, tok: t.tok });
  }

  private receiveChunk(peer: string, data: ArrayBuffer): void {
    const c = decodeChunk(data);
    if (!c.ok) return this.events.emit("refused", { peer, reason: "bad-chunk" });
    const t = this.inc.get(key(peer, c.id));
    if (!t) return this.events.emit("refused", { peer, reason: "unknown-transfer" });
    if (t.state === "cancelled" || t.state === "failed") return; // in flight when it ended
    const length = chunkLength(t.offer.size, t.offer.cs, c.index);
    // A deflated chunk is sent only when smaller, to a receiver that said it inflates; it must inflate to exactly `length`.
    const fits = c.deflated ? this.codec !== null && c.payload.length < length : length === c.payload.length;
    // Paused: the link stalled, and chunks sent before it arrive on the same lane once ICE is back.
    if ((t.state !== "moving" && t.state !== "paused") || !t.sink || c.index !== t.expected || !fits) {
      this.events.emit("refused", { peer, reason: "bad-chunk" });
      return this.failIncoming(t, "bad-chunk", "failed", true);
    }
    delete t.restored;
    t.expected++;
    const sink = t.sink;
    const codec = this.codec;
    const received = c.deflated ? null : c.payload;
    const deflated = c.payload;
    t.queue = t.queue.then(async () => {
      if (t.state === "failed" || t.state === "cancelled") return;
      let payload = received;
      if (!payload)
        try {
          payload = await inflateExactly(codec!, deflated, length);
        } catch {
          // Not raw DEFLATE, or not exactly the chunk's length (a "zip bomb" stops just past it).
          if (stopped(t)) return;
          this.events.emit("refused", { peer, reason: "bad-deflate" });
          return this.failIncoming(t, "bad-chunk", "failed", true);
        }
      if (stopped(t)) return;
      try {
        await sink.append(payload);
      } catch {
        return this.failIncoming(t, "storage", "failed", true);
      }
      t.hasher.update(payload);
      t.verified++;
      this.emit(this.viewIn(t));
      if (t.verified === t.chunks) return this.complete(t);
      if (t.state === "moving" && t.verified % Math.max(1, Math.floor(t.offer.w / 4)) === 0)
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
    this.forgetRecord(t);
    this.sendControl(this.attached.get(t.peer) ?? null, { t: "fd", id: t.offer.id });
    this.emit(this.viewIn(t));
  }

  private failIncoming(t: Incoming, why: EndReason, state: TransferState, tell: boolean): void {
    t.state = state;
    t.reason = why;
    t.cancelWait?.();
    this.forgetRecord(t);
    if (tell && why !== "unreachable") this.sendControl(this.attached.get(t.peer) ?? null, { t: "fx", id: t.offer.id, why });
    const sink = t.sink;
    t.sink = null;
    if (sink) t.queue = t.queue.then(() => sink.discard()).catch(() => undefined);
    else if (t.restored) {
      const name = t.restored.sink;
      t.queue = t.queue.then(() => this.o.store.remove?.(name)).catch(() => undefined);
    }
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
    if (t.restored && t.state === "paused") v.kept = true;
    if (t.base > 0) v.from = Math.min(t.offer.size, t.base * t.offer.cs);
    return v;
  }
}

/** Failed or cancelled (read anew after an await). */
function stopped(t: Incoming): boolean {
  return t.state === "failed" || t.state === "cancelled";
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
