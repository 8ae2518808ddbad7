import "fake-indexeddb/auto";
import { afterEach, describe, expect, it } from "vitest";
import { FILES_DB_NAME, IdbPartialBook } from "../src/adapters/idb";
import { PARTIAL_TTL_MS, type PartialRecord } from "../src/core/files";

const offer = {
  t: "fo" as const,
  id: "AAAAAAAAAAAAAAAA",
  name: "a.bin",
  size: 100_000,
  type: "application/octet-stream",
  sha: "a".repeat(64),
  cs: 16384,
  w: 4,
};
const record = (over: Partial<PartialRecord> = {}): PartialRecord => ({
  peer: "gc1-sender",
  key: "key",
  room: "room",
  offer,
  tok: "BBBBBBBBBBBBBBBB",
  verified: 2,
  sink: "t-000000000000000000000000",
  at: 1_000,
  ...over,
});

describe("IdbPartialBook (IndexedDB through idb, fake-indexeddb)", () => {
  const open: IdbPartialBook[] = [];
  afterEach(async () => {
    for (const b of open.splice(0)) b.close();
    await new Promise<void>((r) => {
      const q = indexedDB.deleteDatabase(FILES_DB_NAME);
      q.onsuccess = q.onerror = () => r();
    });
  });

  it("records_PerTab_ExpireAfterTheTtl_DamagedOnesDeleted", async () => {
    let now = 2_000;
    const tab1 = await IdbPartialBook.open("tab-1", () => now);
    const tab2 = await IdbPartialBook.open("tab-2", () => now);
    open.push(tab1, tab2);
    await tab1.put(record());
    await tab1.put(record({ offer: { ...offer, id: "CCCCCCCCCCCCCCCC" }, sink: "t-111111111111111111111111", at: 1_500 }));
    await tab2.put(record({ sink: "t-222222222222222222222222" }));
    expect((await tab1.list()).map((r) => r.offer.id).sort()).toEqual(["AAAAAAAAAAAAAAAA", "CCCCCCCCCCCCCCCC"]);
    expect((await tab2.list()).map((r) => r.sink)).toEqual(["t-222222222222222222222222"]);
    // The sweep keeps every tab's partial files.
    expect([...(await tab1.sinks())].sort()).toEqual(["t-000000000000000000000000", "t-111111111111111111111111", "t-222222222222222222222222"]);
    // A record written by hand (damaged) is deleted when read, never returned.
    await new Promise<void>((r) => {
      const q = indexedDB.open(FILES_DB_NAME);
      q.onsuccess = () => {
        const tx = q.result.transaction("partials", "readwrite");
        tx.objectStore("partials").put({ ...record(), tab: "tab-1", verified: -5 }, "bad");
        tx.oncomplete = () => (q.result.close(), r());
      };
    });
    expect((await tab1.list()).length).toBe(2);
    // An hour after their last progress they are gone.
    now = 1_000 + PARTIAL_TTL_MS;
    expect((await tab1.list()).map((r) => r.offer.id)).toEqual(["CCCCCCCCCCCCCCCC"]);
    expect(await tab2.list()).toEqual([]);
    await tab1.remove("gc1-sender", "CCCCCCCCCCCCCCCC");
    expect(await tab1.list()).toEqual([]);
  });

  it("clear_OnlyThisTabsRecords", async () => {
    const tab1 = await IdbPartialBook.open("tab-1", () => 2_000);
    const tab2 = await IdbPartialBook.open("tab-2", () => 2_000);
    open.push(tab1, tab2);
    await tab1.put(record());
    await tab2.put(record());
    await tab1.clear();
    expect(await tab1.list()).toEqual([]);
    expect((await tab2.list()).length).toBe(1);
  });
});
