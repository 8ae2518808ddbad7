/** The handshake's frames on the data channel (JSON), validated strictly before any use. */
import { isOpaqueId } from "../ids";

/**
 * Why a connection was refused. Sent in `auth-refuse`, shown in plain words on both sides.
 * `timeout` is only ever local (nothing arrived in time).
 */
export type RefusalCode = "unknown-invite" | "expired" | "revoked" | "auth-failed" | "replay" | "protocol" | "busy" | "timeout";
export const REFUSAL_CODES: readonly RefusalCode[] = ["unknown-invite", "expired", "revoked", "auth-failed", "replay", "protocol", "busy", "timeout"];

export type AuthMessage =
  | { t: "auth-hello"; v: number; invite: string; nonce: string }
  | { t: "auth-challenge"; nonce: string; commit: string }
  | { t: "auth-proof"; mac: string; codeNonce: string }
  | { t: "auth-ok"; mac: string; roomKey: string; reveal: string }
  | { t: "auth-refuse"; reason: RefusalCode };

const B64_256 = /^[A-Za-z0-9_-]{43}$/;
const KEYS: Record<AuthMessage["t"], readonly string[]> = {
  "auth-hello": ["t", "v", "invite", "nonce"],
  "auth-challenge": ["t", "nonce", "commit"],
  "auth-proof": ["t", "mac", "codeNonce"],
  "auth-ok": ["t", "mac", "roomKey", "reveal"],
  "auth-refuse": ["t", "reason"],
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
  const allowed = KEYS[m.t as AuthMessage["t"]];
  if (keys.length !== allowed.length || !keys.every((k) => allowed.includes(k))) return null;
  const b64 = (v: unknown): v is string => typeof v === "string" && B64_256.test(v);
  switch (m.t) {
    case "auth-hello":
      return typeof m.v === "number" && Number.isInteger(m.v) && m.v >= 0 && m.v < 1000 && typeof m.invite === "string" && isOpaqueId(m.invite) && b64(m.nonce)
        ? { t: "auth-hello", v: m.v, invite: m.invite, nonce: m.nonce }
        : null;
    case "auth-challenge":
      return b64(m.nonce) && b64(m.commit) ? { t: "auth-challenge", nonce: m.nonce, commit: m.commit } : null;
    case "auth-proof":
      return b64(m.mac) && b64(m.codeNonce) ? { t: "auth-proof", mac: m.mac, codeNonce: m.codeNonce } : null;
    case "auth-ok":
      return b64(m.mac) && b64(m.roomKey) && b64(m.reveal) ? { t: "auth-ok", mac: m.mac, roomKey: m.roomKey, reveal: m.reveal } : null;
    case "auth-refuse":
      return typeof m.reason === "string" && (REFUSAL_CODES as readonly string[]).includes(m.reason) && m.reason !== "timeout"
        ? { t: "auth-refuse", reason: m.reason as RefusalCode }
        : null;
    default:
      return null;
  }
}
