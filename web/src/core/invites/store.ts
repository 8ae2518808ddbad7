/**
 * The host's invite book: what it keeps about the invites it gave out, and the identity that keeps
 * their links working across reloads. Storage is a port: IndexedDB in the browser (src/adapters/idb.ts),
 * memory in unit tests.
 */
import type { Epoch, StoredKey } from "../auth/keys";

/** One invite as the host remembers it. Never the secret: only its SHA-256, from which the proofs' keys are derived. */
export interface InviteRecord {
  inviteId: string;
  roomId: string;
  /** base64url SHA-256 of the secret's bytes. */
  secretHash: string;
  /** Unix ms. */
  created: number;
  /** Unix ms (whole seconds, as in the link). */
  expiresAt: number;
  revoked: boolean;
}

/** What the host keeps while any invite is alive, so a reload does not break the links. */
export interface HostIdentity {
  peerId: string;
  /** The PeerJS token that lets the same id reattach to the signaling server. */
  token: string;
  roomId: string;
  /** The room's authority key (signs member certificates and epochs; its SHA-256 is in every link). */
  authority: StoredKey;
  /** The room's epoch as last signed; null before the first removal or revoked invite. */
  epoch: Epoch | null;
  created: number;
}

export interface InviteStore {
  listInvites(): Promise<InviteRecord[]>;
  getInvite(inviteId: string): Promise<InviteRecord | undefined>;
  putInvite(record: InviteRecord): Promise<void>;
  deleteInvite(inviteId: string): Promise<void>;
  getIdentity(): Promise<HostIdentity | undefined>;
  putIdentity(identity: HostIdentity): Promise<void>;
  deleteIdentity(): Promise<void>;
}

/** In-memory store (unit tests; and the fallback when IndexedDB is unavailable, e.g. private windows that refuse it). */
export class MemoryInviteStore implements InviteStore {
  private readonly invites = new Map<string, InviteRecord>();
  private identity: HostIdentity | undefined;

  async listInvites(): Promise<InviteRecord[]> {
    return [...this.invites.values()].map((r) => ({ ...r }));
  }
  async getInvite(inviteId: string): Promise<InviteRecord | undefined> {
    const r = this.invites.get(inviteId);
    return r ? { ...r } : undefined;
  }
  async putInvite(record: InviteRecord): Promise<void> {
    this.invites.set(record.inviteId, { ...record });
  }
  async deleteInvite(inviteId: string): Promise<void> {
    this.invites.delete(inviteId);
  }
  async getIdentity(): Promise<HostIdentity | undefined> {
    return this.identity ? { ...this.identity } : undefined;
  }
  async putIdentity(identity: HostIdentity): Promise<void> {
    this.identity = { ...identity };
  }
  async deleteIdentity(): Promise<void> {
    this.identity = undefined;
  }
}
