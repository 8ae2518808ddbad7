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
