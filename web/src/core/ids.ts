/** Branded identifiers: a PeerId cannot be passed where a RoomId is expected. */
export type Brand<T, B extends string> = T & { readonly __brand: B };
export type PeerId = Brand<string, "PeerId">;
export type RoomId = Brand<string, "RoomId">;
export type InviteId = Brand<string, "InviteId">;
export type MessageId = Brand<string, "MessageId">;

/** The PeerJS client's own id rule (the server enforces the same). */
const PEER_ID = /^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$/;
const TOKEN_ID = /^[A-Za-z0-9_-]{8,64}$/;

export function isPeerId(value: string): value is PeerId {
  return value.length >= 1 && value.length <= 64 && PEER_ID.test(value);
}

/**
 * Every id this app registers is token-bound (docs/protocol.md, "Peer ids"): this prefix and the first
 * 16 bytes of SHA-256 of the PeerJS token in lower-case hex. The signaling server lets only that
 * token hold the id, so nobody can take a room host's id from its invite link while the host is away.
 */
export const TOKEN_BOUND_PREFIX = "gc1-";

/** A fresh PeerJS token: 128 random bits (crypto.getRandomValues), base64url. */
export function newToken(random?: (buf: Uint8Array) => Uint8Array): string {
  return randomBase64Url(16, random);
}

/** The token-bound id of `token` (what the server checks). */
export async function tokenBoundPeerId(token: string): Promise<PeerId> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
  let hex = "";
  for (const b of hash.subarray(0, 16)) hex += b.toString(16).padStart(2, "0");
  return (TOKEN_BOUND_PREFIX + hex) as PeerId;
}

export function isOpaqueId(value: string): boolean {
  return TOKEN_ID.test(value);
}

/** Random bytes as unpadded base64url. */
export function randomBase64Url(bytes: number, random: (buf: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b)): string {
  return toBase64Url(random(new Uint8Array(bytes)));
}

export function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64Url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  const binary = atob(b64);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
