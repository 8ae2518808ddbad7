/**
 * The host's side of invites: issue, list, renew, revoke, check, purge, and the identity (peer id,
 * PeerJS token, room id, the room's authority key and epoch) kept while any invite is alive. Storage and clock are injected.
 */
import { inviteKeyHash } from "../auth/crypto";
import { isStoredKey, keyHash, newStoredKey, type Epoch } from "../auth/keys";
import type { InviteCheck } from "../auth/machine";
import type { PeerId, RoomId } from "../ids";
import { createInvite, newRoomId, INVITE_TTL_MS, type Invite } from "./index";
import type { HostIdentity, InviteRecord, InviteStore } from "./store";

/**
 * Expired invites stay this long before they are purged, so a late joiner hears "expired" rather
 * than "unknown"; they never count as alive and are never listed.
 */
export const PURGE_GRACE_MS = 10 * 60_000;
/** The list warns when an invite has less than this left. */
export const EXPIRY_WARNING_MS = 60 * 60_000;

type Random = (buf: Uint8Array) => Uint8Array;

export interface ActiveInvite {
  inviteId: string;
  created: number;
  expiresAt: number;
  remainingMs: number;
  /** Less than EXPIRY_WARNING_MS left. */
  expiringSoon: boolean;
}

/** A fresh PeerJS token (the host's id is made from it: only this token can register that id). */
export { newToken } from "../ids";

export class HostInvites {
  private readonly now: () => number;
  private readonly random: Random | undefined;

  constructor(
    private readonly store: InviteStore,
    options: { now?: () => number; random?: Random } = {},
  ) {
    this.now = options.now ?? Date.now;
    this.random = options.random;
  }

  private alive(r: InviteRecord, now: number): boolean {
    return !r.revoked && r.expiresAt > now;
  }

  /** Deletes invites expired for longer than the grace; drops the identity when no invite is alive. */
  async purge(): Promise<void> {
    const now = this.now();
    const all = await this.store.listInvites();
    for (const r of all) if (r.expiresAt + PURGE_GRACE_MS <= now) await this.store.deleteInvite(r.inviteId);
    if (!all.some((r) => this.alive(r, now))) await this.store.deleteIdentity();
  }

  /**
   * After a reload: the identity to host again with, when an invite is still alive. One kept by an
   * older GhostChat (no authority key) is dropped with its invites: their links name no host key.
   */
  async resume(): Promise<HostIdentity | null> {
    await this.purge();
    const identity = await this.store.getIdentity();
    if (identity && !isStoredKey(identity.authority)) {
      await this.endRoom();
      return null;
    }
    return identity ?? null;
  }

  /**
   * A new room for this peer id: fresh room id and key. Invites of earlier rooms are dropped,
   * unless `keepOthers` (another tab of this browser still hosts its room from the same store:
   * its links keep working while that tab is open, only the resume-after-reload slot moves here).
   */
  async startRoom(peerId: string, token: string, options: { keepOthers?: boolean } = {}): Promise<HostIdentity> {
    if (!options.keepOthers) for (const r of await this.store.listInvites()) await this.store.deleteInvite(r.inviteId);
    const identity: HostIdentity = { peerId, token, roomId: newRoomId(this.random), authority: await newStoredKey(), epoch: null, created: this.now() };
    await this.store.putIdentity(identity);
    return identity;
  }

  /** A new invite for the room; the caller shows its link once (the secret is not kept). */
  async issue(identity: HostIdentity, ttlMs: number = INVITE_TTL_MS): Promise<Invite> {
    const now = this.now();
    const invite = createInvite({
      hostPeerId: identity.peerId as PeerId,
      hostKeyHash: await keyHash(identity.authority.key),
      roomId: identity.roomId as RoomId,
      now,
      ttlMs,
      random: this.random,
    });
    await this.store.putInvite({
      inviteId: invite.inviteId,
      roomId: invite.roomId,
      secretHash: await inviteKeyHash(invite.secret),
      created: now,
      expiresAt: invite.expiresAt,
      revoked: false,
    });
    await this.store.putIdentity(identity);
    return invite;
  }

  /** Keeps the room's new epoch (after a removal or a revoked invite), so a reload goes on from it. */
  async saveEpoch(epoch: Epoch): Promise<void> {
    const identity = await this.store.getIdentity();
    if (identity) await this.store.putIdentity({ ...identity, epoch });
  }

  /** Revokes one invite; later joiners with it are told it was revoked. */
  async revoke(inviteId: string): Promise<boolean> {
    const r = await this.store.getInvite(inviteId);
    if (!r) return false;
    await this.store.putInvite({ ...r, revoked: true });
    return true;
  }

  /** One-click renewal: a new 24-hour link replaces the old one (which is revoked). */
  async renew(identity: HostIdentity, inviteId: string, ttlMs?: number): Promise<Invite> {
    await this.revoke(inviteId);
    return this.issue(identity, ttlMs);
  }

  /** What the handshake needs to know about an invite a joiner names. */
  async check(inviteId: string): Promise<InviteCheck> {
    const r = await this.store.getInvite(inviteId);
    if (!r) return { status: "unknown" };
    if (r.revoked) return { status: "revoked" };
    if (r.expiresAt <= this.now()) return { status: "expired" };
    return { status: "ok", roomId: r.roomId, keyHash: r.secretHash };
  }

  /** Invites still alive (of one room when given), soonest expiry first. */
  async active(roomId?: string): Promise<ActiveInvite[]> {
    const now = this.now();
    return (await this.store.listInvites())
      .filter((r) => this.alive(r, now) && (roomId === undefined || r.roomId === roomId))
      .sort((a, b) => a.expiresAt - b.expiresAt || a.created - b.created)
      .map((r) => ({
        inviteId: r.inviteId,
        created: r.created,
        expiresAt: r.expiresAt,
        remainingMs: r.expiresAt - now,
        expiringSoon: r.expiresAt - now < EXPIRY_WARNING_MS,
      }));
  }

  /** Ends the room: every invite and the identity are forgotten. */
  async endRoom(): Promise<void> {
    for (const r of await this.store.listInvites()) await this.store.deleteInvite(r.inviteId);
    await this.store.deleteIdentity();
  }
}

/** Hours and minutes left, rounded up to the minute (never shows "0 min" for a live invite). */
export function timeLeft(ms: number): { hours: number; minutes: number } {
  const total = Math.max(0, Math.ceil(ms / 60_000));
  return { hours: Math.floor(total / 60), minutes: total % 60 };
}
