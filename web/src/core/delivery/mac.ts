import { toBase64Url, fromBase64Url } from "../ids";

/**
 * Signs and checks end-to-end frames. The engine only sees this port; `createRoomMac` is the real
 * one (HMAC-SHA-256 under a key derived from the room key). Results may be synchronous or promises.
 */
export interface FrameAuthenticator {
  sign(data: string): string | Promise<string>;
  verify(data: string, tag: string): boolean | Promise<boolean>;
}

/** HKDF `info` that separates the frame MAC key from every other use of the room key. */
export const MESH_MAC_INFO = "GhostChat mesh frame MAC v1";

const encoder = new TextEncoder();

/**
 * HMAC-SHA-256 over the frame's MAC input, keyed by HKDF-SHA-256(room key, salt = room id,
 * info = MESH_MAC_INFO). A member relaying a frame cannot alter it or make up one unless it holds
 * the room key (see docs/protocol.md, "Rooms and delivery", for what this does not cover).
 */
export async function createRoomMac(roomKey: Uint8Array, roomId: string, subtle: SubtleCrypto = crypto.subtle): Promise<FrameAuthenticator> {
  if (roomKey.length < 16) throw new Error("room key too short");
  const base = await subtle.importKey("raw", roomKey as BufferSource, "HKDF", false, ["deriveKey"]);
  const key = await subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: encoder.encode(roomId), info: encoder.encode(MESH_MAC_INFO) },
    base,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign", "verify"],
  );
  return {
    async sign(data) {
      return toBase64Url(new Uint8Array(await subtle.sign("HMAC", key, encoder.encode(data))));
    },
    async verify(data, tag) {
      const bytes = fromBase64Url(tag);
      if (!bytes || bytes.length !== 32) return false;
      return subtle.verify("HMAC", key, bytes as BufferSource, encoder.encode(data));
    },
  };
}
