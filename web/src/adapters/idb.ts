import { openDB, type DBSchema, type IDBPDatabase } from "idb";
import type { HostIdentity, InviteRecord, InviteStore } from "../core/invites/store";
import { isLive, isPartialRecord, type PartialBook, type PartialRecord } from "../core/files";

interface Schema extends DBSchema {
  invites: { key: string; value: InviteRecord };
  host: { key: string; value: HostIdentity };
}

export const DB_NAME = "ghostchat-invites";
const IDENTITY_KEY = "identity";

/** The host's invite book in IndexedDB (database `ghostchat-invites`, stores `invites` and `host`). */
export class IdbInviteStore implements InviteStore {
  private constructor(private readonly db: IDBPDatabase<Schema>) {}

  /** Opens (or creates) the database through the global `indexedDB` (fake-indexeddb in unit tests). */
  static async open(): Promise<IdbInviteStore> {
    const db = await openDB<Schema>(DB_NAME, 1, {
      upgrade(d) {
        d.createObjectStore("invites", { keyPath: "inviteId" });
        d.createObjectStore("host");
      },
    });
    return new IdbInviteStore(db);
  }

  listInvites(): Promise<InviteRecord[]> {
    return this.db.getAll("invites");
  }
  getInvite(inviteId: string): Promise<InviteRecord | undefined> {
    return this.db.get("invites", inviteId);
  }
  async putInvite(record: InviteRecord): Promise<void> {
    await this.db.put("invites", record);
  }
  async deleteInvite(inviteId: string): Promise<void> {
    await this.db.delete("invites", inviteId);
  }
  getIdentity(): Promise<HostIdentity | undefined> {
    return this.db.get("host", IDENTITY_KEY);
  }
  async putIdentity(identity: HostIdentity): Promise<void> {
    await this.db.put("host", identity, IDENTITY_KEY);
  }
  async deleteIdentity(): Promise<void> {
    await this.db.delete("host", IDENTITY_KEY);
  }
  close(): void {
    this.db.close();
  }
}

interface FilesSchema extends DBSchema {
  partials: { key: string; value: StoredPartial };
}
type StoredPartial = PartialRecord & { tab: string };

export const FILES_DB_NAME = "ghostchat-files";

/**
 * Partial files kept across a reload (core/files/resume.ts) in IndexedDB (database
 * `ghostchat-files`, store `partials`), each for the tab that received it (`tab`: an id this tab
 * keeps in sessionStorage, so a reload finds it and another tab does not). Records that expired
 * (PARTIAL_TTL_MS after their last progress) and records that are not well-formed are deleted
 * whenever the book is read.
 */
export class IdbPartialBook implements PartialBook {
  private constructor(
    private readonly db: IDBPDatabase<FilesSchema>,
    private readonly tab: string,
    private readonly now: () => number,
  ) {}

  static async open(tab: string, now: () => number = () => Date.now()): Promise<IdbPartialBook> {
    const db = await openDB<FilesSchema>(FILES_DB_NAME, 1, {
      upgrade(d) {
        d.createObjectStore("partials");
      },
    });
    return new IdbPartialBook(db, tab, now);
  }

  /** Every live record (any tab), the expired and damaged ones deleted. */
  private async live(): Promise<StoredPartial[]> {
    const tx = this.db.transaction("partials", "readwrite");
    const out: StoredPartial[] = [];
    for (let c = await tx.store.openCursor(); c; c = await c.continue()) {
      const v = c.value as unknown;
      if (isPartialRecord(v) && typeof (v as StoredPartial).tab === "string" && isLive(v, this.now())) out.push(v as StoredPartial);
      else await c.delete();
    }
    await tx.done;
    return out;
  }

  async list(): Promise<PartialRecord[]> {
    return (await this.live()).filter((r) => r.tab === this.tab).map(({ tab: _tab, ...r }) => r);
  }

  /** The partial files that are still kept (by any tab): the OPFS sweep leaves them. */
  async sinks(): Promise<Set<string>> {
    return new Set((await this.live()).map((r) => r.sink));
  }

  async put(record: PartialRecord): Promise<void> {
    await this.db.put("partials", { ...record, tab: this.tab }, this.keyOf(record.peer, record.offer.id));
  }

  async remove(peer: string, id: string): Promise<void> {
    await this.db.delete("partials", this.keyOf(peer, id));
  }

  /** Panic: this tab's records go. */
  async clear(): Promise<void> {
    for (const r of await this.list()) await this.remove(r.peer, r.offer.id);
  }

  close(): void {
    this.db.close();
  }

  private keyOf(peer: string, id: string): string {
    return JSON.stringify([this.tab, peer, id]);
  }
}
