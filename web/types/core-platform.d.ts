// The platform as src/core may see it, for tsconfig.core.json: core compiles WITHOUT the DOM
// library, so a `document`, `window`, `HTMLElement` or `navigator` in core fails the build. What is
// declared here is what core legitimately uses: WebCrypto, timers, text/URL/base64 helpers, fetch,
// a Storage-like port, and WebRTC's data shapes (plain values core reads, never live objects).
// Each declaration is a subset of the DOM library's, so the same code also compiles with it.

type BufferSource = ArrayBufferView | ArrayBuffer;
interface CryptoKey {
  readonly type: string;
}
interface CryptoKeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}
interface JsonWebKey {
  kty?: string;
  crv?: string;
  x?: string;
  y?: string;
  d?: string;
}
interface SubtleCrypto {
  importKey(format: "jwk", keyData: JsonWebKey, algorithm: unknown, extractable: boolean, keyUsages: string[]): Promise<CryptoKey>;
  importKey(format: string, keyData: BufferSource, algorithm: unknown, extractable: boolean, keyUsages: string[]): Promise<CryptoKey>;
  generateKey(algorithm: { name: string; namedCurve: string }, extractable: boolean, keyUsages: string[]): Promise<CryptoKeyPair>;
  exportKey(format: "jwk", key: CryptoKey): Promise<JsonWebKey>;
  exportKey(format: "raw", key: CryptoKey): Promise<ArrayBuffer>;
  sign(algorithm: unknown, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer>;
  verify(algorithm: unknown, key: CryptoKey, signature: BufferSource, data: BufferSource): Promise<boolean>;
  digest(algorithm: unknown, data: BufferSource): Promise<ArrayBuffer>;
  deriveBits(algorithm: unknown, baseKey: CryptoKey, length: number): Promise<ArrayBuffer>;
  deriveKey(algorithm: unknown, baseKey: CryptoKey, derivedKeyType: unknown, extractable: boolean, keyUsages: string[]): Promise<CryptoKey>;
}
declare const crypto: { readonly subtle: SubtleCrypto; getRandomValues<T extends ArrayBufferView>(array: T): T };

declare function setTimeout(handler: () => void, timeout?: number): number;
interface AbortSignal {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
}
declare class AbortController {
  readonly signal: AbortSignal;
  abort(): void;
}
declare function clearTimeout(id: number | undefined): void;

declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: BufferSource): string;
}
declare class URL {
  constructor(url: string, base?: string | URL);
  hash: string;
  host: string;
  hostname: string;
  href: string;
  origin: string;
  pathname: string;
  port: string;
  protocol: string;
  search: string;
  readonly searchParams: { get(name: string): string | null; set(name: string, value: string): void; has(name: string): boolean };
  username: string;
  password: string;
  toString(): string;
}
declare function atob(data: string): string;
declare function btoa(data: string): string;

interface Response {
  readonly ok: boolean;
  readonly status: number;
  json(): Promise<unknown>;
}
declare function fetch(input: string, init?: { signal?: AbortSignal; cache?: string; credentials?: string }): Promise<Response>;
interface AbortSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
}

interface Storage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

type RTCIceConnectionState = "checking" | "closed" | "completed" | "connected" | "disconnected" | "failed" | "new";
type RTCIceTransportPolicy = "all" | "relay";
interface RTCIceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}
interface RTCConfiguration {
  iceServers?: RTCIceServer[];
  iceTransportPolicy?: RTCIceTransportPolicy;
}
interface RTCStatsReport {
  forEach(callback: (value: unknown, key: string) => void): void;
  get(key: string): unknown;
  values(): IterableIterator<unknown>;
}

// Calls (core/calls) hand tracks between the UI and the media port without touching them.
interface MediaStreamTrack {
  readonly kind: string;
  readonly id: string;
}

// Files (core/files): a received file is handed to the UI as a Blob; core never reads the DOM's File.
type BlobPart = BufferSource | Blob | string;
declare class Blob {
  constructor(parts?: BlobPart[], options?: { type?: string });
  readonly size: number;
  readonly type: string;
  slice(start?: number, end?: number, contentType?: string): Blob;
  arrayBuffer(): Promise<ArrayBuffer>;
}

// Compression (core/compress): the platform's "deflate-raw" streams, where the browser has them.
interface ReadableStreamDefaultReader<R> {
  read(): Promise<{ done: true; value?: undefined } | { done: false; value: R }>;
  cancel(reason?: unknown): Promise<void>;
}
interface WritableStreamDefaultWriter<W> {
  readonly ready: Promise<undefined>;
  write(chunk: W): Promise<void>;
  close(): Promise<void>;
  abort(reason?: unknown): Promise<void>;
}
declare class CompressionStream {
  constructor(format: "deflate-raw");
  readonly readable: { getReader(): ReadableStreamDefaultReader<Uint8Array> };
  readonly writable: { getWriter(): WritableStreamDefaultWriter<BufferSource> };
}
declare class DecompressionStream {
  constructor(format: "deflate-raw");
  readonly readable: { getReader(): ReadableStreamDefaultReader<Uint8Array> };
  readonly writable: { getWriter(): WritableStreamDefaultWriter<BufferSource> };
}
