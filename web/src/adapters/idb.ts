import { openDB, type DBSchema, type IDBPDatabase } from "idb";
import type { HostIdentity, InviteRecord, InviteStore } from "../core/invites/store";

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
