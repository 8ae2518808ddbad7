/**
 * Raw DEFLATE (RFC 1951) for what travels between members: file chunks (core/files) and long chat
 * frames (core/room). The platform's `CompressionStream("deflate-raw")` where the browser has it;
 * otherwise fflate, loaded on first use so it never weighs on a page that does not need it.
 *
 * Inflating is where a peer can attack: every caller names the most bytes it will take, and the
 * output is counted while it is produced (the input is fed a little at a time), so a "zip bomb"
 * stops a little past that limit instead of filling memory. Bad input is refused with a reason;
 * nothing here throws anything but `InflateError`.
 */

export type InflateRefusal = "too-large" | "bad-data";

export class InflateError extends Error {
  constructor(readonly reason: InflateRefusal) {
    super(reason === "too-large" ? "compressed data inflates past its declared size" : "compressed data is not valid raw DEFLATE");
    this.name = "InflateError";
  }
}

export interface Codec {
  deflate(bytes: Uint8Array): Promise<Uint8Array>;
  /** The inflated bytes; `InflateError` when they are not valid raw DEFLATE or more than `limit` bytes. */
  inflate(bytes: Uint8Array, limit: number): Promise<Uint8Array>;
}

/** Input fed to a DecompressionStream at a time: DEFLATE expands at most ~1032×, so output between reads stays near 1 MiB. */
const FEED = 1024;

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** True when this browser has the platform's "deflate-raw" streams (Chromium 103+, Firefox 113+, Safari 16.4+). */
export function hasPlatformDeflate(): boolean {
  try {
    if (typeof CompressionStream !== "function" || typeof DecompressionStream !== "function") return false;
    new CompressionStream("deflate-raw");
    new DecompressionStream("deflate-raw");
    return true;
  } catch {
    return false;
  }
}

/** The platform's streams. */
export const streamCodec: Codec = {
  async deflate(bytes) {
    const cs = new CompressionStream("deflate-raw");
    const writer = cs.writable.getWriter();
    const reader = cs.readable.getReader();
    const fed = writer.write(bytes as BufferSource).then(() => writer.close());
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      parts.push(r.value);
      total += r.value.length;
    }
    await fed;
    return concat(parts, total);
  },

  async inflate(bytes, limit) {
    let ds: DecompressionStream;
    try {
      ds = new DecompressionStream("deflate-raw");
    } catch {
      throw new InflateError("bad-data");
    }
    const writer = ds.writable.getWriter();
    const reader = ds.readable.getReader();
    const feed = (async () => {
      for (let at = 0; at < bytes.length; at += FEED) {
        await writer.ready;
        await writer.write(bytes.subarray(at, at + FEED) as BufferSource);
      }
      await writer.close();
    })();
    feed.catch(() => undefined);
    const parts: Uint8Array[] = [];
    let total = 0;
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        total += r.value.length;
        if (total > limit) throw new InflateError("too-large");
        parts.push(r.value);
      }
      await feed;
    } catch (e) {
      reader.cancel().catch(() => undefined);
      writer.abort().catch(() => undefined);
      throw e instanceof InflateError ? e : new InflateError("bad-data");
    }
    return concat(parts, total);
  },
};

type Fflate = typeof import("fflate");
let fflate: Promise<Fflate> | null = null;
const loadFflate = (): Promise<Fflate> => (fflate ??= import("fflate"));

/** fflate, for browsers without the platform's "deflate-raw" (loaded on first use). */
export const fflateCodec: Codec = {
  async deflate(bytes) {
    return (await loadFflate()).deflateSync(bytes);
  },
  async inflate(bytes, limit) {
    const f = await loadFflate();
    if (bytes.length === 0) throw new InflateError("bad-data");
    // Fed a little at a time like the streams, counting what comes out.
    const parts: Uint8Array[] = [];
    let total = 0;
    const inflater = new f.Inflate((chunk) => {
      total += chunk.length;
      if (total <= limit) parts.push(chunk);
    });
    try {
      for (let at = 0; at < bytes.length && total <= limit; at += FEED) inflater.push(bytes.subarray(at, at + FEED), at + FEED >= bytes.length);
    } catch {
      throw new InflateError("bad-data");
    }
    if (total > limit) throw new InflateError("too-large");
    return concat(parts, total);
  },
};

/** This browser's codec: the platform's where it has one, else fflate. */
export function platformCodec(): Codec {
  return hasPlatformDeflate() ? streamCodec : fflateCodec;
}

/** The compressed bytes when they are smaller than `bytes`, else null (send as they are). */
export async function deflateIfSmaller(codec: Codec, bytes: Uint8Array): Promise<Uint8Array | null> {
  const z = await codec.deflate(bytes);
  return z.length < bytes.length ? z : null;
}

/** A sample worth compressing: it deflates to at most 90 % of its size. */
export async function deflatesWell(codec: Codec, sample: Uint8Array): Promise<boolean> {
  if (sample.length === 0) return false;
  try {
    return (await codec.deflate(sample)).length <= sample.length * 0.9;
  } catch {
    return false;
  }
}

/** Inflates bytes that must come to exactly `length` bytes; `InflateError` otherwise ("too-large" past it, "bad-data" short of it). */
export async function inflateExactly(codec: Codec, bytes: Uint8Array, length: number): Promise<Uint8Array> {
  const out = await codec.inflate(bytes, length);
  if (out.length !== length) throw new InflateError("bad-data");
  return out;
}
