/**
 * The receiver's file hashing, off the page's main thread (adapters/hash-worker.ts): one running
 * SHA-256 per id; `bytes` are added in the order they come, `end` answers with the hex digest.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

type Hash = ReturnType<typeof sha256.create>;
const open = new Map<number, Hash>();
const scope = self as unknown as { onmessage: ((e: MessageEvent) => void) | null; postMessage(m: unknown): void };

scope.onmessage = (e: MessageEvent) => {
  const m = e.data as { id: number; bytes?: ArrayBuffer; end?: boolean };
  let h = open.get(m.id);
  if (!h) open.set(m.id, (h = sha256.create()));
  if (m.bytes) h.update(new Uint8Array(m.bytes));
  if (m.end) {
    open.delete(m.id);
    scope.postMessage({ id: m.id, hex: bytesToHex(h.digest()) });
  }
};
