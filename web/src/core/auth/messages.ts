/** The handshake's frames on the data channel (JSON), validated strictly before any use. */
import { MAX_MEMBERS } from "../delivery/frames";
import { isOpaqueId, isPeerId } from "../ids";
import { PUBLIC_KEY, SIGNATURE, isCertificate, isEpoch, type Certificate, type Epoch } from "./keys";

/**
 * The invite id of the member handshake: members of a room authenticate each other with the
 * certificates the host issued them (and their keys), not with an invite secret.
 */
export const MEMBER_INVITE_ID = "room-member-v3";

/**
 * Why a connection was refused. Sent in `auth-refuse`, shown in plain words on both sides.
 * `timeout` is only ever local (nothing arrived in time).
 */
export type RefusalCode = "unknown-invite" | "expired" | "revoked" | "auth-failed" | "replay" | "protocol" | "busy" | "timeout";
export const REFUSAL_CODES: readonly RefusalCode[] = ["unknown-invite", "expired", "revoked", "auth-failed", "replay", "protocol", "busy", "timeout"];

/**
 * `key`: the sender's public key (core/auth/keys.ts); `sig`: its signature over the transcript.
 * With an invite, `mac` proves the invite secret and the host grants a certificate (`cert`, and the
 * room's `epoch` after a removal) in auth-ok; between members, each names its certificate in hello
 * and challenge and there is no `mac`.
 */
export type AuthMessage =
  | { t: "auth-hello"; v: number; invite: string; nonce: string; key: string; cert?: Certificate }
  | { t: "auth-challenge"; nonce: string; commit: string; key: string; cert?: Certificate }
  | { t: "auth-proof"; mac?: string; codeNonce: string; sig: string }
  | { t: "auth-ok"; mac?: string; reveal: string; sig: string; cert?: Certificate; epoch?: Epoch }
  | { t: "auth-refuse"; reason: RefusalCode };

const B64_256 = /^[A-Za-z0-9_-]{43}$/;
/** Keys each frame must have, and keys it may have. */
const KEYS: Record<AuthMessage["t"], { required: readonly string[]; optional: readonly string[] }> = {
  "auth-hello": { required: ["t", "v", "invite", "nonce", "key"], optional: ["cert"] },
  "auth-challenge": { required: ["t", "nonce", "commit", "key"], optional: ["cert"] },
  "auth-proof": { required: ["t", "codeNonce", "sig"], optional: ["mac"] },
  "auth-ok": { required: ["t", "reveal", "sig"], optional: ["mac", "cert", "epoch"] },
  "auth-refuse": { required: ["t", "reason"], optional: [] },
};

/** True for frames that belong to the handshake (by their type tag), well-formed or not. */
export function isAuthFrame(data: unknown): boolean {
  return (
    typeof data === "object" &&
    data !== null &&
    !Array.isArray(data) &&
    typeof (data as { t?: unknown }).t === "string" &&
    (data as { t: string }).t.startsWith("auth-")
  );
}

/** The message when `data` is exactly a well-formed handshake frame (no extra keys, exact sizes), else null. */
export function decodeAuth(data: unknown): AuthMessage | null {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return null;
  const m = data as Record<string, unknown>;
  if (typeof m.t !== "string" || !Object.prototype.hasOwnProperty.call(KEYS, m.t)) return null;
  const keys = Object.keys(m);
  const shape = KEYS[m.t as AuthMessage["t"]];
  if (!shape.required.every((k) => keys.includes(k)) || !keys.every((k) => shape.required.includes(k) || shape.optional.includes(k))) return null;
  const b64 = (v: unknown): v is string => typeof v === "string" && B64_256.test(v);
  const key = (v: unknown): v is string => typeof v === "string" && PUBLIC_KEY.test(v);
  const sig = (v: unknown): v is string => typeof v === "string" && SIGNATURE.test(v);
  const cert = (v: unknown): v is Certificate | undefined => v === undefined || isCertificate(v);
  const mac = (v: unknown): v is string | undefined => v === undefined || b64(v);
  const withOptional = <T extends object>(base: T, extra: Record<string, unknown>): T => {
    for (const [k, v] of Object.entries(extra)) if (v !== undefined) (base as Record<string, unknown>)[k] = v;
    return base;
  };
  switch (m.t) {
    case "auth-hello":
      return typeof m.v === "number" &&
        Number.isInteger(m.v) &&
        m.v >= 0 &&
        m.v < 1000 &&
        typeof m.invite === "string" &&
        isOpaqueId(m.invite) &&
        b64(m.nonce) &&
        key(m.key) &&
        cert(m.cert)
        ? withOptional<AuthMessage>({ t: "auth-hello", v: m.v, invite: m.invite, nonce: m.nonce, key: m.key }, { cert: m.cert })
        : null;
    case "auth-challenge":
      return b64(m.nonce) && b64(m.commit) && key(m.key) && cert(m.cert)
        ? withOptional<AuthMessage>({ t: "auth-challenge", nonce: m.nonce, commit: m.commit, key: m.key }, { cert: m.cert })
        : null;
    case "auth-proof":
      return mac(m.mac) && b64(m.codeNonce) && sig(m.sig)
        ? withOptional<AuthMessage>({ t: "auth-proof", codeNonce: m.codeNonce, sig: m.sig }, { mac: m.mac })
        : null;
    case "auth-ok":
      return mac(m.mac) && b64(m.reveal) && sig(m.sig) && cert(m.cert) && (m.epoch === undefined || isEpoch(m.epoch, isPeerId, MAX_MEMBERS))
        ? withOptional<AuthMessage>({ t: "auth-ok", reveal: m.reveal, sig: m.sig }, { mac: m.mac, cert: m.cert, epoch: m.epoch })
        : null;
    case "auth-refuse":
      return typeof m.reason === "string" && (REFUSAL_CODES as readonly string[]).includes(m.reason) && m.reason !== "timeout"
        ? { t: "auth-refuse", reason: m.reason as RefusalCode }
        : null;
    default:
      return null;
  }
}
