/**
 * The handshake as two small state machines, one per role (docs/protocol.md):
 *
 *   joiner → host   auth-hello     {v, invite, nonce Nj}
 *   host → joiner   auth-challenge {nonce Nh}                      (or auth-refuse: unknown/expired/revoked/replay)
 *   joiner → host   auth-proof     {mac = HMAC(K, "proof:joiner\n" ‖ T)}
 *   host → joiner   auth-ok        {mac = HMAC(K, "proof:host\n" ‖ T), roomKey}   (or auth-refuse: auth-failed)
 *
 * K = SHA-256(invite secret); T = transcript(version, room, invite, both DTLS fingerprints, Nj, Nh).
 * A man in the middle holds different certificates on each leg, so the two sides compute
 * different transcripts and no proof verifies. Anything out of order, malformed or oversized
 * ends the handshake with `protocol`. No DOM, no timers: the session drives them.
 */
import { fromBase64Url } from "../ids";
import { AUTH_VERSION, inviteKey, proof, random256, transcript, verificationCode, verifyProof, type VerificationCode } from "./crypto";
import { sortedFingerprints, type ChannelFingerprints } from "./fingerprint";
import { decodeAuth, type AuthMessage, type RefusalCode } from "./messages";

export type AuthOutcome =
  | { ok: true; roomKey: string; inviteId: string; code: VerificationCode }
  /** `by`: "us" when this side refused, "peer" when the other side sent the refusal. */
  | { ok: false; reason: RefusalCode; by: "us" | "peer" };

export interface AuthStep {
  /** Frames to send now, in order. */
  send: AuthMessage[];
  /** Set once the handshake is over, either way. */
  outcome?: AuthOutcome;
}

export interface Handshake {
  /** Frames to send when the channel opens (the joiner's hello; nothing for the host). */
  start(): AuthStep;
  /** Feeds one received handshake frame (raw, undecoded). Call one at a time, in order. */
  receive(data: unknown): Promise<AuthStep>;
  readonly done: boolean;
}

type Random = (buf: Uint8Array) => Uint8Array;

/** What the host knows about an invite id (from its invite store). */
export type InviteCheck = { status: "ok"; roomId: string; keyHash: string } | { status: "unknown" | "expired" | "revoked" };

/** Joiner nonces the host has seen (a bounded memory: a replayed hello is refused). */
export class NonceLog {
  private readonly seen = new Set<string>();
  constructor(private readonly capacity = 4096) {}
  /** False when the nonce was seen before; otherwise remembers it. */
  add(nonce: string): boolean {
    if (this.seen.has(nonce)) return false;
    this.seen.add(nonce);
    if (this.seen.size > this.capacity) this.seen.delete(this.seen.values().next().value as string);
    return true;
  }
}

abstract class Machine implements Handshake {
  protected finished = false;
  get done(): boolean {
    return this.finished;
  }
  abstract start(): AuthStep;
  abstract receive(data: unknown): Promise<AuthStep>;

  protected refuse(reason: RefusalCode): AuthStep {
    this.finished = true;
    return { send: [{ t: "auth-refuse", reason }], outcome: { ok: false, reason, by: "us" } };
  }

  protected peerRefused(reason: RefusalCode): AuthStep {
    this.finished = true;
    return { send: [], outcome: { ok: false, reason, by: "peer" } };
  }
}

export interface JoinerOptions {
  roomId: string;
  inviteId: string;
  secret: string;
  fingerprints: ChannelFingerprints;
  random?: Random;
}

export class JoinerHandshake extends Machine {
  private state: "new" | "await-challenge" | "await-ok" = "new";
  private readonly nonce: string;
  private t: Uint8Array | null = null;
  private key: Uint8Array | null = null;

  constructor(private readonly o: JoinerOptions) {
    super();
    this.nonce = random256(o.random);
  }

  start(): AuthStep {
    if (this.state !== "new" || this.finished) return { send: [] };
    this.state = "await-challenge";
    return { send: [{ t: "auth-hello", v: AUTH_VERSION, invite: this.o.inviteId, nonce: this.nonce }] };
  }

  async receive(data: unknown): Promise<AuthStep> {
    if (this.finished) return { send: [] };
    const msg = decodeAuth(data);
    if (!msg) return this.refuse("protocol");
    if (msg.t === "auth-refuse") return this.peerRefused(msg.reason);
    if (msg.t === "auth-challenge" && this.state === "await-challenge") {
      // Our own nonce coming back is a reflection, not a fresh challenge.
      if (msg.nonce === this.nonce) return this.refuse("replay");
      this.key = await inviteKey(this.o.secret);
      this.t = transcript({
        roomId: this.o.roomId,
        inviteId: this.o.inviteId,
        fingerprints: sortedFingerprints(this.o.fingerprints),
        joinerNonce: this.nonce,
        hostNonce: msg.nonce,
      });
      this.state = "await-ok";
      return { send: [{ t: "auth-proof", mac: await proof(this.key, "joiner", this.t) }] };
    }
    if (msg.t === "auth-ok" && this.state === "await-ok" && this.t && this.key) {
      if (!(await verifyProof(this.key, "host", this.t, msg.mac))) return this.refuse("auth-failed");
      this.finished = true;
      const code = await verificationCode(sortedFingerprints(this.o.fingerprints), this.o.roomId);
      return { send: [], outcome: { ok: true, roomKey: msg.roomKey, inviteId: this.o.inviteId, code } };
    }
    return this.refuse("protocol");
  }
}

export interface HostOptions {
  roomId: string;
  roomKey: string;
  fingerprints: ChannelFingerprints;
  /** Looks the invite up in the host's store (unknown, expired, revoked, or its key hash). */
  lookup: (inviteId: string) => Promise<InviteCheck>;
  nonces: NonceLog;
  random?: Random;
}

export class HostHandshake extends Machine {
  private state: "await-hello" | "await-proof" = "await-hello";
  private t: Uint8Array | null = null;
  private key: Uint8Array | null = null;
  private inviteId = "";

  constructor(private readonly o: HostOptions) {
    super();
  }

  start(): AuthStep {
    return { send: [] };
  }

  async receive(data: unknown): Promise<AuthStep> {
    if (this.finished) return { send: [] };
    const msg = decodeAuth(data);
    if (!msg) return this.refuse("protocol");
    if (msg.t === "auth-refuse") return this.peerRefused(msg.reason);
    if (msg.t === "auth-hello" && this.state === "await-hello") {
      if (msg.v !== AUTH_VERSION) return this.refuse("protocol");
      const check = await this.o.lookup(msg.invite);
      if (check.status !== "ok") return this.refuse(check.status === "unknown" ? "unknown-invite" : check.status);
      if (check.roomId !== this.o.roomId) return this.refuse("unknown-invite");
      const key = fromBase64Url(check.keyHash);
      if (key === null || key.length !== 32) return this.refuse("unknown-invite");
      if (!this.o.nonces.add(msg.nonce)) return this.refuse("replay");
      const hostNonce = random256(this.o.random);
      this.key = key;
      this.inviteId = msg.invite;
      this.t = transcript({
        roomId: this.o.roomId,
        inviteId: msg.invite,
        fingerprints: sortedFingerprints(this.o.fingerprints),
        joinerNonce: msg.nonce,
        hostNonce,
      });
      this.state = "await-proof";
      return { send: [{ t: "auth-challenge", nonce: hostNonce }] };
    }
    if (msg.t === "auth-proof" && this.state === "await-proof" && this.t && this.key) {
      if (!(await verifyProof(this.key, "joiner", this.t, msg.mac))) return this.refuse("auth-failed");
      this.finished = true;
      const mac = await proof(this.key, "host", this.t);
      const code = await verificationCode(sortedFingerprints(this.o.fingerprints), this.o.roomId);
      return { send: [{ t: "auth-ok", mac, roomKey: this.o.roomKey }], outcome: { ok: true, roomKey: this.o.roomKey, inviteId: this.inviteId, code } };
    }
    return this.refuse("protocol");
  }
}
