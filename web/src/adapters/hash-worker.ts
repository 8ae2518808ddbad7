import { hashFile, inThreadHash, type FileSource, type StreamHash } from "../core/files";
import workerUrl from "./sha256.worker.ts?worker&url";

/**
 * Received files are hashed in a worker: on the main thread, SHA-256 in JavaScript took about half
 * of the receiving page's busy time during a transfer and held up every message event behind it,
 * the chat's included (docs/benchmarks.md, "Files"). Each chunk is copied to the worker (the sink
 * keeps the original). Where no worker can be made, the hash is computed in this thread.
 */
export const HASH_WORKER_URL = workerUrl;

let worker: Worker | null | undefined;
let next = 0;
const waiting = new Map<number, (hex: string) => void>();

function get(): Worker | null {
  if (worker !== undefined) return worker;
  try {
    worker = new Worker(new URL(workerUrl, location.href), { type: "module", name: "sha256" });
    worker.onmessage = (e: MessageEvent<{ id: number; hex: string }>) => {
      waiting.get(e.data.id)?.(e.data.hex);
      waiting.delete(e.data.id);
    };
    // A worker that failed (blocked, crashed): the files waiting for it fail their check.
    worker.onerror = () => {
      for (const done of waiting.values()) done("");
      waiting.clear();
    };
  } catch {
    worker = null;
  }
  return worker;
}

export function workerHash(): StreamHash {
  const w = get();
  if (!w) return inThreadHash();
  const id = ++next;
  return {
    update: (bytes) => {
      const copy = bytes.slice();
      w.postMessage({ id, bytes: copy.buffer }, [copy.buffer]);
    },
    digest: () =>
      new Promise<string>((resolve) => {
        waiting.set(id, resolve);
        w.postMessage({ id, end: true });
      }),
  };
}

/** The SHA-256 of a file to offer, read and hashed in the worker; in this thread where that fails. */
export async function workerHashFile(file: FileSource): Promise<string> {
  const w = get();
  if (!w || !(file instanceof Blob)) return hashFile(file);
  const id = ++next;
  const hex = await new Promise<string>((resolve) => {
    waiting.set(id, resolve);
    w.postMessage({ id, file });
  });
  return hex !== "" ? hex : hashFile(file);
}
