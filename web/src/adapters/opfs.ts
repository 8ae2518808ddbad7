import { MemoryStore, MEMORY_LIMIT, type FileSink, type SinkStore } from "../core/files";

/**
 * Received files on disk as they arrive: the Origin Private File System (private to this site,
 * invisible to the user's folders). Each page keeps its files in a folder of its own, named at
 * random and held by a Web Lock while the page lives; a new page removes the folders nobody holds
 * (pages closed or crashed), so nothing outlives the tab for long. File names on disk are random:
 * a peer's name for a file never reaches the file system. Where the browser has no OPFS (private
 * windows in Firefox), files up to MEMORY_LIMIT are kept in memory instead.
 */
const ROOT = "ghostchat-files";
const WRITE_BLOCK = 1024 * 1024;

export class OpfsStore implements SinkStore {
  private dir: Promise<FileSystemDirectoryHandle | null> | null = null;
  private readonly memory = new MemoryStore(MEMORY_LIMIT);
  private readonly name = `page-${randomName()}`;

  /** True when received files go to disk (the limit of a file is then the user's storage). */
  async onDisk(): Promise<boolean> {
    return (await this.folder()) !== null;
  }

  async open(size: number): Promise<FileSink> {
    const dir = await this.folder();
    if (!dir) return this.memory.open(size);
    const name = `${randomName()}.part`;
    const handle = await dir.getFileHandle(name, { create: true });
    const writable = await handle.createWritable();
    let closed = false;
    const remove = async () => {
      if (!closed) {
        closed = true;
        await writable.abort().catch(() => undefined);
      }
      await dir.removeEntry(name).catch(() => undefined);
    };
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
      await writable.write(block);
    };
    return {
      append: async (bytes) => {
        held.push(bytes);
        heldBytes += bytes.length;
        if (heldBytes >= WRITE_BLOCK) await flush();
      },
      finish: async (type) => {
        await flush();
        closed = true;
        await writable.close();
        const file = await handle.getFile();
        return file.slice(0, file.size, type);
      },
      discard: () => {
        held = [];
        heldBytes = 0;
        return remove();
      },
    };
  }

  /** Panic: every received and partial file of this page goes. */
  async clear(): Promise<void> {
    const dir = await this.folder();
    if (!dir) return;
    for await (const name of names(dir)) await dir.removeEntry(name, { recursive: true }).catch(() => undefined);
  }

  private folder(): Promise<FileSystemDirectoryHandle | null> {
    this.dir ??= (async () => {
      try {
        if (typeof navigator.storage?.getDirectory !== "function") return null;
        const root = await (await navigator.storage.getDirectory()).getDirectoryHandle(ROOT, { create: true });
        const mine = await root.getDirectoryHandle(this.name, { create: true });
        if (typeof (await mine.getFileHandle("probe", { create: true })).createWritable !== "function") return null;
        await mine.removeEntry("probe");
        if (navigator.locks) {
          // Held until the page goes; a page that starts later leaves this folder alone meanwhile.
          void navigator.locks.request(`${ROOT}/${this.name}`, () => new Promise<never>(() => undefined));
          void sweep(root, this.name);
        }
        return mine;
      } catch {
        return null;
      }
    })();
    return this.dir;
  }
}

/** Removes the folders of pages that are gone (their lock is free). */
async function sweep(root: FileSystemDirectoryHandle, own: string): Promise<void> {
  const held = new Set(((await navigator.locks.query()).held ?? []).map((l) => l.name));
  for await (const name of names(root))
    if (name !== own && !held.has(`${ROOT}/${name}`)) await root.removeEntry(name, { recursive: true }).catch(() => undefined);
}

function randomName(): string {
  return [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A folder's entry names (the DOM library of TypeScript 5.9 lacks the async iterator). */
function names(dir: FileSystemDirectoryHandle): AsyncIterable<string> {
  return (dir as unknown as { keys(): AsyncIterable<string> }).keys();
}
