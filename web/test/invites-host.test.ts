import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { inviteKeyHash } from "../src/core/auth";
import {
  EXPIRY_WARNING_MS,
  HostInvites,
  INVITE_TTL_MS,
  MemoryInviteStore,
  PURGE_GRACE_MS,
  newToken,
  parseInvite,
  inviteFragment,
  timeLeft,
  type InviteStore,
} from "../src/core/invites";
import { IdbInviteStore } from "../src/adapters/idb";

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);

function clock(start = T0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

let lastIdb: IdbInviteStore | null = null;

// Both stores run the same behaviour tests: memory (the port) and IndexedDB through idb (fake-indexeddb).
const stores: [string, () => Promise<InviteStore>][] = [
  ["memory", async () => new MemoryInviteStore()],
  [
    "idb",
    async () => {
      // A fresh database per test: close and delete the previous one first.
      lastIdb?.close();
      await new Promise<void>((resolve) => {
        const r = indexedDB.deleteDatabase("ghostchat-invites");
        r.onsuccess = r.onerror = r.onblocked = () => resolve();
      });
      lastIdb = await IdbInviteStore.open();
      return lastIdb;
    },
  ],
];

describe.each(stores)("HostInvites over %s store", (_name, makeStore) => {
  async function setup() {
    const store = await makeStore();
    const c = clock();
    const host = new HostInvites(store, { now: c.now });
    const identity = await host.startRoom("host-peer-1", newToken());
    return { store, c, host, identity };
  }

  it("issue_StoresHashNotSecret_24Hours", async () => {
    const { store, host, identity } = await setup();
    const invite = await host.issue(identity);
    expect(invite.hostPeerId).toBe("host-peer-1");
    expect(invite.roomId).toBe(identity.roomId);
    expect(invite.expiresAt).toBe(T0 + INVITE_TTL_MS);
    const [record] = await store.listInvites();
    expect(record).toEqual({
      inviteId: invite.inviteId,
      roomId: identity.roomId,
      secretHash: await inviteKeyHash(invite.secret),
      created: T0,
      expiresAt: T0 + INVITE_TTL_MS,
      revoked: false,
    });
    expect(JSON.stringify(await store.listInvites())).not.toContain(invite.secret);
    // The link made from it parses back on the joiner's side.
    expect(parseInvite(inviteFragment(invite), T0).ok).toBe(true);
  });

  it("check_OkUnknownRevokedExpired", async () => {
    const { c, host, identity } = await setup();
    const a = await host.issue(identity);
    const b = await host.issue(identity, 60_000);
    expect(await host.check(a.inviteId)).toEqual({ status: "ok", roomId: identity.roomId, keyHash: await inviteKeyHash(a.secret) });
    expect(await host.check("nosuchinvite")).toEqual({ status: "unknown" });
    await host.revoke(a.inviteId);
    expect(await host.check(a.inviteId)).toEqual({ status: "revoked" });
    c.advance(60_000);
    expect(await host.check(b.inviteId)).toEqual({ status: "expired" });
  });

  it("purge_ExpiredKeptForGraceThenDeleted", async () => {
    const { store, c, host, identity } = await setup();
    const short = await host.issue(identity, 60_000);
    await host.issue(identity);
    c.advance(60_000 + PURGE_GRACE_MS - 1);
    await host.purge();
    expect(await host.check(short.inviteId)).toEqual({ status: "expired" });
    c.advance(1);
    await host.purge();
    expect(await host.check(short.inviteId)).toEqual({ status: "unknown" });
    expect((await store.listInvites()).length).toBe(1);
  });

  it("resume_IdentityKeptWhileAnInviteAlive_ThenDropped", async () => {
    const { store, c, host, identity } = await setup();
    await host.issue(identity, 2 * 60_000);
    expect(await host.resume()).toEqual(identity);
    // A new HostInvites over the same store (a reload) finds the same identity, token included.
    expect(await new HostInvites(store, { now: c.now }).resume()).toEqual(identity);
    c.advance(2 * 60_000);
    expect(await host.resume()).toBeNull();
    expect(await store.getIdentity()).toBeUndefined();
  });

  it("resume_AuthorityKeyMalformed_IdentityAndInvitesDropped", async () => {
    const { store, host, identity } = await setup();
    await host.issue(identity);
    // A key missing its private part (isStoredKey, core/auth/keys.ts): the links name a key nobody can sign with.
    const { d: _d, ...publicJwk } = identity.authority.privateJwk;
    await store.putIdentity({ ...identity, authority: { ...identity.authority, privateJwk: publicJwk } });
    expect(await host.resume()).toBeNull();
    expect(await store.getIdentity()).toBeUndefined();
    expect(await store.listInvites()).toEqual([]);
  });

  it("resume_AllRevoked_NoIdentity", async () => {
    const { host, identity } = await setup();
    const a = await host.issue(identity);
    await host.revoke(a.inviteId);
    expect(await host.resume()).toBeNull();
  });

  it("renew_NewLinkOldRevoked", async () => {
    const { c, host, identity } = await setup();
    const old = await host.issue(identity);
    c.advance(23 * 3600_000);
    const renewed = await host.renew(identity, old.inviteId);
    expect(renewed.inviteId).not.toBe(old.inviteId);
    expect(renewed.secret).not.toBe(old.secret);
    expect(renewed.expiresAt).toBe(c.now() + INVITE_TTL_MS);
    expect(await host.check(old.inviteId)).toEqual({ status: "revoked" });
    expect((await host.active()).map((a) => a.inviteId)).toEqual([renewed.inviteId]);
  });

  it("active_SortedBySoonest_WarnsUnderAnHour", async () => {
    const { c, host, identity } = await setup();
    const long = await host.issue(identity);
    const soon = await host.issue(identity, EXPIRY_WARNING_MS + 60_000);
    const revoked = await host.issue(identity);
    await host.revoke(revoked.inviteId);
    let list = await host.active();
    expect(list.map((a) => [a.inviteId, a.expiringSoon])).toEqual([
      [soon.inviteId, false],
      [long.inviteId, false],
    ]);
    c.advance(60_001);
    list = await host.active();
    expect(list[0]).toMatchObject({ inviteId: soon.inviteId, expiringSoon: true });
    expect(list[0]!.remainingMs).toBe(EXPIRY_WARNING_MS - 1);
  });

  it("startRoom_Again_DropsOldInvites_NewRoomAndKey", async () => {
    const { store, host, identity } = await setup();
    const old = await host.issue(identity);
    const next = await host.startRoom(identity.peerId, identity.token);
    expect(next.roomId).not.toBe(identity.roomId);
    expect(next.authority.key).not.toBe(identity.authority.key);
    expect(next.authority.key).toMatch(/^[A-Za-z0-9_-]{87}$/);
    expect(next.epoch).toBeNull();
    expect(await host.check(old.inviteId)).toEqual({ status: "unknown" });
    expect(await store.getIdentity()).toEqual(next);
  });

  it("startRoom_KeepOthers_OtherRoomsInvitesStillChecked_ListsPerRoom", async () => {
    const { host, identity } = await setup();
    const first = await host.issue(identity);
    // A second tab starts its own room while the first one still hosts from the same store.
    const second = await host.startRoom("host-peer-2", newToken(), { keepOthers: true });
    const other = await host.issue(second);
    expect(await host.check(first.inviteId)).toMatchObject({ status: "ok", roomId: identity.roomId });
    expect((await host.active(identity.roomId)).map((a) => a.inviteId)).toEqual([first.inviteId]);
    expect((await host.active(second.roomId)).map((a) => a.inviteId)).toEqual([other.inviteId]);
    expect(await host.resume()).toEqual(second);
  });

  it("endRoom_ForgetsEverything", async () => {
    const { store, host, identity } = await setup();
    await host.issue(identity);
    await host.endRoom();
    expect(await store.listInvites()).toEqual([]);
    expect(await host.resume()).toBeNull();
  });

  it("revoke_Unknown_False", async () => {
    const { host } = await setup();
    expect(await host.revoke("nosuchinvite")).toBe(false);
  });
});

describe("invite helpers", () => {
  it("timeLeft_RoundsUpToMinute", () => {
    expect(timeLeft(0)).toEqual({ hours: 0, minutes: 0 });
    expect(timeLeft(1)).toEqual({ hours: 0, minutes: 1 });
    expect(timeLeft(INVITE_TTL_MS)).toEqual({ hours: 24, minutes: 0 });
    expect(timeLeft(59 * 60_000 + 1)).toEqual({ hours: 1, minutes: 0 });
    expect(timeLeft(-5)).toEqual({ hours: 0, minutes: 0 });
  });

  it("newToken_Random22Chars", () => {
    expect(newToken()).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(newToken()).not.toBe(newToken());
  });
});
