import { Emitter } from "../emitter";
import { randomBase64Url } from "../ids";
import type { Certificate } from "../auth/keys";
import {
  MAX_GONE,
  decodeFrame,
  infoInput,
  signedInput,
  type AckFrame,
  type CallFrame,
  type EndToEndFrame,
  type MemberInfo,
  type MessageFrame,
  type PingFrame,
  type PresenceFrame,
  type PresenceState,
  type RefusalReason,
  type SignedMember,
} from "../delivery/frames";
import { Outbox, orderedStreams, type InboundStream, type OutboxEntry, type StreamFactory } from "../delivery/streams";
import { cleanName, validateOutgoing } from "../delivery/message";
import { Roster } from "./roster";
import { andThen, type RoomTrust } from "./trust";
import { CompressingLinks } from "./compress";
import type { Codec } from "../compress";

/**
 * The links to other members, as the mesh engine sees them. A link is "up" once its data channel is
 * open AND the member on the other end proved its certified key (the app's auth step); `from` on a frame
 * is the authenticated member at the other end of the link it came over.
 */
export interface LinksPort {
  /** Sends one frame over the direct link; false when that link is not up. */
  send(to: string, frame: string): boolean;
  onFrame(handler: (from: string, frame: string) => void): () => void;
  onUp(handler: (peer: string) => void): () => void;
  onDown(handler: (peer: string) => void): () => void;
}

export interface Clock {
  now(): number;
  /** One-shot timer; returns its cancel. */
  setTimer(ms: number, fn: () => void): () => void;
}

export interface BackfillOptions {
  /** Off by default: a late joiner sees only what is sent after it joined. */
  share: boolean;
  /** At most this many of this side's own latest messages ... */
  max: number;
  /** ... and none older than this. */
  maxAgeMs: number;
}

export interface MeshOptions {
  self: { id: string; name: string };
  room: string;
  links: LinksPort;
  clock: Clock;
  /** The room's authority, the current epoch and this side's key (shared with the session's handshakes). */
  trust: RoomTrust;
  /** This side's certificate, from the host. */
  cert: Certificate;
  /** Resend an unacknowledged message after this long without an ack (ms). Default 2000. */
  resendMs?: number;
  /** Housekeeping period (ms). Default 1000. */
  tickMs?: number;
  /** Presence heartbeat to every direct link (ms). Default 5000. */
  presenceMs?: number;
  /** Most frames (re)sent per recipient per tick. Default 256. */
  burst?: number;
  /** A member no path has reached for this long is shown as unreachable (ms). Default 60000. */
  unreachableAfterMs?: number;
  backfill?: Partial<BackfillOptions>;
  /** Instance id of this side (random by default). */
  inc?: string;
  newId?: () => string;
  /** Inbound stream implementation (de-duplication and ordering); swapped only by self-check tests. */
  streams?: StreamFactory;
  /**
   * Deflates long messages to members who say they inflate, and says this side does (presence `z`;
   * room/compress.ts). Default null: frames go as they are and presence says nothing.
   */
  codec?: Codec | null;
}

export interface IncomingMessage {
  id: string;
  from: string;
  text: string;
  at: number;
  ttlMs: number | null;
  backfill: boolean;
  /** The link it arrived over: the sender itself, or the member that relayed it. */
  via: string;
}

export type Receipt = "sending" | "delivered" | "read" | "failed";
export type MemberPath = "direct" | "relay" | "none";

export interface MemberView {
  id: string;
  name: string;
  /**
   * online / away as the member reports it; reconnecting when no path reaches it now; unreachable
   * when none has for `unreachableAfterMs` (a crashed tab or a lost network never says goodbye: it
   * stays a member, its messages wait in the outbox and go out if it comes back).
   */
  state: "online" | "away" | "reconnecting" | "unreachable";
  path: MemberPath;
  /** Relaying member when path is "relay". */
  via: string | null;
  since: number;
}

export interface MeshEvents extends Record<string, unknown> {
  message: IncomingMessage;
  receipt: { id: string; peer: string; state: Receipt };
  /** This side sent a message to `to` members (field data counts it; no content). */
  sent: { id: string; to: number };
  roster: MemberView[];
  refused: { from: string; reason: RefusalReason };
  /** A member over a direct link started (on) or stopped typing. */
  typing: { from: string; on: boolean };
  /** A member answered `ping(peer, seq)`. */
  pong: { from: string; seq: number };
  /** The host's new epoch left `id` out: it is no longer a member (`self`: this side was removed). */
  removed: { id: string; self: boolean };
  /** Call signalling from a member over its direct link (core/calls). */
  call: { from: string; frame: CallFrame };
  /** The direct link to `peer` came up or went down (stalled, closed). */
  link: { peer: string; up: boolean };
}

interface SentRecord {
  id: string;
  at: number;
  recipients: Map<string, Receipt>;
}

interface Inbound {
  stream: InboundStream<MessageFrame & { via: string }>;
  from: string;
  inc: string;
  readUpTo: number;
  /** Resend the ack on ticks until this time (read marks have no ack of their own). */
  ackUntil: number;
}

const MAX_INBOUND_STREAMS = 64;
const MAX_SENT_RECORDS = 5000;

/** Every value, synchronously when none is a promise. */
function allOf<T>(values: (T | Promise<T>)[]): T[] | Promise<T[]> {
  return values.some((v) => v instanceof Promise) ? Promise.all(values) : (values as T[]);
}

/**
 * Group chat over a full mesh: guaranteed, ordered, de-duplicated delivery of every member's
 * messages to every other member, relayed through a member that can reach the target when the
 * direct link is down. Transport-agnostic: links and time come in through ports.
 *
 * Delivery model (docs/protocol.md, "Rooms and delivery"): each (sender instance → recipient
 * instance) pair is one stream numbered from 1; the sender keeps unacked entries in an outbox and
 * resends them on link up, on new relay paths and after `resendMs`; the recipient releases them in
 * order exactly once and acks cumulatively (with a cumulative read mark).
 */
export class MeshRoom {
  readonly events = new Emitter<MeshEvents>();
  readonly inc: string;
  readonly since: number;
  readonly roster: Roster;
  private readonly up = new Set<string>();
  private readonly outboxes = new Map<string, Outbox>();
  private readonly inbound = new Map<string, Inbound>();
  private readonly sent = new Map<string, SentRecord>();
  private readonly history: { id: string; at: number; text: string; ttl: number | null }[] = [];
  private readonly unsubscribe: (() => void)[] = [];
  private readonly backfill: BackfillOptions;
  private readonly streams: StreamFactory;
  private readonly newId: () => string;
  private st: PresenceState = "online";
  private ownName: string;
  private reading = false;
  private v = 0;
  private relayTurn = 0;
  private lastPresence = -Infinity;
  /** Members no path reaches, since when (ms); and those already announced as unreachable. */
  private readonly noPathSince = new Map<string, number>();
  private readonly announcedUnreachable = new Set<string>();
  private cancelTick: (() => void) | null = null;
  private stopped = false;
  /** This side's info as it signed it (null until the first signature is made). */
  private signedSelf: SignedMember | null = null;
  /** Signed departures seen, gossiped so that members without a link to the one leaving learn it. */
  private readonly departed: SignedMember[] = [];
  /** Checked member signatures (key, signed text and signature → valid), bounded. */
  private readonly checkedInfo = new Map<string, boolean>();
  /** Members the host removed: nothing from them is taken any more, even over a link still open. */
  private readonly expelled = new Set<string>();
  /** Presence frames from a link whose checks are still running (so each link's frames apply in order). */
  private readonly presenceQueue = new Map<string, Promise<void>>();
  /** Counters for diagnostics and tests. */
  readonly stats = { refused: 0, relayed: 0, resent: 0, duplicates: 0 };
  private readonly links: LinksPort;

  constructor(private readonly o: MeshOptions) {
    this.links = o.codec ? new CompressingLinks(o.links, o.codec, (from, reason) => this.refuse(from, reason)) : o.links;
    this.inc = o.inc ?? randomBase64Url(9);
    this.since = o.clock.now();
    this.roster = new Roster(o.self.id);
    this.ownName = cleanName(o.self.name);
    this.backfill = { share: false, max: 50, maxAgeMs: 10 * 60_000, ...o.backfill };
    this.streams = o.streams ?? orderedStreams;
    this.newId = o.newId ?? (() => randomBase64Url(12));
  }

  get self(): MemberInfo {
    return { id: this.o.self.id, inc: this.inc, name: this.name, since: this.since, st: this.st, v: this.v };
  }

  /** This side's display name as the others see it ("" for none). */
  get name(): string {
    return this.ownName;
  }

  /** Changes this side's display name (cleaned, length-limited); every member learns it. */
  setName(name: string): void {
    const clean = cleanName(name);
    if (clean === this.ownName || this.stopped) return;
    this.ownName = clean;
    this.changed();
  }

  /**
   * Panic: the texts kept for late joiners (backfill) are dropped. Messages still on their way stay
   * in the outbox until delivered (they are what the others have not received yet).
   */
  forgetHistory(): void {
    this.history.length = 0;
  }

  /** Tells the members over direct links that this side is typing (on) or stopped. */
  typing(on: boolean): void {
    if (this.stopped) return;
    const frame = JSON.stringify({ t: "y", on });
    for (const p of this.up) this.links.send(p, frame);
  }

  /** App-level ping over the direct link to `peer` (quality indicator); false without one. */
  ping(peer: string, seq: number): boolean {
    if (this.stopped || !this.up.has(peer)) return false;
    const frame: PingFrame = { t: "i", s: seq };
    return this.links.send(peer, JSON.stringify(frame));
  }

  /**
   * Removes a member no path has reached for `unreachableAfterMs` (a crashed tab that never said
   * goodbye), so a room at its size limit can take someone new. False when it is reachable.
   */
  evictUnreachable(id: string): boolean {
    return this.members().find((v) => v.id === id)?.state === "unreachable" && this.evict(id);
  }

  /**
   * Buries a member's instance here (nobody else can sign its departure): its seat goes to a new page
   * that proved the same member key (a reload), or to someone new in place of an unreachable member.
   */
  evict(id: string): boolean {
    const m = this.roster.members.get(id);
    if (!m) return false;
    this.roster.forget(id, m.inc);
    this.dropMember(id);
    this.broadcastPresence();
    this.emitRoster();
    return true;
  }

  start(): void {
    this.changed();
    const l = this.links;
    this.unsubscribe.push(
      l.onFrame((from, frame) => this.receive(from, frame)),
      l.onUp((peer) => this.linkUp(peer)),
      l.onDown((peer) => this.linkDown(peer)),
    );
    this.schedule();
  }

  /** Stops without telling anyone (tab closing without a goodbye, or tests). */
  stop(): void {
    this.stopped = true;
    this.cancelTick?.();
    for (const u of this.unsubscribe.splice(0)) u();
  }

  /** Leaves the room: members drop this instance at once (gossiped to those without a link). */
  leave(): void {
    if (this.stopped || this.st === "leaving") return;
    this.st = "leaving";
    const done = this.changed();
    this.cancelTick?.();
    if (done instanceof Promise) void done.finally(() => this.stop());
    else this.stop();
  }

  setAway(away: boolean): void {
    const st: PresenceState = away ? "away" : "online";
    if (st === this.st || this.st === "leaving") return;
    this.st = st;
    this.changed();
  }

  /** This side's info changed (or the room starts): sign it, then tell every member. */
  private changed(): void | Promise<void> {
    this.v++;
    const info = this.self;
    const cert = this.o.cert;
    const result = andThen(this.o.trust.self.sign(infoInput(this.o.room, info)), (s) => {
      if (info.v !== this.v) return; // a later change is being signed
      this.signedSelf = { i: info, c: cert, s };
      this.broadcastPresence();
    });
    if (result instanceof Promise) return result.catch(() => undefined);
  }

  /** Sends a chat message to every current member. Returns its id, or null for invalid text. */
  send(text: string, ttlMs: number | null = null): string | null {
    const checked = validateOutgoing(text);
    if (!checked.ok || this.stopped) return null;
    const id = this.newId();
    const at = this.o.clock.now();
    const record: SentRecord = { id, at, recipients: new Map() };
    this.remember(record);
    for (const m of this.roster.members.values()) {
      const entry = this.outboxOf(m.id, m.inc).push(id, at, checked.text, ttlMs, false);
      record.recipients.set(m.id, entry ? "sending" : "failed");
      if (entry) this.transmit(m.id, entry);
    }
    this.events.emit("sent", { id, to: record.recipients.size });
    if (this.backfill.share) {
      this.history.push({ id, at, text: checked.text, ttl: ttlMs });
      if (this.history.length > this.backfill.max) this.history.shift();
    }
    return id;
  }

  /** Per-recipient state of one of this side's messages. */
  receipts(id: string): ReadonlyMap<string, Receipt> | null {
    return this.sent.get(id)?.recipients ?? null;
  }

  /**
   * The person is looking at the room (the page is visible): what arrives is read as it is shown,
   * so its ack carries the read mark too (one ack instead of two). Turning it on marks what came before.
   */
  setReading(on: boolean): void {
    this.reading = on;
    if (on) this.markRead();
  }

  /** Marks everything received so far as read and tells the senders. */
  markRead(): void {
    for (const s of this.inbound.values()) {
      if (s.readUpTo < s.stream.delivered) {
        s.readUpTo = s.stream.delivered;
        s.ackUntil = this.o.clock.now() + 10_000;
        this.sendAck(s);
      }
    }
  }

  members(): MemberView[] {
    const now = this.o.clock.now();
    const after = this.o.unreachableAfterMs ?? 60_000;
    return [...this.roster.members.values()]
      .map((m): MemberView => {
        const route = this.routeTo(m.id);
        const path: MemberPath = route === null ? "none" : route === m.id ? "direct" : "relay";
        const lost = this.noPathSince.get(m.id);
        const state = path !== "none" ? (m.st === "away" ? "away" : "online") : lost !== undefined && now - lost >= after ? "unreachable" : "reconnecting";
        return { id: m.id, name: m.name, state, path, via: path === "relay" ? route : null, since: m.since };
      })
      .sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  }

  /** Messages waiting for an ack from `peer` (0 when unknown). */
  pendingFor(peer: string): number {
    return this.outboxes.get(peer)?.size ?? 0;
  }

  // ---- links ----

  private linkUp(peer: string): void {
    if (this.stopped) return;
    this.up.add(peer);
    this.sendPresence(peer);
    this.broadcastPresence();
    // A new channel: whatever was in flight on the old one may be lost.
    const box = this.outboxes.get(peer);
    if (box) for (const e of box.pending) this.transmit(peer, e);
    for (const s of this.inbound.values()) if (s.from === peer) this.sendAck(s);
    this.emitRoster();
    this.events.emit("link", { peer, up: true });
  }

  private linkDown(peer: string): void {
    if (!this.up.delete(peer) || this.stopped) return;
    this.broadcastPresence();
    this.emitRoster();
    this.events.emit("link", { peer, up: false });
  }

  // ---- receiving ----

  /** Sends call signalling over the direct link to `peer` only; false when that link is not up. */
  sendCall(peer: string, frame: CallFrame): boolean {
    return !this.stopped && this.up.has(peer) && this.links.send(peer, JSON.stringify(frame));
  }

  /** Members with a direct link up now. */
  get linked(): string[] {
    return [...this.up];
  }

  /** Handles one frame from a link. Public for tests; never throws. */
  receive(from: string, data: string): void {
    if (this.stopped) return;
    if (this.expelled.has(from)) return this.refuse(from, "stale");
    const decoded = decodeFrame(data);
    if (!decoded.ok) return this.refuse(from, decoded.reason);
    const frame = decoded.frame;
    switch (frame.t) {
      case "p":
        if (this.links instanceof CompressingLinks) this.links.peerInflates(from, frame.z === 1);
        return this.onPresence(from, frame);
      case "y":
        if (this.up.has(from)) this.events.emit("typing", { from, on: frame.on });
        return;
      case "i":
        if (this.up.has(from)) this.links.send(from, JSON.stringify({ t: "o", s: frame.s }));
        return;
      case "o":
        if (this.up.has(from)) this.events.emit("pong", { from, seq: frame.s });
        return;
      case "c":
        if (this.up.has(from)) this.events.emit("call", { from, frame });
        return;
      case "w": {
        if (frame.o === this.o.self.id) return this.receiveEndToEnd(from, frame.x, true);
        if (frame.o === from || !this.up.has(frame.o)) return; // no direct link: the sender retries later
        const inner = decodeFrame(frame.x);
        if (!inner.ok || (inner.frame.t !== "m" && inner.frame.t !== "a") || inner.frame.o !== frame.o)
          return this.refuse(from, inner.ok ? "bad-shape" : inner.reason);
        this.stats.relayed++;
        this.links.send(frame.o, frame.x);
        return;
      }
      default:
        return this.onEndToEnd(from, frame, false);
    }
  }

  private receiveEndToEnd(from: string, data: string, relayed: boolean): void {
    const decoded = decodeFrame(data);
    if (!decoded.ok) return this.refuse(from, decoded.reason);
    if (decoded.frame.t !== "m" && decoded.frame.t !== "a") return this.refuse(from, "bad-shape");
    this.onEndToEnd(from, decoded.frame, relayed);
  }

  private onEndToEnd(via: string, frame: EndToEndFrame, relayed: boolean): void {
    if (frame.r !== this.o.room) return this.refuse(via, "wrong-room");
    if (frame.o !== this.o.self.id) return this.refuse(via, "not-for-me");
    if (frame.oi !== this.inc || this.roster.isGone(frame.f, frame.fi) || this.expelled.has(frame.f)) return this.refuse(via, "stale");
    const { sig, ...body } = frame;
    if (sig === undefined) {
      // Unsigned only over the direct, authenticated link from the frame's own origin.
      if (relayed || frame.f !== via) return this.refuse(via, "bad-signature");
      if (frame.t === "m") this.onMessage(via, frame);
      else this.onAck(frame);
      return;
    }
    // Signed by its author's member key, as this side knows it for that very instance.
    const author = this.roster.members.get(frame.f);
    if (!author?.signed || author.inc !== frame.fi) return this.refuse(via, "stale");
    const result = andThen(this.o.trust.verify(author.signed.c.k, signedInput(body), sig), (ok) => {
      if (this.stopped) return;
      if (!ok) return this.refuse(via, "bad-signature");
      if (frame.t === "m") this.onMessage(via, frame);
      else this.onAck(frame);
    });
    if (result instanceof Promise) result.catch(() => this.refuse(via, "bad-signature"));
  }

  private onMessage(via: string, frame: MessageFrame): void {
    const key = `${frame.f}|${frame.fi}`;
    let s = this.inbound.get(key);
    if (!s) {
      if (this.inbound.size >= MAX_INBOUND_STREAMS) this.dropOldestInbound();
      s = { stream: this.streams(), from: frame.f, inc: frame.fi, readUpTo: 0, ackUntil: 0 };
      this.inbound.set(key, s);
    }
    const released = s.stream.offer(frame.n, { ...frame, via });
    if (released.length === 0) this.stats.duplicates++;
    // The ack goes out before anyone renders the messages: the sender's round trip is the network's.
    if (this.reading && released.length > 0) {
      s.readUpTo = s.stream.delivered;
      s.ackUntil = this.o.clock.now() + 10_000;
    }
    this.sendAck(s);
    // The sender's clock says when it was written; a time after its arrival here (a clock ahead, or a
    // peer lying) is shown as the arrival time.
    const now = this.o.clock.now();
    for (const m of released)
      this.events.emit("message", { id: m.id, from: m.f, text: m.x, at: Math.min(m.at, now), ttlMs: m.ttl, backfill: m.bf, via: m.via });
  }

  private onAck(frame: AckFrame): void {
    const box = this.outboxes.get(frame.f);
    if (!box || box.inc !== frame.fi) return;
    const { delivered, read } = box.ack(frame.n, frame.rd);
    for (const id of delivered) this.setReceipt(id, frame.f, "delivered");
    for (const id of read) this.setReceipt(id, frame.f, "read");
  }

  /**
   * A neighbour's presence. Nothing in it about a member is taken unless that member signed it with
   * a key the host certified (and the certificate is good in the current epoch); a newer epoch
   * signed by the host is taken first, and drops the members it leaves out. The checks may take a
   * moment (WebCrypto): frames from one link still apply in the order they came.
   */
  private onPresence(from: string, frame: PresenceFrame): void {
    if (frame.r !== this.o.room) return this.refuse(from, "wrong-room");
    if (frame.me.i.id !== from) return this.refuse(from, "bad-shape");
    const checked = andThen(frame.ep ? this.o.trust.adopt(frame.ep) : false, (adopted) => {
      if (adopted) this.applyEpoch();
      return allOf([frame.me, ...frame.mem, ...frame.gone].map((m) => this.checkSigned(m)));
    });
    const apply = (ok: boolean[]) => {
      if (this.stopped) return;
      if (!ok[0]) return this.refuse(from, "bad-signature");
      this.applyPresence(from, frame, ok);
    };
    const queued = this.presenceQueue.get(from);
    if (!queued && !(checked instanceof Promise)) return apply(checked as boolean[]);
    const next = (queued ?? Promise.resolve())
      .then(() => checked)
      .then(apply)
      .catch(() => undefined)
      .finally(() => {
        if (this.presenceQueue.get(from) === next) this.presenceQueue.delete(from);
      });
    this.presenceQueue.set(from, next);
  }

  /** Whether a member signed this info with the key its certificate names, and the certificate is good now. */
  private checkSigned(m: SignedMember): boolean | Promise<boolean> {
    return andThen(this.o.trust.certifies(m.i.id, m.c), (certified) => {
      if (!certified) return false;
      // Keyed by the key, the signed text and the signature: a signature that checked for one info says nothing of another.
      const input = infoInput(this.o.room, m.i);
      const key = `${m.c.k}|${input}|${m.s}`;
      const known = this.checkedInfo.get(key);
      if (known !== undefined) return known;
      return andThen(this.o.trust.verify(m.c.k, input, m.s), (ok) => {
        this.checkedInfo.set(key, ok);
        if (this.checkedInfo.size > 1024) this.checkedInfo.delete(this.checkedInfo.keys().next().value!);
        return ok;
      });
    });
  }

  private applyPresence(from: string, frame: PresenceFrame, ok: boolean[]): void {
    let changed = false;
    const newlyReachable: string[] = [];
    const entries = [frame.me, ...frame.mem, ...frame.gone];
    // Newer instances first, so a replaced instance retargets instead of dropping; what did not
    // check out is left aside (a member that is not up to date may still gossip a removed one).
    entries.forEach((m, i) => {
      if (ok[i]) changed = this.learn(m) || changed;
    });
    const member = this.roster.members.get(from);
    if (member && member.inc === frame.me.i.inc) {
      const before = new Set(this.reachable());
      member.reach = new Set(frame.reach);
      for (const id of this.reachable()) if (!before.has(id)) newlyReachable.push(id);
      changed = true;
    }
    if (changed) this.emitRoster();
    for (const id of newlyReachable) {
      const box = this.outboxes.get(id);
      if (box && !this.up.has(id)) for (const e of box.pending) this.transmit(id, e);
    }
  }

  /**
   * The host's new epoch is in force: members it does not name are dropped, this side too if need
   * be. Every link hears of the epoch first, the dropped members' too (so they learn they were removed).
   */
  private applyEpoch(): void {
    const named = new Set(this.o.trust.epochStatement?.m ?? []);
    this.broadcastPresence();
    for (const m of [...this.roster.members.values()]) {
      if (named.has(m.id)) continue;
      this.expelled.add(m.id);
      this.roster.forget(m.id, m.inc);
      this.dropMember(m.id);
      this.events.emit("removed", { id: m.id, self: false });
    }
    this.emitRoster();
    if (!named.has(this.o.self.id)) this.events.emit("removed", { id: this.o.self.id, self: true });
  }

  /** A new epoch the host (this side) signed: the others learn it with the next presence, sent now. */
  epochChanged(): void {
    this.applyEpoch();
  }

  private learn(signed: SignedMember): boolean {
    const info = signed.i;
    const result = this.roster.learn(info, signed);
    if (info.st === "leaving" && (result === "left" || result === "ignored")) this.rememberDeparture(signed);
    switch (result) {
      case "new": {
        this.outboxOf(info.id, info.inc);
        if (this.backfill.share) this.queueBackfill(info.id);
        this.broadcastPresence();
        return true;
      }
      case "replaced": {
        this.outboxes.get(info.id)?.retarget(info.inc);
        for (const [k, s] of this.inbound) if (s.from === info.id && s.inc !== info.inc) this.inbound.delete(k);
        this.broadcastPresence();
        return true;
      }
      case "left":
        this.dropMember(info.id);
        this.broadcastPresence();
        return true;
      case "updated":
        return true;
      default:
        return false;
    }
  }

  private dropMember(id: string): boolean {
    const box = this.outboxes.get(id);
    if (box) for (const e of box.pending) this.setReceipt(e.id, id, "failed");
    this.outboxes.delete(id);
    for (const [k, s] of this.inbound) if (s.from === id) this.inbound.delete(k);
    return true;
  }

  private queueBackfill(peer: string): void {
    const m = this.roster.members.get(peer);
    if (!m) return;
    const oldest = this.o.clock.now() - this.backfill.maxAgeMs;
    const box = this.outboxOf(peer, m.inc);
    for (const h of this.history) {
      const entry = h.at >= oldest ? box.push(h.id, h.at, h.text, h.ttl, true) : null;
      if (entry) this.transmit(peer, entry);
    }
  }

  // ---- sending ----

  private outboxOf(peer: string, inc: string): Outbox {
    let box = this.outboxes.get(peer);
    if (!box) this.outboxes.set(peer, (box = new Outbox(inc)));
    return box;
  }

  private transmit(peer: string, entry: OutboxEntry): void {
    const box = this.outboxes.get(peer);
    if (!box || this.stopped) return;
    const route = this.routeTo(peer);
    if (route === null) return;
    entry.sentAt = this.o.clock.now();
    const { inc } = box;
    const n = entry.n;
    const body: Omit<MessageFrame, "sig"> = {
      t: "m",
      r: this.o.room,
      f: this.o.self.id,
      fi: this.inc,
      o: peer,
      oi: inc,
      n,
      id: entry.id,
      at: entry.at,
      x: entry.text,
      ttl: entry.ttl,
      bf: entry.bf,
    };
    // Over the direct, authenticated link: unsigned (WebCrypto is asynchronous and costs the round trip).
    if (this.up.has(peer) && this.links.send(peer, JSON.stringify(body))) return;
    if (entry.frame !== null) return this.deliver(peer, entry.frame);
    const result = andThen(this.o.trust.self.sign(signedInput(body)), (sig) => {
      if (box.inc !== inc || entry.n !== n || this.outboxes.get(peer) !== box) return; // retargeted meanwhile
      entry.frame = JSON.stringify({ ...body, sig });
      this.deliver(peer, entry.frame);
    });
    if (result instanceof Promise) result.catch(() => undefined);
  }

  private sendAck(s: Inbound): void {
    const body: Omit<AckFrame, "sig"> = {
      t: "a",
      r: this.o.room,
      f: this.o.self.id,
      fi: this.inc,
      o: s.from,
      oi: s.inc,
      n: s.stream.delivered,
      rd: Math.min(s.readUpTo, s.stream.delivered),
    };
    if (this.up.has(s.from) && this.links.send(s.from, JSON.stringify(body))) return;
    const result = andThen(this.o.trust.self.sign(signedInput(body)), (sig) => this.deliver(s.from, JSON.stringify({ ...body, sig })));
    if (result instanceof Promise) result.catch(() => undefined);
  }

  /** Direct when the link is up, else wrapped for a member that reported a link to `peer`. */
  private deliver(peer: string, frame: string): void {
    if (this.stopped) return;
    if (this.up.has(peer) && this.links.send(peer, frame)) return;
    const relays = this.relaysFor(peer);
    if (relays.length === 0) return;
    const relay = relays[this.relayTurn++ % relays.length]!;
    this.links.send(relay, JSON.stringify({ t: "w", o: peer, x: frame }));
  }

  private relaysFor(peer: string): string[] {
    const out: string[] = [];
    for (const r of this.up) if (r !== peer && this.roster.members.get(r)?.reach.has(peer)) out.push(r);
    return out.sort();
  }

  private routeTo(peer: string): string | null {
    if (this.up.has(peer)) return peer;
    return this.relaysFor(peer)[0] ?? null;
  }

  private reachable(): string[] {
    return [...this.roster.members.keys()].filter((id) => this.routeTo(id) !== null);
  }

  private setReceipt(id: string, peer: string, state: Receipt): void {
    const r = this.sent.get(id);
    if (!r) return;
    const prev = r.recipients.get(peer);
    if (prev === state || prev === "read" || prev === undefined) return;
    r.recipients.set(peer, state);
    this.events.emit("receipt", { id, peer, state });
  }

  private remember(record: SentRecord): void {
    this.sent.set(record.id, record);
    if (this.sent.size > MAX_SENT_RECORDS) this.sent.delete(this.sent.keys().next().value!);
  }

  private dropOldestInbound(): void {
    const first = this.inbound.keys().next().value;
    if (first !== undefined) this.inbound.delete(first);
  }

  // ---- presence ----

  private rememberDeparture(signed: SignedMember): void {
    if (this.departed.some((d) => d.i.id === signed.i.id && d.i.inc === signed.i.inc)) return;
    this.departed.push(signed);
    if (this.departed.length > MAX_GONE) this.departed.shift();
  }

  /** Null until this side's info is signed (a moment after start). */
  private presenceFrame(): string | null {
    if (!this.signedSelf) return null;
    const mem: SignedMember[] = [];
    for (const m of this.roster.members.values()) if (m.signed) mem.push(m.signed);
    const frame: PresenceFrame = { t: "p", r: this.o.room, me: this.signedSelf, reach: [...this.up], mem, gone: this.departed.slice() };
    const ep = this.o.trust.epochStatement;
    if (ep) frame.ep = ep;
    if (this.o.codec) frame.z = 1;
    return JSON.stringify(frame);
  }

  private sendPresence(peer: string): void {
    const frame = this.presenceFrame();
    if (frame) this.links.send(peer, frame);
  }

  private broadcastPresence(): void {
    const frame = this.presenceFrame();
    if (!frame) return;
    for (const p of this.up) this.links.send(p, frame);
    this.lastPresence = this.o.clock.now();
  }

  private emitRoster(): void {
    this.events.emit("roster", this.members());
  }

  private refuse(from: string, reason: RefusalReason): void {
    this.stats.refused++;
    this.events.emit("refused", { from, reason });
  }

  // ---- housekeeping ----

  private schedule(): void {
    if (this.stopped) return;
    this.cancelTick = this.o.clock.setTimer(this.o.tickMs ?? 1000, () => {
      this.tick();
      this.schedule();
    });
  }

  /** Resends what waited too long, repeats fresh read marks, sends the presence heartbeat. */
  tick(): void {
    if (this.stopped) return;
    const now = this.o.clock.now();
    const resendMs = this.o.resendMs ?? 2000;
    const burst = this.o.burst ?? 256;
    for (const [peer, box] of this.outboxes) {
      if (this.routeTo(peer) === null) continue;
      let sent = 0;
      for (const e of box.pending) {
        if (sent >= burst) break;
        if (now - e.sentAt < resendMs) continue;
        if (e.sentAt !== -Infinity) this.stats.resent++;
        this.transmit(peer, e);
        sent++;
      }
    }
    for (const s of this.inbound.values()) if (s.ackUntil > now) this.sendAck(s);
    if (now - this.lastPresence >= (this.o.presenceMs ?? 5000)) this.broadcastPresence();
    this.trackUnreachable(now);
  }

  /** Notes since when no path reaches each member; the roster is sent again when one turns unreachable. */
  private trackUnreachable(now: number): void {
    const after = this.o.unreachableAfterMs ?? 60_000;
    let crossed = false;
    for (const id of this.roster.members.keys()) {
      if (this.routeTo(id) !== null) {
        this.noPathSince.delete(id);
        continue;
      }
      const since = this.noPathSince.get(id);
      if (since === undefined) this.noPathSince.set(id, now);
      else if (now - since >= after && !this.announcedUnreachable.has(id)) crossed = true;
    }
    for (const id of this.noPathSince.keys()) if (!this.roster.members.has(id)) this.noPathSince.delete(id);
    this.announcedUnreachable.clear();
    for (const [id, since] of this.noPathSince) if (now - since >= after) this.announcedUnreachable.add(id);
    if (crossed) this.emitRoster();
  }
}
