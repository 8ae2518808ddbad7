/**
 * The file lane's wire format (docs/protocol.md, "Files"). The lane is a binary data channel of its
 * own on the link's RTCPeerConnection: JSON strings carry control frames, ArrayBuffers carry
 * chunks. Everything received is checked here; what fails is refused with a reason.
 */

/** A transfer id: 16 characters of base64url (96 random bits). */
export const TRANSFER_ID = /^[A-Za-z0-9_-]{16}$/;
/** Largest control frame (characters of JSON). */
export const MAX_CONTROL_CHARS = 2048;
/** Chunk payload sizes a sender may choose (every browser pair passes 64 KiB + header). */
export const MIN_CHUNK = 16 * 1024;
export const MAX_CHUNK = 64 * 1024;
/** Largest file the protocol can describe (the user's and the operator's limits are lower). */
export const MAX_PROTOCOL_SIZE = 2 ** 46;
/** Largest sender window (chunks ahead of the acknowledgements). */
export const MAX_WINDOW = 1024;
const CHUNK_VERSION = 1;
/** Flag on the version byte: the payload is the chunk's bytes in raw DEFLATE (sent only to a receiver whose `fa` said `z`). */
export const CHUNK_DEFLATED = 0x80;
/** Version byte (and flags), transfer id, chunk index (uint32, big-endian). */
export const CHUNK_HEADER = 1 + 16 + 4;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const MAX_NAME_CHARS = 512;
const MAX_TYPE_CHARS = 129;

export type CancelReason = "cancelled" | "declined" | "too-large" | "bad-chunk" | "hash-mismatch" | "storage" | "gone";
const REASONS: readonly CancelReason[] = ["cancelled", "declined", "too-large", "bad-chunk", "hash-mismatch", "storage", "gone"];

/** Offer: what the file is. `name` and `type` are the sender's words: the receiver sanitises them. */
export interface OfferFrame {
  t: "fo";
  id: string;
  name: string;
  size: number;
  type: string;
  /** SHA-256 of the whole file, lower-case hex. */
  sha: string;
  /** Chunk payload size: every chunk but the last is exactly this long. */
  cs: number;
  /** The sender's window: chunks it sends ahead of the acknowledgements (the receiver acks every w/4). */
  w: number;
}
/**
 * Accept: send from chunk `from` on (0 for a new transfer; the chunks already verified on resume).
 * `tok` (same form as an id, random, the receiver's) names this receiver for a resume after it
 * reloads its page (`fr`); absent from receivers that keep nothing across a reload.
 */
export interface AcceptFrame {
  t: "fa";
  id: string;
  from: number;
  tok?: string;
  /** 1: this receiver inflates raw-DEFLATE chunks (absent from receivers before compression: they get plain chunks). */
  z?: 1;
}
/**
 * Resume after a reload: the receiver, now a new page (a new peer id and key), asks the sender to go
 * on from chunk `from`, proving with `tok` that it is the page that accepted the transfer.
 */
export interface ResumeFrame {
  t: "fr";
  id: string;
  from: number;
  tok: string;
}
/** Chunks 0..n-1 are written and hashed (cumulative). */
export interface AckFrame {
  t: "fk";
  id: string;
  n: number;
}
/** The whole file's SHA-256 matched: the receiver has it. */
export interface DoneFrame {
  t: "fd";
  id: string;
}
/** Either side ends the transfer, saying why. */
export interface CancelFrame {
  t: "fx";
  id: string;
  why: CancelReason;
}
export type ControlFrame = OfferFrame | AcceptFrame | ResumeFrame | AckFrame | DoneFrame | CancelFrame;

export type WireRefusal = "too-large" | "not-json" | "bad-shape";

export function chunkCount(size: number, cs: number): number {
  return Math.ceil(size / cs);
}

/** The payload length chunk `index` must have, or -1 when the index is past the end. */
export function chunkLength(size: number, cs: number, index: number): number {
  const start = index * cs;
  if (!Number.isSafeInteger(index) || index < 0 || start >= size) return -1;
  return Math.min(cs, size - start);
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** Parses and validates one control frame. Never throws. */
export function decodeControl(data: string): { ok: true; frame: ControlFrame } | { ok: false; reason: WireRefusal } {
  if (data.length > MAX_CONTROL_CHARS) return { ok: false, reason: "too-large" };
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { ok: false, reason: "not-json" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, reason: "bad-shape" };
  const v = value as Record<string, unknown>;
  if (typeof v.id !== "string" || !TRANSFER_ID.test(v.id)) return { ok: false, reason: "bad-shape" };
  const id = v.id;
  let frame: ControlFrame | null = null;
  switch (v.t) {
    case "fo":
      if (typeof v.name === "string" && v.name.length <= MAX_NAME_CHARS && typeof v.type === "string" && v.type.length <= MAX_TYPE_CHARS)
        if (isCount(v.size) && v.size <= MAX_PROTOCOL_SIZE && typeof v.sha === "string" && SHA256_HEX.test(v.sha))
          if (isCount(v.cs) && v.cs >= MIN_CHUNK && v.cs <= MAX_CHUNK && isCount(v.w) && v.w >= 1 && v.w <= MAX_WINDOW)
            frame = { t: "fo", id, name: v.name, size: v.size, type: v.type, sha: v.sha, cs: v.cs, w: v.w };
      break;
    case "fa":
      if (!isCount(v.from) || (v.z !== undefined && v.z !== 1)) break;
      if (v.tok === undefined) frame = { t: "fa", id, from: v.from };
      else if (typeof v.tok === "string" && TRANSFER_ID.test(v.tok)) frame = { t: "fa", id, from: v.from, tok: v.tok };
      if (frame?.t === "fa" && v.z === 1) frame.z = 1;
      break;
    case "fr":
      if (isCount(v.from) && typeof v.tok === "string" && TRANSFER_ID.test(v.tok)) frame = { t: "fr", id, from: v.from, tok: v.tok };
      break;
    case "fk":
      if (isCount(v.n)) frame = { t: "fk", id, n: v.n };
      break;
    case "fd":
      frame = { t: "fd", id };
      break;
    case "fx":
      if (typeof v.why === "string" && (REASONS as readonly string[]).includes(v.why)) frame = { t: "fx", id, why: v.why as CancelReason };
      break;
  }
  return frame ? { ok: true, frame } : { ok: false, reason: "bad-shape" };
}

export function encodeChunk(id: string, index: number, payload: Uint8Array, deflated = false): ArrayBuffer {
  const out = new Uint8Array(CHUNK_HEADER + payload.length);
  out[0] = CHUNK_VERSION | (deflated ? CHUNK_DEFLATED : 0);
  for (let i = 0; i < 16; i++) out[1 + i] = id.charCodeAt(i);
  new DataView(out.buffer).setUint32(17, index, false);
  out.set(payload, CHUNK_HEADER);
  return out.buffer;
}

export type DecodedChunk = { ok: true; id: string; index: number; payload: Uint8Array; deflated: boolean } | { ok: false; reason: "bad-chunk" };

/** Splits a chunk into transfer id, index and payload; the transfer checks the rest. Never throws. */
export function decodeChunk(data: ArrayBuffer): DecodedChunk {
  if (data.byteLength < CHUNK_HEADER || data.byteLength > CHUNK_HEADER + MAX_CHUNK) return { ok: false, reason: "bad-chunk" };
  const bytes = new Uint8Array(data);
  if ((bytes[0]! & ~CHUNK_DEFLATED) !== CHUNK_VERSION) return { ok: false, reason: "bad-chunk" };
  const id = String.fromCharCode(...bytes.subarray(1, 17));
  if (!TRANSFER_ID.test(id)) return { ok: false, reason: "bad-chunk" };
  const deflated = (bytes[0]! & CHUNK_DEFLATED) !== 0;
  return { ok: true, id, index: new DataView(data).getUint32(17, false), payload: bytes.subarray(CHUNK_HEADER), deflated };
}
