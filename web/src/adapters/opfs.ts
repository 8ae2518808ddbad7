import { MemoryStore, MEMORY_LIMIT, type FileSink, type SinkStore } from "../core/files";

/**
 * Received files on disk as they arrive: the Origin Private File System (private to this site,
 * invisible to the user's folders). Each transfer has a folder of its own, named at random
 * (`ghostchat-files/t-<random>`) and held by a Web Lock while a page uses it; its bytes go into
 * segment files `0`, `1`, … of SEGMENT bytes. A writable stream's bytes reach its file only when
 * the stream is closed, so closing each full segment is what puts bytes on disk for good: they then
 * survive a reload of the page, which can go on from them (`reopen`). A new page removes the
 * folders nobody holds unless a kept partial transfer (adapters/idb.ts) names them, so nothing
 * outlives the tab for long. Names on disk are random: a peer's name for a file never reaches the
 * file system. Where the browser has no OPFS (private windows in Firefox), files up to MEMORY_LIMIT
 * are kept in memory instead.
 */
const ROOT = "ghostchat-files";
const WRITE_BLOCK = 1024 * 1024;
/** Bytes per segment file: a reload loses at most this much of a transfer. */
export const SEGMENT = 8 * 1024 * 1024;
const FOLDER = /^t-[0-9a-f]{24}$/;

export class OpfsStore implements SinkStore {
  private dir: Promise<FileSystemDirectoryHandle | null> | null = null;
  private readonly memory = new MemoryStore(MEMORY_LIMIT);
  /** Folders this page holds, and how to let each go. */
  private readonly held = new Map<string, () => void>();

  /** `keep`: folders of partial transfers still kept (any tab's): the sweep leaves them. */
  constructor(private readonly keep: () => Promise<ReadonlySet<string>> = () => Promise.resolve(new Set())) {}

  /** True when received files go to disk (the limit of a file is then the user's storage). */
  async onDisk(): Promise<boolean> {
    return (await this.folder()) !== null;
  }

  async open(size: number, durable?: (bytes: number) => void): Promise<FileSink> {
    const root = await this.folder();
    if (!root) return this.memory.open(size);
    const name = `t-${randomName()}`;
    await this.hold(name);
    const dir = await root.getDirectoryHandle(name, { create: true });
    return this.sink(root, dir, name, [], 0, durable);
  }

  async reopen(name: string, _size: number, bytes: number, durable?: (bytes: number) => void): Promise<{ sink: FileSink; prefix: Blob } | null> {
    const root = await this.folder();
    if (!root || !FOLDER.test(name)) return null;
    try {
      const dir = await root.getDirectoryHandle(name);
      await this.hold(name);
      const handles: FileSystemFileHandle[] = [];
      const files: File[] = [];
      let total = 0;
      while (total < bytes) {
        const h = await dir.getFileHandle(String(handles.length));
        const f = await h.getFile();
        if (f.size === 0) break;
        handles.push(h);
        files.push(f);
        total += f.size;
      }
      if (total !== bytes) throw new Error("the partial file does not end where its record says");
      // Segments after the kept ones (committed after the record was last saved, or never closed) go.
      for await (const entry of names(dir)) if (!(/^\d+$/.test(entry) && Number(entry) < handles.length)) await dir.removeEntry(entry).catch(() => undefined);
      return { sink: this.sink(root, dir, name, handles, bytes, durable), prefix: new Blob(files) };
    } catch {
      this.release(name);
      return null;
    }
  }

  /** Removes a partial transfer's folder, unless another page holds it. */
  async remove(name: string): Promise<void> {
    const root = await this.folder();
    if (!root || !FOLDER.test(name)) return;
    try {
      await this.hold(name);
    } catch {
      return;
    }
    await root.removeEntry(name, { recursive: true }).catch(() => undefined);
    this.release(name);
  }

  /** Panic: every received and partial file of this page goes. */
  async clear(): Promise<void> {
    const root = await this.folder();
    if (!root) return;
    for (const name of [...this.held.keys()]) await this.remove(name);
  }

  private sink(
    root: FileSystemDirectoryHandle,
    dir: FileSystemDirectoryHandle,
    name: string,
    segments: FileSystemFileHandle[],
    committed: number,
    durable?: (bytes: number) => void,
  ): FileSink {
    let writable: FileSystemWritableFileStream | null = null;
    let inSegment = 0;
    // Chunks are written WRITE_BLOCK at a time: each write is a round trip to the browser's file thread.
    let held: Uint8Array[] = [];
    let heldBytes = 0;
    const flush = async () => {
      if (heldBytes === 0) return;
      const block = new Uint8Array(heldBytes);
      let at = 0;
      for (const b of held) {
        block.set(b, at);
        at += b.length;
      }
      held = [];
      heldBytes = 0;
      if (!writable) {
        const h = await dir.getFileHandle(String(segments.length), { create: true });
        segments.push(h);
        writable = await h.createWritable();
        inSegment = 0;
      }
      await writable.write(block);
      inSegment += block.length;
    };
    // Closing a segment puts its bytes in the file; they always end at a chunk's end (whole chunks are appended).
    const commit = async () => {
      if (!writable) return;
      const w = writable;
      writable = null;
      await w.close();
      committed += inSegment;
      inSegment = 0;
      durable?.(committed);
    };
    return {
      name,
      append: async (bytes) => {
        held.push(bytes);
        heldBytes += bytes.length;
        if (heldBytes >= WRITE_BLOCK) {
          await flush();
          if (inSegment >= SEGMENT) await commit();
        }
      },
      finish: async (type) => {
        await flush();
        await commit();
        return new Blob(await Promise.all(segments.map((h) => h.getFile())), { type });
      },
      discard: async () => {
        held = [];
        heldBytes = 0;
        const w = writable;
        writable = null;
        await w?.abort().catch(() => undefined);
        await root.removeEntry(name, { recursive: true }).catch(() => undefined);
        this.release(name);
      },
    };
  }

  /** Takes the folder's lock (held until released or the page goes); throws when another page holds it. */
  private async hold(name: string): Promise<void> {
    if (!navigator.locks || this.held.has(name)) return;
    await new Promise<void>((resolve, reject) => {
      void navigator.locks.request(`${ROOT}/${name}`, { ifAvailable: true }, (lock) => {
        if (!lock) {
          reject(new Error("held by another page"));
          return;
        }
        resolve();
        return new Promise<void>((release) => this.held.set(name, release));
      });
    });
  }

  private release(name: string): void {
    this.held.get(name)?.();
    this.held.delete(name);
  }

  private folder(): Promise<FileSystemDirectoryHandle | null> {
    this.dir ??= (async () => {
      try {
        if (typeof navigator.storage?.getDirectory !== "function") return null;
        const root = await (await navigator.storage.getDirectory()).getDirectoryHandle(ROOT, { create: true });
        const probe = `probe-${randomName()}`;
        if (typeof (await root.getFileHandle(probe, { create: true })).createWritable !== "function") return null;
        await root.removeEntry(probe);
        if (navigator.locks) void this.sweep(root);
        return root;
      } catch {
        return null;
      }
    })();
    return this.dir;
  }

  /** Removes the folders of pages that are gone (their lock is free) unless a kept partial transfer names them. */
  private async sweep(root: FileSystemDirectoryHandle): Promise<void> {
    const keep = await this.keep().catch(() => new Set<string>());
    const held = new Set(((await navigator.locks.query()).held ?? []).map((l) => l.name));
    for await (const name of names(root))
      if (!this.held.has(name) && !keep.has(name) && !held.has(`${ROOT}/${name}`) && !name.startsWith("probe-"))
        await root.removeEntry(name, { recursive: true }).catch(() => undefined);
  }
}

function randomName(): string {
  return [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A folder's entry names (the DOM library of TypeScript 5.9 lacks the async iterator). */
function names(dir: FileSystemDirectoryHandle): AsyncIterable<string> {
  return (dir as unknown as { keys(): AsyncIterable<string> }).keys();
}
