import { platformCodec } from "../compress";
import {
  HostHandshake,
  JoinerHandshake,
  NonceLog,
  isAuthFrame,
  newSigner,
  webVerify,
  remoteCertificateAgrees,
  type ChannelFingerprints,
  type AuthOutcome,
  type AuthStep,
  type Handshake,
  type InviteCheck,
  type MemberCredentials,
  type RefusalCode,
  type Certificate,
  type Epoch,
  type Signer,
  type Verifier,
} from "../auth";
import { retry, withTimeout, RetriesExhaustedError, type BackoffOptions } from "../connection/backoff";
import { PeerError, type ChannelPort, type FileLane, type MediaPort, type PeerFactory, type PeerPort } from "../connection/ports";
import { MAX_MEMBERS } from "../delivery/frames";
import { Emitter } from "../emitter";
import { MeshRoom, type Clock, type LinksPort, type MeshOptions } from "./mesh";
import { shouldDial } from "./roster";
import { RoomTrust } from "./trust";

/**
 * Why a room could not start. `refused`: the invite handshake failed (`refusal` says why);
 * `peer-unreachable`: the server does not know the host; `ice-failed`: the host is there but no
 * network path opened; `id-taken`: another page holds this peer id; `room-full`: the room is at its size limit.
 */
export type FailureReason = "server-unreachable" | "server-refused" | "id-taken" | "peer-unreachable" | "ice-failed" | "room-full" | "refused";

export type MeshPhase =
  | { phase: "starting" }
  | { phase: "signaling"; attempt: number; total: number }
  | { phase: "signaling-retry"; retryInMs: number }
  | { phase: "joining"; attempt: number; total: number }
  | { phase: "joining-retry"; retryInMs: number }
  | { phase: "ready"; peerId: string }
  | { phase: "failed"; reason: FailureReason; refusal?: RefusalCode };

/** The signaling socket: P2P links live on while it is down. */
export type SignalingState = "online" | "reconnecting" | "offline";

export interface MeshSessionEvents extends Record<string, unknown> {
  status: MeshPhase;
  signaling: SignalingState;
  /** The room engine exists (after the joiner's handshake with the host, at once for the host). */
  room: MeshRoom;
  authenticated: Extract<AuthOutcome, { ok: true }> & { peer: string };
  refused: { peer: string; reason: RefusalCode; by: "us" | "peer" };
  /** The host removed this side from the room (or revoked it out): the session has closed. */
  removed: undefined;
}

export interface HostRoom {
  roomId: string;
  /** The room's authority key (kept across reloads; its SHA-256 is in every invite link). */
  authority: Signer;
  /** The room's epoch as last signed (null before the first removal). */
  epoch: Epoch | null;
  /** Keeps a new epoch, so a reload of the host goes on from it. */
  saveEpoch: (epoch: Epoch) => Promise<void>;
  lookupInvite: (inviteId: string) => Promise<InviteCheck>;
}

/** What the session needs of core/ice's IceFailover. */
export interface IceSource {
  /** The list peers are built with; replaced in place (failover, credential refresh). */
  readonly servers: RTCIceServer[];
  load(options?: { relayOnly?: boolean }): Promise<void>;
  /** True when servers were replaced by others. */
  failover(): Promise<boolean>;
}

export interface MeshSessionOptions {
  createPeer: PeerFactory;
  /**
   * ICE servers with failover across providers (core/ice), kept fresh by their owner; a joiner whose
   * attempt to reach the host failed on the network path (not "host unknown") fails over before the
   * next attempt. Without it, `loadIce` gives the list.
   */
  ice?: IceSource;
  /** ICE servers without `ice`; called again every `iceRefreshMs` so new connections get fresh TURN credentials. */
  loadIce?: () => Promise<RTCIceServer[]>;
  /** Relay candidates only ("try again through a relay"): `ice` checks its TURN servers before use. */
  relayOnly?: boolean;
  /** This side's display name (may be empty; changed later with `room.setName`). */
  name: string;
  /** Most members, this side included: 2 for a 1:1 room, up to MAX_MEMBERS for a group. */
  maxMembers?: number;
  /**
   * The host: given its peer id once the server accepted it, its room and key and its invite book
   * for joiners that come with an invite.
   */
  host?: (peerId: string) => Promise<HostRoom>;
  /** A joiner: the invite it opened (with the SHA-256 of the host's key the link names). */
  invite?: { roomId: string; inviteId: string; secret: string; hostPeerId: string; hostKeyHash: string };
  clock?: Clock;
  backoff?: BackoffOptions;
  sleep?: (ms: number) => Promise<void>;
  attemptTimeoutMs?: number;
  authTimeoutMs?: number;
  /**
   * A link whose ICE stays `disconnected` this long is stalled: the room sees it down (messages wait
   * or go through a relay) and the dialling side restarts ICE on the same connection. Default 2 s.
   */
  iceGraceMs?: number;
  /** While stalled, ICE is restarted again this often (a network that came back, a new address). Default 5 s. */
  iceRestartEveryMs?: number;
  /** A link stalled this long (or whose channel cannot restart ICE) is closed and dialled again. Default 30 s. */
  iceGiveUpMs?: number;
  /**
   * Most incoming channels still in their handshake at once (a stranger who knows this side's id can
   * open many and never finish). Past it the oldest is closed, so a flood cannot keep a real joiner
   * out for longer than one handshake. Default 8.
   */
  maxPending?: number;
  /** Refresh ICE servers this often (TURN credentials are short-lived). Default 10 min. */
  iceRefreshMs?: number;
  room?: Partial<Pick<MeshOptions, "backfill" | "resendMs" | "tickMs" | "presenceMs" | "unreachableAfterMs" | "codec">>;
  /** This page's member key for a joiner (default: a fresh WebCrypto P-256 key, `newSigner`). */
  signer?: () => Promise<Signer>;
  /** Checks member signatures (default: WebCrypto, `webVerify`). */
  verify?: Verifier;
}

interface Link {
  channel: ChannelPort;
  state: "auth" | "up";
  /** This side dialled it (the dialling side starts ICE restarts, so both never offer at once). */
  dialled: boolean;
  /** ICE has been `disconnected` past the grace time: the room sees the link down while it restarts. */
  stalled: boolean;
  /** The fingerprints the handshake bound, to check the connection still uses them after a restart. */
  pinned: ChannelFingerprints | null;
  restartTimer: (() => void) | null;
  restarts: number;
  /** Restarts in a row whose offer the other side never answered. */
  unanswered: number;
  /** The certificates are being checked after ICE came back. */
  checking: boolean;
  held: unknown[];
  sink: (data: unknown) => void;
  graceTimer: (() => void) | null;
  /** The other side's member key, proven by the handshake on this link (null before). */
  key: string | null;
}

const realClock: Clock = {
  now: () => Date.now(),
  setTimer: (ms, fn) => {
    const h = setTimeout(fn, ms);
    return () => clearTimeout(h);
  },
};

/**
 * A member of a group room over PeerJS: one signaling connection, one authenticated data channel
 * per member, and the MeshRoom engine on top. It dials the members it should (shouldDial), redials
 * lost links with back-off, reconnects to the signaling server with the same id and token, and
 * refreshes ICE servers for new connections.
 */
export class MeshSession {
  readonly events = new Emitter<MeshSessionEvents>();
  room: MeshRoom | null = null;
  private peer: PeerPort | null = null;
  private ownId = "";
  private roomId = "";
  private trust: RoomTrust | null = null;
  private cert: Certificate | null = null;
  private readonly links = new Map<string, Link>();
  private readonly dialing = new Set<string>();
  /** Incoming channels in their handshake, oldest first. */
  private readonly pending = new Set<ChannelPort>();
  private readonly redialAttempts = new Map<string, number>();
  private readonly redialTimers = new Map<string, () => void>();
  /**
   * Members this side dialled whose link was lost before the roster learned them (their first
   * presence had not arrived): without a roster entry the dial rule cannot say who redials, so the
   * side that dialled goes on doing so, with the redial back-off (a member whose signaling is down
   * too answers "unavailable" for a while), until the roster knows them or the session closes.
   */
  private readonly unlearned = new Set<string>();
  private readonly nonces = new NonceLog();
  private readonly frameHandlers = new Set<(from: string, frame: string) => void>();
  private readonly upHandlers = new Set<(peer: string) => void>();
  private readonly downHandlers = new Set<(peer: string) => void>();
  private readonly ice: RTCIceServer[];
  private readonly clock: Clock;
  private closed = false;
  private cancelIceRefresh: (() => void) | null = null;
  private hostRoom: HostRoom | null = null;
  private reconnecting = false;
  private lastFreshen = -Infinity;
  /** Cuts the signaling reconnect loop's current wait short (`resume`). */
  private wakeSignaling: (() => void) | null = null;

  constructor(private readonly o: MeshSessionOptions) {
    this.clock = o.clock ?? realClock;
    this.ice = o.ice?.servers ?? [];
  }

  get id(): string {
    return this.ownId;
  }

  /** Links that are up (authenticated), for the UI and tests. */
  get connectedPeers(): string[] {
    return [...this.links].filter(([, l]) => l.state === "up" && !l.stalled).map(([p]) => p);
  }

  /**
   * The file lanes of the authenticated links (core/files): each on its link's own connection, so
   * the link's handshake covers it. A link that recovers by ICE restart keeps its lane; a redial
   * brings a new one.
   */
  get fileLanes(): {
    peers(): string[];
    lane(peer: string): FileLane | null;
    key(peer: string): string | null;
    room(): string;
    onUp(fn: (peer: string) => void): () => void;
    onDown(fn: (peer: string) => void): () => void;
  } {
    return {
      peers: () => this.connectedPeers,
      lane: (peer) => {
        const l = this.links.get(peer);
        return l?.state === "up" ? (l.channel.fileLane?.() ?? null) : null;
      },
      // The member key the link's handshake proved: a partial file kept across a reload is resumed
      // only from the same sender page (core/files, "resume after a reload").
      key: (peer) => {
        const l = this.links.get(peer);
        return l?.state === "up" ? l.key : null;
      },
      room: () => this.roomId,
      onUp: (fn) => (this.upHandlers.add(fn), () => this.upHandlers.delete(fn)),
      onDown: (fn) => (this.downHandlers.add(fn), () => this.downHandlers.delete(fn)),
    };
  }

  /** This page hosts the room (holds its authority key): it can remove members. */
  get isHost(): boolean {
    return this.trust?.isAuthority === true;
  }

  /** The room's size limit, this side included. */
  get maxMembers(): number {
    return Math.min(MAX_MEMBERS, Math.max(2, this.o.maxMembers ?? MAX_MEMBERS));
  }

  /** The `getStats()` of the connection to `peer` (quality indicator); null without a direct link. */
  async stats(peer: string): Promise<RTCStatsReport | null> {
    const l = this.links.get(peer);
    return l?.state === "up" ? ((await l.channel.stats?.()) ?? null) : null;
  }

  /**
   * Media on the connection of the authenticated link to `peer` (calls), with the fingerprints the
   * handshake bound and whether this side dialled it (the dialling side offers); null while that
   * link is not up. A new connection (a redial) gives a new port.
   */
  media(peer: string): { port: MediaPort; bound: ChannelFingerprints; dialled: boolean } | null {
    const l = this.links.get(peer);
    const port = l?.state === "up" && !l.stalled && l.pinned ? (l.channel.media?.() ?? null) : null;
    return port && l ? { port, bound: l.pinned!, dialled: l.dialled } : null;
  }

  async start(): Promise<string> {
    this.setStatus({ phase: "starting" });
    // ICE servers load while the signaling socket opens (no connection is made before both are done).
    const iceReady = this.o.ice ? this.o.ice.load({ relayOnly: this.o.relayOnly === true }).catch(() => undefined) : this.refreshIce();
    const peer = await this.openSignaling();
    await iceReady;
    if (this.o.host) {
      const host = (this.hostRoom = await this.o.host(this.ownId));
      const trust = new RoomTrust(host.roomId, host.authority.key, host.authority, this.verify, host.epoch);
      this.enterRoom(trust, await trust.issue(this.ownId, host.authority.key));
      this.setStatus({ phase: "ready", peerId: this.ownId });
    } else if (this.o.invite) {
      await this.joinHost(peer, this.o.invite);
    }
    return this.ownId;
  }

  /**
   * The page is back — shown again, unfrozen, restored from the back/forward cache — or the network
   * is (`networkChanged`: the `online` event; the address may be new): every path is checked now
   * instead of when the back-off timers say. The signaling socket reconnects at once (or is opened
   * anew after a network change), stalled links restart ICE, members without a link are dialled, and
   * the outbox resends what is due.
   */
  resume(networkChanged: boolean): void {
    if (this.closed || !this.room) return;
    if (this.reconnecting) this.wakeSignaling?.();
    else if (networkChanged) this.freshenSignaling();
    for (const [id, link] of this.links) {
      if (link.graceTimer !== null) {
        // ICE went "disconnected" a moment ago: no need to wait out the grace time now the page is back.
        link.graceTimer();
        link.graceTimer = null;
        this.stall(id, link);
      } else if (link.stalled && link.dialled) void this.restartOnce(id, link);
    }
    for (const id of this.dialTargets()) {
      if (this.links.has(id) || this.dialing.has(id)) continue;
      this.redialTimers.get(id)?.();
      this.redialTimers.delete(id);
      this.redialAttempts.delete(id);
      this.maybeDial(id);
    }
    this.room.tick();
  }

  /**
   * Closes every link so that each is made again with the connection settings of now (after "Hide my
   * IP address" was turned on: through the relay only). Nothing is lost: what was not acknowledged
   * is resent once the links are back.
   */
  relinkAll(): void {
    for (const [peer, l] of [...this.links]) this.dropLink(peer, l);
  }

  /** Leaves the room (members are told) and closes everything. */
  leave(): void {
    this.room?.leave();
    // Give the goodbye a moment to leave before the channels close.
    this.clock.setTimer(150, () => this.close());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.room?.stop();
    this.cancelIceRefresh?.();
    for (const cancel of this.redialTimers.values()) cancel();
    for (const l of this.links.values()) l.channel.close();
    this.links.clear();
    for (const c of this.pending) c.close();
    this.pending.clear();
    this.peer?.destroy();
  }

  // ---- signaling ----

  private async refreshIce(): Promise<void> {
    if (!this.o.loadIce) return;
    try {
      const servers = await this.o.loadIce();
      // PeerJS hands this same array to every new RTCPeerConnection: new links get fresh credentials.
      this.ice.splice(0, this.ice.length, ...servers);
    } catch {
      // keep what we had (or none: host candidates still work on one network)
    }
    if (this.closed) return;
    this.cancelIceRefresh?.();
    this.cancelIceRefresh = this.clock.setTimer(this.o.iceRefreshMs ?? 10 * 60_000, () => void this.refreshIce());
  }

  private async openSignaling(): Promise<PeerPort> {
    const timeout = this.o.attemptTimeoutMs ?? 10_000;
    try {
      return await retry(
        async () => {
          const peer = await this.o.createPeer(this.ice);
          try {
            this.ownId = await withTimeout(peer.open(), timeout, "signaling");
          } catch (error) {
            peer.destroy();
            if (error instanceof PeerError && error.kind === "unavailable-id") throw new Fatal("id-taken");
            if (error instanceof PeerError && (error.kind === "invalid-key" || error.kind === "invalid-id")) throw new Fatal("server-refused");
            throw error;
          }
          this.peer = peer;
          peer.onIncoming((channel) => this.accept(channel));
          peer.onDisconnected(() => void this.onSignalingLost(peer));
          this.events.emit("signaling", "online");
          return peer;
        },
        {
          ...this.o.backoff,
          sleep: this.o.sleep,
          shouldRetry: (e) => !(e instanceof Fatal),
          onAttempt: (attempt, total) => this.setStatus({ phase: "signaling", attempt, total }),
          onRetry: (_n, delay) => this.setStatus({ phase: "signaling-retry", retryInMs: delay }),
        },
      );
    } catch (error) {
      const fatal = error instanceof Fatal ? error : error instanceof RetriesExhaustedError && error.lastError instanceof Fatal ? error.lastError : null;
      this.setStatus({ phase: "failed", reason: fatal?.reason ?? "server-unreachable" });
      throw error;
    }
  }

  /** The socket dropped: reconnect with the same id and token, with back-off, forever while open. */
  private async onSignalingLost(peer: PeerPort): Promise<void> {
    // One loop at a time: every failed attempt makes PeerJS report "disconnected" again.
    if (this.closed || this.peer !== peer || this.reconnecting) return;
    this.reconnecting = true;
    this.events.emit("signaling", "reconnecting");
    try {
      for (let attempt = 0; !this.closed; attempt++) {
        try {
          await withTimeout(peer.reconnect(), this.o.attemptTimeoutMs ?? 10_000, "signaling");
          this.events.emit("signaling", "online");
          // Links that died meanwhile could not be redialled: try again now; stalled ones restart now.
          for (const id of this.dialTargets()) this.maybeDial(id);
          for (const [id, link] of this.links) if (link.stalled && link.dialled) void this.restartOnce(id, link);
          return;
        } catch {
          if (attempt >= 2) this.events.emit("signaling", "offline");
          await new Promise<void>((r) => {
            const cancel = this.clock.setTimer(Math.min(10_000, 1000 * 2 ** Math.min(attempt, 4)), r);
            this.wakeSignaling = () => (cancel(), r());
          });
          this.wakeSignaling = null;
        }
      }
    } finally {
      this.reconnecting = false;
    }
  }

  // ---- room ----

  private get verify(): Verifier {
    return this.o.verify ?? webVerify;
  }

  /** Host only: removes a member (it is told, and no member takes it any more) in a new epoch. */
  async removeMember(id: string): Promise<boolean> {
    const room = this.room;
    if (!room || !room.roster.members.has(id)) return false;
    return this.nextEpoch([...room.roster.members.keys()].filter((m) => m !== id));
  }

  /**
   * Host only: a new epoch naming the members there are now (after an invite was revoked): a
   * certificate from before it is good only for them, so whoever joined with that invite and is not
   * here any more cannot come back through another member.
   */
  async rekey(): Promise<boolean> {
    return this.room ? this.nextEpoch([...this.room.roster.members.keys()]) : false;
  }

  private async nextEpoch(members: string[]): Promise<boolean> {
    const trust = this.trust;
    if (!trust?.isAuthority || !this.room || !this.hostRoom || this.closed) return false;
    const epoch = await trust.next([this.ownId, ...members]);
    await this.hostRoom.saveEpoch(epoch);
    this.room.epochChanged();
    return true;
  }

  private enterRoom(trust: RoomTrust, cert: Certificate): void {
    this.roomId = trust.room;
    this.trust = trust;
    this.cert = cert;
    const links: LinksPort = {
      send: (to, frame) => {
        const l = this.links.get(to);
        if (!l || l.state !== "up" || l.stalled) return false;
        try {
          l.channel.send(frame);
          return true;
        } catch {
          return false;
        }
      },
      onFrame: (fn) => (this.frameHandlers.add(fn), () => this.frameHandlers.delete(fn)),
      onUp: (fn) => (this.upHandlers.add(fn), () => this.upHandlers.delete(fn)),
      onDown: (fn) => (this.downHandlers.add(fn), () => this.downHandlers.delete(fn)),
    };
    const room = new MeshRoom({
      self: { id: this.ownId, name: this.o.name },
      room: trust.room,
      links,
      clock: this.clock,
      trust,
      cert,
      codec: platformCodec(),
      ...this.o.room,
    });
    room.events.on("roster", (members) => {
      for (const m of members) {
        // Learned: from now on the roster decides who dials (and a departure ends the redials).
        this.unlearned.delete(m.id);
        if (m.path !== "direct") this.maybeDial(m.id);
      }
    });
    room.events.on("removed", ({ id, self }) => {
      if (self) {
        this.events.emit("removed", undefined);
        this.close();
        return;
      }
      // Its link closes a moment later, once the epoch that tells it so has gone out over it.
      this.clock.setTimer(1000, () => {
        const link = this.links.get(id);
        if (link) this.dropLink(id, link);
      });
    });
    this.room = room;
    room.start();
    this.events.emit("room", room);
  }

  /** This side's member credentials for the member handshake; the other side's certificate must name the peer at the other end. */
  private credentials(remote: string): MemberCredentials {
    const trust = this.trust!;
    return { cert: this.cert!, accepts: (key, cert) => cert.k === key && trust.certifies(remote, cert) };
  }

  /**
   * A joiner's way in: the host's key is the room's authority (the handshake checked it against the
   * link); the certificate it granted must be for this side's key and id, and its epoch signed by it.
   */
  private async enterAsJoiner(roomId: string, self: Signer, ok: Extract<AuthOutcome, { ok: true }>): Promise<void> {
    const trust = new RoomTrust(roomId, ok.peerKey, self, this.verify);
    if (ok.epoch && !(await trust.adopt(ok.epoch))) throw new Error("epoch not signed by the host");
    if (!ok.cert || ok.cert.k !== self.key || !(await trust.certifies(this.ownId, ok.cert))) throw new Error("certificate not for this side");
    this.enterRoom(trust, ok.cert);
  }

  // ---- links ----

  private async joinHost(peer: PeerPort, invite: NonNullable<MeshSessionOptions["invite"]>): Promise<void> {
    let outcome: AuthOutcome | null = null;
    let failure: unknown = null;
    try {
      await retry(
        async () => {
          // The host is known but no path opened: try ICE servers without the ones that failed.
          const unknownHost = failure instanceof PeerError && failure.kind === "peer-unavailable";
          if (failure !== null && !unknownHost && this.o.ice) await this.o.ice.failover().catch(() => false);
          let channel: ChannelPort;
          try {
            channel = await this.connectWithin(peer, invite.hostPeerId, "host connection");
          } catch (error) {
            failure = error;
            throw error;
          }
          const self = await (this.o.signer ?? newSigner)();
          const handshake = async () => {
            const fingerprints = await this.readFingerprints(channel);
            return fingerprints
              ? new JoinerHandshake({
                  roomId: invite.roomId,
                  invite: { inviteId: invite.inviteId, secret: invite.secret, hostKeyHash: invite.hostKeyHash },
                  self,
                  verify: this.verify,
                  fingerprints,
                })
              : null;
          };
          outcome = await this.runHandshake(invite.hostPeerId, channel, true, handshake, (ok) => this.enterAsJoiner(invite.roomId, self, ok));
          if (!outcome.ok && outcome.reason === "timeout" && outcome.by === "peer") {
            // The channel closed before the handshake ended (the network, not a refusal): try again.
            failure = new Error("channel closed during the handshake");
            outcome = null;
            throw failure;
          }
        },
        {
          ...this.o.backoff,
          sleep: this.o.sleep,
          shouldRetry: () => outcome === null && !this.closed,
          onAttempt: (attempt, total) => this.setStatus({ phase: "joining", attempt, total }),
          onRetry: (_n, delay) => this.setStatus({ phase: "joining-retry", retryInMs: delay }),
        },
      );
    } catch {
      if (this.closed) return;
      const refusal = outcome as AuthOutcome | null;
      if (refusal && !refusal.ok) this.setStatus(refusedPhase(refusal.reason));
      else this.setStatus({ phase: "failed", reason: failure instanceof PeerError && failure.kind === "peer-unavailable" ? "peer-unreachable" : "ice-failed" });
      return;
    }
    const done = outcome as AuthOutcome | null;
    if (done && !done.ok) {
      this.setStatus(refusedPhase(done.reason));
      return;
    }
    this.setStatus({ phase: "ready", peerId: this.ownId });
  }

  /** Members to dial when they have no link: the roster's, and those lost before it learned them. */
  private dialTargets(): string[] {
    return [...new Set([...(this.room?.roster.members.keys() ?? []), ...this.unlearned])];
  }

  /** Dials a member when this side is the one that should, no link exists and none is being made. */
  private maybeDial(peer: string): void {
    if (this.closed || !this.room || !this.peer || peer === this.ownId) return;
    if (this.links.has(peer) || this.dialing.has(peer) || this.redialTimers.has(peer)) return;
    const m = this.room.roster.members.get(peer);
    if (m ? !shouldDial({ id: this.ownId, since: this.room.since }, m) : !this.unlearned.has(peer)) return;
    void this.dial(peer);
  }

  private async dial(peer: string): Promise<void> {
    const port = this.peer;
    if (!port) return;
    this.dialing.add(peer);
    let ok: boolean;
    try {
      const channel = await this.connectWithin(port, peer, "member connection");
      if (this.closed) {
        channel.close();
        return;
      }
      const trust = this.trust!;
      const handshake = async () => {
        const fingerprints = await this.readFingerprints(channel);
        return fingerprints
          ? new JoinerHandshake({ roomId: this.roomId, member: this.credentials(peer), self: trust.self, verify: this.verify, fingerprints })
          : null;
      };
      const outcome = await this.runHandshake(peer, channel, true, handshake, async (ok) => void this.replaceEarlierPage(peer, ok.peerKey));
      ok = outcome.ok;
    } catch {
      ok = false;
    } finally {
      this.dialing.delete(peer);
    }
    if (!ok) this.scheduleRedial(peer);
  }

  /**
   * Opens a channel to `remote` within the attempt timeout. An attempt given up on is torn down (its
   * connection and TURN allocations released), and one that opens too late is closed: after many
   * cuts, abandoned attempts would otherwise use up the relay's allocation quota.
   */
  private async connectWithin(port: PeerPort, remote: string, what: string): Promise<ChannelPort> {
    const abandon = new AbortController();
    const attempt = port.connect(remote, abandon.signal);
    try {
      return await withTimeout(attempt, this.o.attemptTimeoutMs ?? 10_000, what);
    } catch (error) {
      abandon.abort();
      attempt.then(
        (late) => late.close(),
        () => undefined,
      );
      throw error;
    }
  }

  private scheduleRedial(peer: string): void {
    if (this.closed || this.redialTimers.has(peer)) return;
    const attempt = this.redialAttempts.get(peer) ?? 0;
    this.redialAttempts.set(peer, attempt + 1);
    const delay = Math.min(15_000, 500 * 2 ** Math.min(attempt, 5));
    this.redialTimers.set(
      peer,
      this.clock.setTimer(delay, () => {
        this.redialTimers.delete(peer);
        this.maybeDial(peer);
      }),
    );
  }

  /** An incoming channel: a joiner with an invite (host only) or a member with its certificate. */
  private accept(channel: ChannelPort): void {
    if (this.closed || !this.room) {
      channel.close();
      return;
    }
    const room = this.room;
    const newcomer = !room.roster.members.has(channel.remoteId);
    // A page that proves the member key of another member here is that member's page reloaded
    // (replaceEarlierPage): it takes that seat. At the size limit any other newcomer is refused
    // "busy" once its handshake has checked its key, unless a member no path has reached for a long
    // while (a tab that crashed without a goodbye) can make room.
    const full = () => newcomer && room.roster.members.size >= this.maxMembers - 1;
    const stale = () =>
      room
        .members()
        .filter((m) => m.state === "unreachable")
        .sort((a, b) => a.since - b.since)[0];
    this.pending.add(channel);
    if (this.pending.size > (this.o.maxPending ?? 8)) {
      const oldest = this.pending.values().next().value;
      if (oldest) {
        this.pending.delete(oldest);
        oldest.close();
      }
    }
    const trust = this.trust!;
    const remote = channel.remoteId;
    const handshake = async () => {
      const fingerprints = await this.readFingerprints(channel);
      return fingerprints
        ? new HostHandshake({
            roomId: this.roomId,
            self: trust.self,
            verify: this.verify,
            fingerprints,
            nonces: this.nonces,
            member: this.credentials(remote),
            admit: (key) => !full() || this.memberWithKey(key, remote) !== undefined || stale() !== undefined,
            lookup: async (inviteId) => (this.hostRoom ? this.hostRoom.lookupInvite(inviteId) : { status: "unknown" }),
            grant: trust.isAuthority ? async (key) => ({ cert: await trust.issue(remote, key), epoch: trust.epochStatement }) : undefined,
          })
        : null;
    };
    void this.runHandshake(channel.remoteId, channel, false, handshake, async (ok) => {
      if (this.replaceEarlierPage(remote, ok.peerKey) || !full()) return;
      const gone = stale();
      if (!gone || !room.evictUnreachable(gone.id)) throw new Error("room full");
    }).finally(() => this.pending.delete(channel));
  }

  /** The member other than `except` whose certificate (or link) names `key`. */
  private memberWithKey(key: string, except: string): string | undefined {
    for (const m of this.room?.roster.members.values() ?? []) if (m.id !== except && (m.signed?.c.k === key || this.links.get(m.id)?.key === key)) return m.id;
    return undefined;
  }

  /**
   * A link proved `key` for `peer`: a member with the same key under another id is the page of the
   * same member before a reload (the tab hands its key on to the next page), which may not have got
   * its goodbye out. Its instance is buried here and its link closed, so the new page has its seat.
   */
  private replaceEarlierPage(peer: string, key: string): boolean {
    const earlier = this.memberWithKey(key, peer);
    if (earlier === undefined || !this.room) return false;
    const link = this.links.get(earlier);
    this.room.evict(earlier);
    if (link) this.dropLink(earlier, link);
    return true;
  }

  /**
   * Runs a handshake on a new channel; frames that are not part of it wait and are replayed once the
   * link is up. On success the link replaces any older one to the same member.
   */
  private runHandshake(
    peer: string,
    channel: ChannelPort,
    dialled: boolean,
    makeHandshake: () => Promise<Handshake | null>,
    onOk: (ok: Extract<AuthOutcome, { ok: true }>) => Promise<void>,
  ): Promise<AuthOutcome> {
    const link: Link = {
      channel,
      state: "auth",
      dialled,
      stalled: false,
      pinned: null,
      restartTimer: null,
      restarts: 0,
      unanswered: 0,
      checking: false,
      held: [],
      sink: () => undefined,
      graceTimer: null,
      key: null,
    };
    return new Promise<AuthOutcome>((resolve) => {
      let finished = false;
      let chain = Promise.resolve();
      const finish = (outcome: AuthOutcome) => {
        if (finished) return;
        finished = true;
        cancelTimer();
        if (!outcome.ok) {
          this.events.emit("refused", { peer, reason: outcome.reason, by: outcome.by });
          this.clock.setTimer(400, () => channel.close());
          resolve(outcome);
          return;
        }
        onOk(outcome).then(
          () => {
            if (this.closed) return resolve(outcome);
            link.key = outcome.peerKey;
            this.events.emit("authenticated", { ...outcome, peer });
            this.linkUp(peer, link);
            resolve(outcome);
          },
          () => {
            channel.close();
            resolve({ ok: false, reason: "auth-failed", by: "us" });
          },
        );
      };
      const apply = (step: AuthStep) => {
        if (finished) return;
        for (const m of step.send) channel.send(m);
        if (step.outcome) finish(step.outcome);
      };
      const cancelTimer = this.clock.setTimer(this.o.authTimeoutMs ?? 20_000, () => finish({ ok: false, reason: "timeout", by: "us" }));
      // Frames wait until the handshake exists (reading the fingerprints may take a moment).
      const early: unknown[] = [];
      link.sink = (data) => void (early.length < 256 && early.push(data));
      channel.onData((data) => link.sink(data));
      channel.onClose(() => {
        if (!finished) finish({ ok: false, reason: "timeout", by: "peer" });
        if (this.links.get(peer) === link) this.dropLink(peer, link);
      });
      channel.onIceState((state) => this.onIce(peer, link, state));
      void makeHandshake().then((handshake) => {
        if (handshake === null) {
          apply({ send: [{ t: "auth-refuse", reason: "auth-failed" }], outcome: { ok: false, reason: "auth-failed", by: "us" } });
          return;
        }
        link.sink = (data) => {
          if (!isAuthFrame(data)) {
            if (link.held.length < 256) link.held.push(data);
            return;
          }
          chain = chain
            .then(() => (finished ? undefined : handshake.receive(data).then(apply)))
            .catch(() => apply({ send: [{ t: "auth-refuse", reason: "protocol" }], outcome: { ok: false, reason: "protocol", by: "us" } }));
        };
        apply(handshake.start());
        for (const d of early.splice(0)) link.sink(d);
      });
    });
  }

  /**
   * The connection's DTLS fingerprints. A browser may publish the applied descriptions a moment
   * after the channel opens (seen in Chromium under load), so this asks again for up to 3 s (of
   * time, not tries: a background tab's timers may fire once a second). Null also when the browser
   * reports a peer certificate other than the remote fingerprint.
   */
  private async readFingerprints(channel: ChannelPort): Promise<ChannelFingerprints | null> {
    for (const end = this.clock.now() + 3000; this.clock.now() < end;) {
      const f = channel.fingerprints?.() ?? null;
      if (f) return (await remoteCertificateAgrees(f, channel)) ? f : null;
      await new Promise<void>((r) => this.clock.setTimer(50, r));
    }
    return null;
  }

  private linkUp(peer: string, link: Link): void {
    const old = this.links.get(peer);
    if (old && old !== link) {
      this.links.delete(peer);
      old.channel.close();
      if (old.state === "up") for (const fn of [...this.downHandlers]) fn(peer);
    }
    link.state = "up";
    link.pinned = link.channel.fingerprints?.() ?? null;
    this.links.set(peer, link);
    this.redialAttempts.delete(peer);
    this.unlearned.delete(peer);
    link.sink = (data) => {
      if (typeof data === "string") {
        for (const fn of [...this.frameHandlers]) fn(peer, data);
      } else if (isAuthFrame(data) && (data as { t: string }).t === "auth-refuse") {
        // The other side could not verify us after all: the link is not trusted.
        this.dropLink(peer, link);
      }
    };
    for (const fn of [...this.upHandlers]) fn(peer);
    for (const d of link.held.splice(0)) link.sink(d);
  }

  private dropLink(peer: string, link: Link): void {
    if (this.links.get(peer) !== link) return;
    this.links.delete(peer);
    link.graceTimer?.();
    link.restartTimer?.();
    link.channel.close();
    if (link.state === "up" && !link.stalled) for (const fn of [...this.downHandlers]) fn(peer);
    if (link.state === "up" && link.dialled && this.room && !this.room.roster.members.has(peer)) this.unlearned.add(peer);
    this.scheduleRedial(peer);
  }

  /**
   * Recovery of a link whose network went away. ICE `disconnected` past `iceGraceMs`: the link is
   * stalled — the room sees it down (what is sent waits in the outbox or goes through a relay, the
   * member shows "reconnecting") — and the side that dialled restarts ICE on the same connection
   * (the channel's `restartIce`: new candidates, e.g. from a new address, over the signaling server;
   * DTLS and the handshake stay), again every `iceRestartEveryMs`. ICE back: the link is up again at
   * once and the outbox resends. Still down after `iceGiveUpMs`, `failed`, or a channel that cannot
   * restart: the connection is closed and dialled again (new ICE, DTLS and handshake).
   */
  private onIce(peer: string, link: Link, state: RTCIceConnectionState): void {
    if (state === "connected" || state === "completed") {
      link.graceTimer?.();
      link.graceTimer = null;
      link.restartTimer?.();
      link.restartTimer = null;
      link.restarts = 0;
      link.unanswered = 0;
      if (link.stalled) this.unstall(peer, link);
    } else if (state === "disconnected" && link.graceTimer === null && !link.stalled) {
      link.graceTimer = this.clock.setTimer(this.o.iceGraceMs ?? 2000, () => {
        link.graceTimer = null;
        this.stall(peer, link);
      });
    } else if (state === "failed") {
      // No path any more (Firefox can get here without a long "disconnected"): the redial needs a
      // signaling socket that works, and after an address change the old one does not.
      this.dropLink(peer, link);
      this.freshenSignaling();
    } else if (state === "closed") {
      this.dropLink(peer, link);
    }
  }

  private stall(peer: string, link: Link): void {
    if (this.links.get(peer) !== link || link.state !== "up" || this.closed) return;
    if (!link.channel.restartIce) return this.dropLink(peer, link);
    link.stalled = true;
    for (const fn of [...this.downHandlers]) fn(peer);
    this.freshenSignaling();
    this.restart(peer, link);
  }

  /**
   * A link stalled: if the network under this page changed, the signaling socket is as dead as the
   * link, yet looks open until TCP gives up. So it is opened anew (same id and token; the broker
   * closes the old one), at most every 10 s, and the restart's offer goes over the new one.
   */
  private freshenSignaling(): void {
    const now = this.clock.now();
    if (this.reconnecting || !this.peer?.refresh || now - this.lastFreshen < 10_000) return;
    this.lastFreshen = now;
    this.peer.refresh();
  }

  private restart(peer: string, link: Link): void {
    if (this.links.get(peer) !== link || !link.stalled) return;
    const every = this.o.iceRestartEveryMs ?? 5000;
    if (link.restarts * every >= (this.o.iceGiveUpMs ?? 30_000)) return this.dropLink(peer, link);
    link.restarts++;
    if (link.dialled) void this.restartOnce(peer, link);
    link.restartTimer = this.clock.setTimer(every, () => this.restart(peer, link));
  }

  /**
   * One ICE restart. Two offers in a row left unanswered mean the other side no longer has this
   * connection (its ICE failed and it closed it): redial now rather than at the give-up time.
   */
  private async restartOnce(peer: string, link: Link): Promise<void> {
    let answered: boolean;
    try {
      answered = (await link.channel.restartIce?.()) ?? true;
    } catch {
      return;
    }
    link.unanswered = answered ? 0 : link.unanswered + 1;
    if (link.unanswered >= 2 && link.stalled) this.dropLink(peer, link);
  }

  /**
   * ICE is back on a stalled link: the connection must still use the certificates the handshake
   * bound, in its descriptions and (where the browser reports it) in the DTLS it runs, or the link is
   * not trusted any more and is dialled again.
   */
  private unstall(peer: string, link: Link): void {
    if (this.links.get(peer) !== link || link.checking) return;
    link.checking = true;
    const now = link.channel.fingerprints?.() ?? null;
    const same = !!link.pinned && !!now && now.local === link.pinned.local && now.remote === link.pinned.remote;
    void (same ? remoteCertificateAgrees(link.pinned!, link.channel) : Promise.resolve(false)).then((ok) => {
      link.checking = false;
      if (this.links.get(peer) !== link || !link.stalled) return;
      link.stalled = false;
      if (!ok) {
        link.state = "auth"; // its room link is already down
        return this.dropLink(peer, link);
      }
      for (const fn of [...this.upHandlers]) fn(peer);
    });
  }

  private setStatus(s: MeshPhase): void {
    this.events.emit("status", s);
  }
}

function refusedPhase(reason: RefusalCode): MeshPhase {
  return reason === "busy" ? { phase: "failed", reason: "room-full", refusal: reason } : { phase: "failed", reason: "refused", refusal: reason };
}

class Fatal extends Error {
  constructor(readonly reason: "id-taken" | "server-refused") {
    super(reason);
  }
}
