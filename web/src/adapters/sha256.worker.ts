/**
 * File hashing off the page's main thread (adapters/hash-worker.ts). A receiver's running SHA-256
 * per id: `bytes` are added in the order they come, `end` answers with the hex digest. A sender's
 * whole file: `file` (a Blob) is read here a slice at a time and its digest answered ("" if it could
 * not be read).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

type Hash = ReturnType<typeof sha256.create>;
const open = new Map<number, Hash>();
const scope = self as unknown as { onmessage: ((e: MessageEvent) => void) | null; postMessage(m: unknown): void };
const SLICE = 1024 * 1024;

async function hashBlob(file: Blob): Promise<string> {
  const h = sha256.create();
  for (let at = 0; at < file.size; at += SLICE) h.update(new Uint8Array(await file.slice(at, Math.min(file.size, at + SLICE)).arrayBuffer()));
  return bytesToHex(h.digest());
}

scope.onmessage = (e: MessageEvent) => {
  const m = e.data as { id: number; bytes?: ArrayBuffer; end?: boolean; file?: Blob };
  if (m.file) {
    void hashBlob(m.file).then(
      (hex) => scope.postMessage({ id: m.id, hex }),
      () => scope.postMessage({ id: m.id, hex: "" }),
    );
    return;
  }
  let h = open.get(m.id);
  if (!h) open.set(m.id, (h = sha256.create()));
  if (m.bytes) h.update(new Uint8Array(m.bytes));
  if (m.end) {
    open.delete(m.id);
    scope.postMessage({ id: m.id, hex: bytesToHex(h.digest()) });
  }
};
