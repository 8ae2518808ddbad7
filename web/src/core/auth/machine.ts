/**
 * The handshake as two small state machines, one per role (docs/protocol.md):
 *
 *   joiner → host   auth-hello     {v, invite, nonce Nj}
 *   host → joiner   auth-challenge {nonce Nh, commit C = SHA-256(label ‖ Ns)}   (or auth-refuse: unknown/expired/revoked/replay)
 *   joiner → host   auth-proof     {mac = HMAC(Kj, "proof:joiner\n" ‖ T), codeNonce Nc}
 *   host → joiner   auth-ok        {mac = HMAC(Kh, "proof:host\n" ‖ T), roomKey, reveal Ns}   (or auth-refuse: auth-failed)
 *
 * K = SHA-256(invite secret), Kj/Kh = HKDF(K, role); T = transcript(version, room, invite, both DTLS
 * fingerprints, Nj, Nh, C, Nc). The verification code mixes Nc and Ns: the host fixed Ns (by C)
 * before it saw Nc, the joiner picked Nc before it saw Ns, so neither side alone steers the code.
 * A man in the middle holds different certificates on each leg, so the two sides compute
 * different transcripts and no proof verifies. Anything out of order, malformed or oversized
 * ends the handshake with `protocol`. No DOM, no timers: the session drives them.
 */
import { fromBase64Url } from "../ids";
import { AUTH_VERSION, codeCommitment, inviteKey, proof, random256, transcript, verificationCode, verifyProof, type VerificationCode } from "./crypto";
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
  private readonly codeNonce: string;
  private commit = "";
  private t: Uint8Array | null = null;
  private key: Uint8Array | null = null;

  constructor(private readonly o: JoinerOptions) {
    super();
    this.nonce = random256(o.random);
    this.codeNonce = random256(o.random);
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
      this.commit = msg.commit;
      this.t = transcript({
        roomId: this.o.roomId,
        inviteId: this.o.inviteId,
        fingerprints: sortedFingerprints(this.o.fingerprints),
        joinerNonce: this.nonce,
        hostNonce: msg.nonce,
        codeCommit: msg.commit,
        codeNonce: this.codeNonce,
      });
      this.state = "await-ok";
      return { send: [{ t: "auth-proof", mac: await proof(this.key, "joiner", this.t), codeNonce: this.codeNonce }] };
    }
    if (msg.t === "auth-ok" && this.state === "await-ok" && this.t && this.key) {
      if (!(await verifyProof(this.key, "host", this.t, msg.mac))) return this.refuse("auth-failed");
      // The host's code nonce must be the one it committed to before it saw ours.
      if ((await codeCommitment(msg.reveal)) !== this.commit) return this.refuse("auth-failed");
      this.finished = true;
      const code = await verificationCode(sortedFingerprints(this.o.fingerprints), this.o.roomId, { joiner: this.codeNonce, host: msg.reveal });
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
  private key: Uint8Array | null = null;
  private inviteId = "";
  private joinerNonce = "";
  private hostNonce = "";
  private reveal = "";
  private commit = "";

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
      this.key = key;
      this.inviteId = msg.invite;
      this.joinerNonce = msg.nonce;
      this.hostNonce = random256(this.o.random);
      this.reveal = random256(this.o.random);
      this.commit = await codeCommitment(this.reveal);
      this.state = "await-proof";
      return { send: [{ t: "auth-challenge", nonce: this.hostNonce, commit: this.commit }] };
    }
    if (msg.t === "auth-proof" && this.state === "await-proof" && this.key) {
      const t = transcript({
        roomId: this.o.roomId,
        inviteId: this.inviteId,
        fingerprints: sortedFingerprints(this.o.fingerprints),
        joinerNonce: this.joinerNonce,
        hostNonce: this.hostNonce,
        codeCommit: this.commit,
        codeNonce: msg.codeNonce,
      });
      if (!(await verifyProof(this.key, "joiner", t, msg.mac))) return this.refuse("auth-failed");
      this.finished = true;
      const mac = await proof(this.key, "host", t);
      const code = await verificationCode(sortedFingerprints(this.o.fingerprints), this.o.roomId, { joiner: msg.codeNonce, host: this.reveal });
      return {
        send: [{ t: "auth-ok", mac, roomKey: this.o.roomKey, reveal: this.reveal }],
        outcome: { ok: true, roomKey: this.o.roomKey, inviteId: this.inviteId, code },
      };
    }
    return this.refuse("protocol");
  }
}
