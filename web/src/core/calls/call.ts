import { sdpFingerprint, type ChannelFingerprints } from "../auth/fingerprint";
import type { MediaPort } from "../connection/ports";
import type { CallFrame } from "../delivery/frames";
import { Emitter } from "../emitter";
import type { MeshRoom } from "../room/mesh";

/** Most people in one call, this side included: a full mesh sends every stream to each of the others. */
export const MAX_CALL = 6;
/** An offer unanswered this long is rolled back and made again. */
const OFFER_TIMEOUT_MS = 10_000;

/** What the call needs of the room: its direct authenticated links (MeshSession and MeshRoom). */
export interface CallLinks {
  send(peer: string, frame: CallFrame): boolean;
  /** Media on the link's own connection, the fingerprints its handshake bound, and whether this side dialled it. */
  media(peer: string): { port: MediaPort; bound: ChannelFingerprints; dialled: boolean } | null;
  linked(): string[];
  onCall(fn: (from: string, frame: CallFrame) => void): () => void;
  onLink(fn: (peer: string, up: boolean) => void): () => void;
}

export interface CallTimer {
  setTimer(ms: number, fn: () => void): () => void;
}

export interface CallMember {
  peer: string;
  mic: boolean;
  cam: boolean;
}

/** Why call signalling was refused (the room goes on regardless). */
export type CallRefusal = "not-in-call" | "fingerprint" | "unexpected" | "busy";

export interface CallView {
  /** This side is in the call. */
  joined: boolean;
  mic: boolean;
  cam: boolean;
  /** The others in the call (over a direct link), whether or not this side joined. */
  members: CallMember[];
}

export interface CallEvents extends Record<string, unknown> {
  state: CallView;
  /** What this side receives from `peer` now (empty when nothing). */
  media: { peer: string; tracks: MediaStreamTrack[] };
  refused: { from: string; reason: CallRefusal };
}

interface Negotiation {
  port: MediaPort;
  bound: ChannelFingerprints;
  dialled: boolean;
  seq: number;
  /** Number of our offer awaiting its answer (dialling side). */
  offering: number | null;
  cancelTimeout: (() => void) | null;
  /** Negotiated at least once on this connection: sending and receiving only needs replaceTrack since. */
  done: boolean;
}

/**
 * A voice/video call in a room: a full mesh of media on the room's own authenticated connections.
 * Each member says over its direct links whether it is in the call (`st`); when both ends of a link
 * are, the side that dialled the link adds the audio and video transceivers to that link's
 * RTCPeerConnection and offers over the link's data channel, the other answers (docs/protocol.md,
 * "Calls"). The other side never offers, and ICE restarts are made by the dialling side too, so two
 * offers never cross. A description is applied only when its one fingerprint is the remote one the
 * handshake bound. Mute, camera off, device changes and screen share then only replace tracks.
 */
export class CallRoom {
  readonly events = new Emitter<CallEvents>();
  private joined = false;
  private audio: MediaStreamTrack | null = null;
  private video: MediaStreamTrack | null = null;
  private readonly remote = new Map<string, { on: boolean; mic: boolean; cam: boolean }>();
  private readonly negs = new Map<string, Negotiation>();
  private readonly off: (() => void)[] = [];

  constructor(
    private readonly links: CallLinks,
    private readonly clock: CallTimer = {
      setTimer: (ms, fn) =>
        (
          (h) => () =>
            clearTimeout(h)
        )(setTimeout(fn, ms)),
    },
  ) {
    this.off.push(
      links.onCall((from, frame) => void this.receive(from, frame)),
      links.onLink((peer, up) => this.onLink(peer, up)),
    );
  }

  get view(): CallView {
    const members: CallMember[] = [];
    for (const [peer, r] of this.remote) if (r.on) members.push({ peer, mic: r.mic, cam: r.cam });
    return { joined: this.joined, mic: this.audio !== null, cam: this.video !== null, members };
  }

  /**
   * Joins (or starts) the call sending these tracks. "full" when MAX_CALL people are in it already:
   * this side stays out and nothing is sent.
   */
  join(audio: MediaStreamTrack | null, video: MediaStreamTrack | null): "joined" | "full" {
    if (!this.joined && this.view.members.length >= MAX_CALL) return "full";
    this.joined = true;
    this.audio = audio;
    this.video = video;
    this.announce();
    return "joined";
  }

  /** Mute, camera off, another device, screen share: what this side sends now (null: nothing). */
  setTracks(audio: MediaStreamTrack | null, video: MediaStreamTrack | null): void {
    this.audio = audio;
    this.video = video;
    if (this.joined) this.announce();
  }

  leave(): void {
    if (!this.joined) return;
    this.joined = false;
    this.audio = this.video = null;
    this.announce();
    for (const peer of this.negs.keys()) this.events.emit("media", { peer, tracks: [] });
  }

  stop(): void {
    this.leave();
    for (const f of this.off.splice(0)) f();
    for (const n of this.negs.values()) n.cancelTimeout?.();
    this.negs.clear();
  }

  /**
   * The room's members now: anyone no longer among them (left, removed) is no longer in the call
   * either — a link that is only down keeps its member (it may come back through an ICE restart).
   */
  prune(members: Iterable<string>): void {
    const present = new Set(members);
    let changed = false;
    for (const peer of [...this.remote.keys()]) {
      if (present.has(peer)) continue;
      this.remote.delete(peer);
      this.negs.get(peer)?.cancelTimeout?.();
      this.negs.delete(peer);
      this.events.emit("media", { peer, tracks: [] });
      changed = true;
    }
    if (changed) this.events.emit("state", this.view);
  }

  /** The media port of `peer`'s link while both are in the call (quality figures, adaptation). */
  port(peer: string): MediaPort | null {
    return this.inCallWith(peer) ? (this.negs.get(peer)?.port ?? null) : null;
  }

  private inCallWith(peer: string): boolean {
    return this.joined && this.remote.get(peer)?.on === true;
  }

  private stateFrame(): CallFrame {
    return { t: "c", k: "st", on: this.joined, mic: this.joined && this.audio !== null, cam: this.joined && this.video !== null };
  }

  private announce(): void {
    for (const peer of this.links.linked()) {
      this.links.send(peer, this.stateFrame());
      this.sync(peer);
    }
    this.events.emit("state", this.view);
  }

  private onLink(peer: string, up: boolean): void {
    if (!up) return; // the same connection may come back (ICE restart): its negotiation stays
    if (this.joined) this.links.send(peer, this.stateFrame());
    this.sync(peer);
  }

  /** The negotiation for `peer`'s current connection: a new one after a redial. */
  private negotiation(peer: string): Negotiation | null {
    const media = this.links.media(peer);
    if (!media) return null;
    let n = this.negs.get(peer);
    if (!n || n.port !== media.port) {
      n?.cancelTimeout?.();
      n = { port: media.port, bound: media.bound, dialled: media.dialled, seq: 0, offering: null, cancelTimeout: null, done: false };
      this.negs.set(peer, n);
    }
    return n;
  }

  /** Brings `peer`'s link in line: negotiated and sending while both are in the call, silent otherwise. */
  private sync(peer: string): void {
    const n = this.negotiation(peer);
    if (!n) return;
    const both = this.inCallWith(peer);
    void n.port.send(both ? this.audio : null, both ? this.video : null).catch(() => undefined);
    if (both && n.dialled && !n.done && n.offering === null) void this.offer(peer, n);
    if (!both) this.events.emit("media", { peer, tracks: [] });
  }

  private async offer(peer: string, n: Negotiation): Promise<void> {
    const seq = ++n.seq;
    n.offering = seq;
    let sdp: string | null;
    try {
      sdp = await n.port.offer();
    } catch {
      sdp = null;
    }
    if (n.offering !== seq) return;
    if (sdp === null || !this.links.send(peer, { t: "c", k: "of", n: seq, sdp })) {
      // Another negotiation (an ICE restart) holds the connection, or the link went down: try later.
      if (sdp !== null) await n.port.rollback().catch(() => undefined);
      n.offering = null;
      n.cancelTimeout = this.clock.setTimer(1000, () => this.retry(peer, n));
      return;
    }
    n.cancelTimeout = this.clock.setTimer(OFFER_TIMEOUT_MS, () => {
      if (n.offering !== seq) return;
      n.offering = null;
      void n.port.rollback().then(
        () => this.retry(peer, n),
        () => undefined,
      );
    });
  }

  private retry(peer: string, n: Negotiation): void {
    n.cancelTimeout = null;
    if (this.negs.get(peer) === n && this.links.linked().includes(peer)) this.sync(peer);
  }

  /** Handles one validated call frame from the direct link to `from`. Never throws. */
  async receive(from: string, frame: CallFrame): Promise<void> {
    switch (frame.k) {
      case "st": {
        if (!frame.on) this.remote.delete(from);
        else this.remote.set(from, { on: true, mic: frame.mic, cam: frame.cam });
        this.events.emit("state", this.view);
        this.sync(from);
        return;
      }
      case "nd": {
        const n = this.negotiation(from);
        if (!n?.dialled || !this.inCallWith(from)) return this.refuse(from, "unexpected");
        // The other side could not take our offer (its connection was busy): drop it, offer again shortly.
        n.offering = null;
        n.done = false;
        n.cancelTimeout?.();
        await n.port.rollback().catch(() => undefined);
        n.cancelTimeout = this.clock.setTimer(1000, () => this.retry(from, n));
        return;
      }
      case "of":
        return this.onOffer(from, frame.n, frame.sdp);
      case "an":
        return this.onAnswer(from, frame.n, frame.sdp);
    }
  }

  private async onOffer(from: string, seq: number, sdp: string): Promise<void> {
    if (!this.inCallWith(from)) return this.refuse(from, "not-in-call");
    const n = this.negotiation(from);
    if (!n || n.dialled) return this.refuse(from, "unexpected"); // only the side that dialled offers
    if (!namesBound(sdp, n.bound)) return this.refuse(from, "fingerprint");
    let answer: string | null;
    try {
      await n.port.send(this.audio, this.video);
      answer = await n.port.answer(sdp);
    } catch {
      answer = null;
    }
    if (answer === null) {
      this.links.send(from, { t: "c", k: "nd" });
      return this.refuse(from, "busy");
    }
    n.done = true;
    this.links.send(from, { t: "c", k: "an", n: seq, sdp: answer });
    this.events.emit("media", { peer: from, tracks: n.port.received() });
  }

  private async onAnswer(from: string, seq: number, sdp: string): Promise<void> {
    const n = this.negs.get(from);
    if (!this.inCallWith(from)) return this.refuse(from, "not-in-call");
    if (!n?.dialled || n.offering !== seq) return this.refuse(from, "unexpected");
    if (!namesBound(sdp, n.bound)) return this.refuse(from, "fingerprint");
    n.offering = null;
    n.cancelTimeout?.();
    n.cancelTimeout = null;
    let ok: boolean;
    try {
      ok = await n.port.accept(sdp);
    } catch {
      ok = false;
    }
    if (!ok) {
      await n.port.rollback().catch(() => undefined);
      n.cancelTimeout = this.clock.setTimer(1000, () => this.retry(from, n));
      return this.refuse(from, "busy");
    }
    n.done = true;
    this.events.emit("media", { peer: from, tracks: n.port.received() });
  }

  private refuse(from: string, reason: CallRefusal): void {
    this.events.emit("refused", { from, reason });
  }
}

/**
 * True when the description's one fingerprint (core/auth's parser: exactly one SHA-256 line) is the
 * remote certificate the link's handshake bound — the certificate the verification code covers.
 */
export function namesBound(sdp: string, bound: ChannelFingerprints): boolean {
  const f = sdpFingerprint(sdp);
  return f.ok && f.fingerprint === bound.remote;
}

/** The call links of a room: MeshRoom carries the frames and link events, MeshSession the connections. */
export function roomCallLinks(session: Pick<CallLinks, "media">, room: Pick<MeshRoom, "sendCall" | "linked" | "events">): CallLinks {
  return {
    send: (peer, frame) => room.sendCall(peer, frame),
    media: (peer) => session.media(peer),
    linked: () => room.linked,
    onCall: (fn) => room.events.on("call", ({ from, frame }) => fn(from, frame)),
    onLink: (fn) => room.events.on("link", ({ peer, up }) => fn(peer, up)),
  };
}
