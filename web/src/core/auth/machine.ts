/**
 * The handshake as two small state machines, one per role (docs/protocol.md):
 *
 *   joiner → host   auth-hello     {v, invite, nonce Nj, key Pj, [cert]}
 *   host → joiner   auth-challenge {nonce Nh, commit C = SHA-256(label ‖ Ns), key Ph, [cert]}   (or auth-refuse: unknown/expired/revoked/replay)
 *   joiner → host   auth-proof     {[mac = HMAC(Kj, "proof:joiner\n" ‖ T)], codeNonce Nc, sig = ECDSA(Pj, "sig:joiner\n" ‖ T)}
 *   host → joiner   auth-ok        {[mac = HMAC(Kh, "proof:host\n" ‖ T)], reveal Ns, sig = ECDSA(Ph, "sig:host\n" ‖ T), [cert, epoch]}
 *
 * K = SHA-256(invite secret), Kj/Kh = HKDF(K, role); T = transcript(version, room, invite, both DTLS
 * fingerprints, Nj, Nh, C, Nc, Pj, Ph). Two flavours: with an invite, the MACs prove the secret, the
 * joiner checks that Ph is the key the link names (its SHA-256), and the host grants the joiner a
 * certificate for Pj in auth-ok. Between members (invite MEMBER_INVITE_ID), each side names its
 * certificate and the other checks it against the room's authority; there are no MACs. Either way
 * each side signs the transcript, proving it holds the key it named on this very connection. The verification code mixes Nc and Ns: the host fixed Ns (by C)
 * before it saw Nc, the joiner picked Nc before it saw Ns, so neither side alone steers the code.
 * A man in the middle holds different certificates on each leg, so the two sides compute
 * different transcripts and no proof verifies. Anything out of order, malformed or oversized
 * ends the handshake with `protocol`. No DOM, no timers: the session drives them.
 */
import { fromBase64Url } from "../ids";
import {
  AUTH_VERSION,
  codeCommitment,
  inviteKey,
  proof,
  random256,
  signatureInput,
  transcript,
  verificationCode,
  verifyProof,
  type VerificationCode,
} from "./crypto";
import { sortedFingerprints, type ChannelFingerprints } from "./fingerprint";
import { keyHash, type Certificate, type Epoch, type Signer, type Verifier } from "./keys";
import { MEMBER_INVITE_ID, decodeAuth, type AuthMessage, type RefusalCode } from "./messages";

export type AuthOutcome =
  | {
      ok: true;
      inviteId: string;
      code: VerificationCode;
      /** The other side's public key, proven on this connection. */
      peerKey: string;
      /** Invite flavour, joiner side: the certificate the host granted, and the room's epoch after a removal. */
      cert?: Certificate;
      epoch?: Epoch;
    }
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

/** A member's side of the member flavour: its own certificate, and the check of the other side's. */
export interface MemberCredentials {
  cert: Certificate;
  /** Whether `cert` certifies `key` for the member at the other end of this connection. */
  accepts(key: string, cert: Certificate): boolean | Promise<boolean>;
}

interface Common {
  roomId: string;
  fingerprints: ChannelFingerprints;
  /** This page's member key. */
  self: Signer;
  verify: Verifier;
  random?: Random;
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

export interface JoinerOptions extends Common {
  /** With an invite: its id and secret, and the SHA-256 of the host's key from the link. */
  invite?: { inviteId: string; secret: string; hostKeyHash: string };
  /** Between members. */
  member?: MemberCredentials;
}

export class JoinerHandshake extends Machine {
  private state: "new" | "await-challenge" | "await-ok" = "new";
  private readonly nonce: string;
  private readonly codeNonce: string;
  private readonly inviteId: string;
  private commit = "";
  private hostKey = "";
  private t: Uint8Array | null = null;
  private key: Uint8Array | null = null;

  constructor(private readonly o: JoinerOptions) {
    super();
    if (!o.invite === !o.member) throw new Error("a joiner comes with an invite or as a member");
    this.inviteId = o.invite?.inviteId ?? MEMBER_INVITE_ID;
    this.nonce = random256(o.random);
    this.codeNonce = random256(o.random);
  }

  start(): AuthStep {
    if (this.state !== "new" || this.finished) return { send: [] };
    this.state = "await-challenge";
    const hello: AuthMessage = { t: "auth-hello", v: AUTH_VERSION, invite: this.inviteId, nonce: this.nonce, key: this.o.self.key };
    if (this.o.member) hello.cert = this.o.member.cert;
    return { send: [hello] };
  }

  async receive(data: unknown): Promise<AuthStep> {
    if (this.finished) return { send: [] };
    const msg = decodeAuth(data);
    if (!msg) return this.refuse("protocol");
    if (msg.t === "auth-refuse") return this.peerRefused(msg.reason);
    if (msg.t === "auth-challenge" && this.state === "await-challenge") {
      // Our own nonce coming back is a reflection, not a fresh challenge.
      if (msg.nonce === this.nonce || msg.key === this.o.self.key) return this.refuse("replay");
      if (this.o.invite) {
        // Only the host whose key the link names: another holder of the link cannot stand in for it.
        if (msg.cert !== undefined) return this.refuse("protocol");
        if ((await keyHash(msg.key)) !== this.o.invite.hostKeyHash) return this.refuse("auth-failed");
        this.key = await inviteKey(this.o.invite.secret);
      } else {
        if (msg.cert === undefined) return this.refuse("protocol");
        if (!(await this.o.member!.accepts(msg.key, msg.cert))) return this.refuse("auth-failed");
      }
      this.commit = msg.commit;
      this.hostKey = msg.key;
      this.t = transcript({
        roomId: this.o.roomId,
        inviteId: this.inviteId,
        fingerprints: sortedFingerprints(this.o.fingerprints),
        joinerNonce: this.nonce,
        hostNonce: msg.nonce,
        codeCommit: msg.commit,
        codeNonce: this.codeNonce,
        joinerKey: this.o.self.key,
        hostKey: msg.key,
      });
      this.state = "await-ok";
      const sig = await this.o.self.sign(signatureInput("joiner", this.t));
      const step: AuthMessage = { t: "auth-proof", codeNonce: this.codeNonce, sig };
      if (this.key) step.mac = await proof(this.key, "joiner", this.t);
      return { send: [step] };
    }
    if (msg.t === "auth-ok" && this.state === "await-ok" && this.t) {
      if (this.key) {
        if (msg.mac === undefined || msg.cert === undefined || !(await verifyProof(this.key, "host", this.t, msg.mac))) return this.refuse("auth-failed");
      } else if (msg.mac !== undefined || msg.cert !== undefined || msg.epoch !== undefined) return this.refuse("protocol");
      if (!(await this.o.verify(this.hostKey, signatureInput("host", this.t), msg.sig))) return this.refuse("auth-failed");
      // The host's code nonce must be the one it committed to before it saw ours.
      if ((await codeCommitment(msg.reveal)) !== this.commit) return this.refuse("auth-failed");
      this.finished = true;
      const code = await verificationCode(sortedFingerprints(this.o.fingerprints), this.o.roomId, { joiner: this.codeNonce, host: msg.reveal });
      const outcome: AuthOutcome = { ok: true, inviteId: this.inviteId, code, peerKey: this.hostKey };
      if (msg.cert) outcome.cert = msg.cert;
      if (msg.epoch) outcome.epoch = msg.epoch;
      return { send: [], outcome };
    }
    return this.refuse("protocol");
  }
}

export interface HostOptions extends Common {
  /** Looks the invite up in the host's store (unknown, expired, revoked, or its key hash). */
  lookup: (inviteId: string) => Promise<InviteCheck>;
  nonces: NonceLog;
  /** The host: grants a joiner with an invite its certificate (and the room's epoch after a removal). */
  grant?: (joinerKey: string) => Promise<{ cert: Certificate; epoch: Epoch | null }>;
  /** Every member: takes other members. */
  member?: MemberCredentials;
  /** Whether the room has a seat for the key the other side just proved; refused `busy` when not. */
  admit?: (key: string) => boolean;
}

export class HostHandshake extends Machine {
  private state: "await-hello" | "await-proof" = "await-hello";
  private key: Uint8Array | null = null;
  private inviteId = "";
  private joinerKey = "";
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
      if (msg.key === this.o.self.key) return this.refuse("replay");
      if (msg.invite === MEMBER_INVITE_ID) {
        if (!this.o.member) return this.refuse("unknown-invite");
        if (msg.cert === undefined) return this.refuse("protocol");
        if (!(await this.o.member.accepts(msg.key, msg.cert))) return this.refuse("auth-failed");
      } else {
        if (msg.cert !== undefined) return this.refuse("protocol");
        if (!this.o.grant) return this.refuse("unknown-invite");
        const check = await this.o.lookup(msg.invite);
        if (check.status !== "ok") return this.refuse(check.status === "unknown" ? "unknown-invite" : check.status);
        if (check.roomId !== this.o.roomId) return this.refuse("unknown-invite");
        const key = fromBase64Url(check.keyHash);
        if (key === null || key.length !== 32) return this.refuse("unknown-invite");
        this.key = key;
      }
      if (!this.o.nonces.add(msg.nonce)) return this.refuse("replay");
      this.inviteId = msg.invite;
      this.joinerKey = msg.key;
      this.joinerNonce = msg.nonce;
      this.hostNonce = random256(this.o.random);
      this.reveal = random256(this.o.random);
      this.commit = await codeCommitment(this.reveal);
      this.state = "await-proof";
      const challenge: AuthMessage = { t: "auth-challenge", nonce: this.hostNonce, commit: this.commit, key: this.o.self.key };
      if (!this.key) challenge.cert = this.o.member!.cert;
      return { send: [challenge] };
    }
    if (msg.t === "auth-proof" && this.state === "await-proof") {
      const t = transcript({
        roomId: this.o.roomId,
        inviteId: this.inviteId,
        fingerprints: sortedFingerprints(this.o.fingerprints),
        joinerNonce: this.joinerNonce,
        hostNonce: this.hostNonce,
        codeCommit: this.commit,
        codeNonce: msg.codeNonce,
        joinerKey: this.joinerKey,
        hostKey: this.o.self.key,
      });
      if (this.key) {
        if (msg.mac === undefined || !(await verifyProof(this.key, "joiner", t, msg.mac))) return this.refuse("auth-failed");
      } else if (msg.mac !== undefined) return this.refuse("protocol");
      if (!(await this.o.verify(this.joinerKey, signatureInput("joiner", t), msg.sig))) return this.refuse("auth-failed");
      if (this.o.admit && !this.o.admit(this.joinerKey)) return this.refuse("busy");
      this.finished = true;
      const ok: AuthMessage = { t: "auth-ok", reveal: this.reveal, sig: await this.o.self.sign(signatureInput("host", t)) };
      if (this.key) {
        ok.mac = await proof(this.key, "host", t);
        const granted = await this.o.grant!(this.joinerKey);
        ok.cert = granted.cert;
        if (granted.epoch) ok.epoch = granted.epoch;
      }
      const code = await verificationCode(sortedFingerprints(this.o.fingerprints), this.o.roomId, { joiner: msg.codeNonce, host: this.reveal });
      return { send: [ok], outcome: { ok: true, inviteId: this.inviteId, code, peerKey: this.joinerKey } };
    }
    return this.refuse("protocol");
  }
}
