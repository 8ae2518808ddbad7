import { isStoredKey, newStoredKey, storedSigner, type StoredKey } from "../core/auth";

/**
 * A joiner's member key, kept for the page after a reload: the room then knows the reloaded page as
 * the same member and gives it its seat back at once (docs/protocol.md, "Presence and roster"). The
 * page writes it only as it goes (pagehide, `handOnMemberKey`) and the next page takes it out again
 * (`takeMemberKey`), so a tab duplicated meanwhile does not get it too; a page that comes back from
 * the back/forward cache takes it back out as well (`takeBackMemberKey`). This tab only, like the
 * invite it joined with; gone with Leave and panic (`keepJoined(null)` in room-page.ts).
 */
export const MEMBER_KEY = "ghostchat:member-key";

/** The member key of the room this page is in. */
export interface KeptMemberKey {
  room: string;
  key: StoredKey;
}

/** What the hand-over uses of the tab's storage (sessionStorage; a fake in test/member-key.test.ts). */
export type KeyStorage = Pick<Storage, "getItem" | "setItem" | "removeItem">;

/** A kept member key is a few hundred characters; anything much longer is not one and is not parsed. */
const MAX_KEPT_CHARS = 2048;

function tabStorage(): KeyStorage {
  return sessionStorage;
}

/** The page goes (pagehide): its member key is handed on, while the tab still holds its invite (`joined`). */
export function handOnMemberKey(kept: KeptMemberKey | null, joined: boolean, storage: () => KeyStorage = tabStorage): void {
  try {
    if (kept && joined) storage().setItem(MEMBER_KEY, JSON.stringify(kept));
  } catch {
    // storage refused: the reloaded page has a new key (and waits for the old seat as before)
  }
}

/**
 * The page starts in `room`: the key the previous page of this tab handed on, when it is one for this
 * room that WebCrypto takes (`storedSigner`); otherwise a new key. Whatever was kept is removed either
 * way: a value of another room, a malformed one or one too long never stays behind.
 */
export async function takeMemberKey(room: string, storage: () => KeyStorage = tabStorage): Promise<StoredKey> {
  let kept: unknown = null;
  try {
    const text = storage().getItem(MEMBER_KEY);
    takeBackMemberKey(storage);
    if (text !== null && text.length <= MAX_KEPT_CHARS) kept = JSON.parse(text);
  } catch {
    // storage refused or not JSON: nothing usable was kept
  }
  if (typeof kept === "object" && kept !== null) {
    const { room: keptRoom, key } = kept as Partial<Record<keyof KeptMemberKey, unknown>>;
    if (keptRoom === room && isStoredKey(key) && (await storedSigner(key))) return key;
  }
  return newStoredKey();
}

/** The page lives on after all (back from the back/forward cache): the key it handed on goes back out. */
export function takeBackMemberKey(storage: () => KeyStorage = tabStorage): void {
  try {
    storage().removeItem(MEMBER_KEY);
  } catch {
    // storage refused: nothing was kept there either
  }
}
