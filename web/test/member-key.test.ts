// The reload hand-over of a joiner's member key (ui/member-key.ts) and the stored-key checks it uses
// (core/auth/keys.ts): whatever the tab's storage holds under "ghostchat:member-key" (an older build,
// an extension, a user), the page starts with a usable key and the value is gone afterwards.
import { describe, expect, it } from "vitest";
import { isStoredKey, newStoredKey, storedSigner, webVerify, type StoredKey } from "../src/core/auth";
import { MEMBER_KEY, handOnMemberKey, takeBackMemberKey, takeMemberKey, type KeyStorage } from "../src/ui/member-key";
import { watchComeBack } from "../src/ui/resume";

const ROOM = "room-one";

/** sessionStorage as a Map; `refuse` makes every call throw, as a browser with storage blocked does. */
function fakeStorage(refuse = false) {
  const items = new Map<string, string>();
  const check = () => {
    if (refuse) throw new DOMException("denied", "SecurityError");
  };
  const storage: KeyStorage = {
    getItem: (k) => (check(), items.get(k) ?? null),
    setItem: (k, v) => (check(), void items.set(k, v)),
    removeItem: (k) => (check(), void items.delete(k)),
  };
  return { items, storage: () => storage };
}

/** Stored keys that are not usable, each with what is wrong with it. */
async function malformedKeys(): Promise<[string, unknown][]> {
  const good = await newStoredKey();
  const other = await newStoredKey();
  const { d: _d, ...publicJwk } = good.privateJwk;
  const p384 = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, ["sign", "verify"]);
  return [
    ["a string", "not a key"],
    ["null", null],
    ["an empty object", {}],
    ["a JWK without d", { ...good, privateJwk: publicJwk }],
    ["a public key only", { key: good.key }],
    ["a key of another curve", { privateJwk: await crypto.subtle.exportKey("jwk", p384.privateKey), key: good.key }],
    ["an RSA-like JWK", { privateJwk: { kty: "RSA", n: "x", e: "AQAB", d: "y" }, key: good.key }],
    ["a public key of another pair", { ...good, key: other.key }],
    ["a public key of the wrong length", { ...good, key: good.key.slice(1) }],
    ["a d of the wrong length", { ...good, privateJwk: { ...good.privateJwk, d: good.privateJwk.d!.slice(2) } }],
  ];
}

describe("stored keys: what counts as one", () => {
  it("storedSigner_NewStoredKey_SignsUnderItsPublicKey", async () => {
    const stored = await newStoredKey();
    expect(isStoredKey(stored)).toBe(true);
    const signer = await storedSigner(stored);
    expect(signer?.key).toBe(stored.key);
    expect(await webVerify(stored.key, "hello", await signer!.sign("hello"))).toBe(true);
    // Kept as JSON text and read back, it is the same key.
    expect((await storedSigner(JSON.parse(JSON.stringify(stored)) as StoredKey))?.key).toBe(stored.key);
  });

  it("isStoredKeyAndStoredSigner_EachMalformedShape_Refused", async () => {
    for (const [what, value] of await malformedKeys()) {
      // The shape check refuses all but a P-256 JWK whose public half is another pair's: that one only
      // WebCrypto can tell, so storedSigner refuses it.
      if (what !== "a public key of another pair") expect(isStoredKey(value), what).toBe(false);
      expect(await storedSigner(value as StoredKey), what).toBeNull();
    }
  });
});

describe("member key hand-over across a reload", () => {
  it("takeMemberKey_KeptForThisRoom_SameKeyAndTakenOut", async () => {
    const { items, storage } = fakeStorage();
    const key = await newStoredKey();
    handOnMemberKey({ room: ROOM, key }, true, storage);
    expect(items.has(MEMBER_KEY)).toBe(true);
    expect(await takeMemberKey(ROOM, storage)).toEqual(key);
    expect(items.has(MEMBER_KEY)).toBe(false);
  });

  it("takeMemberKey_KeptForAnotherRoom_NewKeyAndRemoved", async () => {
    const { items, storage } = fakeStorage();
    const key = await newStoredKey();
    handOnMemberKey({ room: "another-room", key }, true, storage);
    const taken = await takeMemberKey(ROOM, storage);
    expect(taken.key).not.toBe(key.key);
    expect(await storedSigner(taken)).not.toBeNull();
    expect(items.has(MEMBER_KEY)).toBe(false);
  });

  it("takeMemberKey_MalformedValue_NewUsableKeyAndRemoved", async () => {
    const values: [string, string][] = [
      ["invalid JSON", "{room:"],
      ["a JSON string", JSON.stringify("a string")],
      ["JSON null", "null"],
      ["a number", "42"],
      ["an array", JSON.stringify([ROOM, {}])],
      ["no room", JSON.stringify({ key: await newStoredKey() })],
      ["a room that is not a string", JSON.stringify({ room: 7, key: await newStoredKey() })],
      ["a huge string", JSON.stringify({ room: ROOM, key: await newStoredKey(), pad: "x".repeat(5_000_000) })],
      ...(await malformedKeys()).map(([what, key]): [string, string] => [`this room, ${what}`, JSON.stringify({ room: ROOM, key })]),
    ];
    for (const [what, value] of values) {
      const { items, storage } = fakeStorage();
      items.set(MEMBER_KEY, value);
      const taken = await takeMemberKey(ROOM, storage);
      expect((await storedSigner(taken))?.key, what).toBe(taken.key);
      expect(items.has(MEMBER_KEY), what).toBe(false);
    }
  });

  it("handOnMemberKey_NotJoinedOrNoKey_NothingKept", async () => {
    const { items, storage } = fakeStorage();
    handOnMemberKey({ room: ROOM, key: await newStoredKey() }, false, storage);
    handOnMemberKey(null, true, storage);
    expect(items.size).toBe(0);
  });

  it("storageRefused_HandOnTakeAndTakeBack_DoNotThrow_NewKey", async () => {
    const { storage } = fakeStorage(true);
    handOnMemberKey({ room: ROOM, key: await newStoredKey() }, true, storage);
    takeBackMemberKey(storage);
    expect(await storedSigner(await takeMemberKey(ROOM, storage))).not.toBeNull();
  });

  it("backForwardCache_PageshowPersisted_KeyHandedOnAtPagehideTakenBackOut", async () => {
    // The page's wiring (ui/room-page.ts): pagehide hands the key on, coming back takes it out.
    const { items, storage } = fakeStorage();
    const win = new EventTarget();
    const doc = Object.assign(new EventTarget(), { visibilityState: "visible" as DocumentVisibilityState });
    watchComeBack(() => takeBackMemberKey(storage), { window: win, document: doc });
    handOnMemberKey({ room: ROOM, key: await newStoredKey() }, true, storage);
    win.dispatchEvent(Object.assign(new Event("pageshow"), { persisted: false })); // a fresh load: not this page's key
    expect(items.has(MEMBER_KEY)).toBe(true);
    win.dispatchEvent(Object.assign(new Event("pageshow"), { persisted: true }));
    expect(items.has(MEMBER_KEY)).toBe(false);
  });
});
