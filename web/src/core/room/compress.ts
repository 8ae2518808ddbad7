import { deflateIfSmaller, type Codec } from "../compress";
import { MAX_FRAME_CHARS } from "../delivery/frames";
import type { LinksPort } from "./mesh";

/** Message frames at least this long (characters) are worth deflating; shorter ones go as they are. */
export const DEFLATE_MIN_CHARS = 1024;
/** The most a deflated frame may inflate to: the largest frame's UTF-8 (3 bytes per UTF-16 unit at most). */
const MAX_INFLATED = MAX_FRAME_CHARS * 3;
const DEFLATED = /^\{"t":"z","z":"([A-Za-z0-9+/]+={0,2})"\}$/;
/** A message frame, as MeshRoom writes one (JSON.stringify puts `t` first). */
const MESSAGE = '{"t":"m",';

export type InflateRefusal = "bad-deflate";

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c < 0xdc00 ? 2 : 3; // a surrogate pair is 4 bytes: 2 + 2
  }
  return n;
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * The mesh's links with long chat messages deflated (docs/protocol.md, "Compressed frames"). A
 * member says in its presence frames (`z: 1`) that it inflates; to such a member a message frame
 * of at least DEFLATE_MIN_CHARS goes as `{"t":"z","z":"<base64 of its UTF-8 in raw DEFLATE>"}`
 * when that is shorter, else as it is. A member that never said so (a version before compression)
 * only ever gets frames as they are. Received, a `z` frame is inflated (at most MAX_INFLATED bytes,
 * valid UTF-8, else refused `bad-deflate` and dropped) and handled like the frame it holds.
 *
 * Deflating is asynchronous: frames to a member wait behind a message being deflated, and frames
 * from a member behind one being inflated, so each link keeps its order. A frame queued so is
 * reported sent (true) at once; if the link drops meanwhile it is lost like any frame in flight on
 * a dropping link (the outbox sends messages again).
 */
export class CompressingLinks implements LinksPort {
  private readonly inflaters = new Set<string>();
  private readonly sending = new Map<string, Promise<void>>();
  private readonly receiving = new Map<string, Promise<void>>();

  constructor(
    private readonly inner: LinksPort,
    private readonly codec: Codec,
    private readonly refused: (from: string, reason: InflateRefusal) => void,
  ) {}

  /** `peer` said (its presence `z`) whether it inflates; forgotten when its link goes down. */
  peerInflates(peer: string, yes: boolean): void {
    if (yes) this.inflaters.add(peer);
    else this.inflaters.delete(peer);
  }

  send(to: string, frame: string): boolean {
    const queued = this.sending.get(to);
    const worth = this.inflaters.has(to) && frame.length >= DEFLATE_MIN_CHARS && frame.startsWith(MESSAGE);
    if (!queued && !worth) return this.inner.send(to, frame);
    const next = (queued ?? Promise.resolve())
      .then(() => (worth ? this.deflate(frame) : frame))
      .then((out) => void this.inner.send(to, out))
      .finally(() => {
        if (this.sending.get(to) === next) this.sending.delete(to);
      });
    this.sending.set(to, next);
    return true;
  }

  onFrame(handler: (from: string, frame: string) => void): () => void {
    return this.inner.onFrame((from, data) => {
      const queued = this.receiving.get(from);
      const deflated = data.startsWith('{"t":"z",');
      if (!queued && !deflated) return handler(from, data);
      const next = (queued ?? Promise.resolve())
        .then(() => (deflated ? this.inflate(data) : data))
        .then((frame) => {
          if (frame === null) this.refused(from, "bad-deflate");
          else handler(from, frame);
        })
        .finally(() => {
          if (this.receiving.get(from) === next) this.receiving.delete(from);
        });
      this.receiving.set(from, next);
    });
  }

  onUp(handler: (peer: string) => void): () => void {
    return this.inner.onUp(handler);
  }

  onDown(handler: (peer: string) => void): () => void {
    return this.inner.onDown((peer) => {
      this.inflaters.delete(peer);
      handler(peer);
    });
  }

  private async deflate(frame: string): Promise<string> {
    try {
      const z = await deflateIfSmaller(this.codec, new TextEncoder().encode(frame));
      if (!z) return frame;
      const wrapped = `{"t":"z","z":"${toBase64(z)}"}`;
      return wrapped.length < utf8Length(frame) ? wrapped : frame;
    } catch {
      return frame;
    }
  }

  /** The frame a `z` frame holds, or null when it is malformed, not raw DEFLATE, too large or not UTF-8. */
  private async inflate(data: string): Promise<string | null> {
    const m = data.length <= MAX_FRAME_CHARS ? DEFLATED.exec(data) : null;
    if (!m) return null;
    try {
      const bytes = await this.codec.inflate(fromBase64(m[1]!), MAX_INFLATED);
      const frame = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      return frame.length <= MAX_FRAME_CHARS ? frame : null;
    } catch {
      return null; // InflateError, or not UTF-8 (TypeError)
    }
  }
}
