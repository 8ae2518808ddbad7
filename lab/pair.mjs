import { createRoom, waitChatReady, waitInRoom } from "./browser.mjs";

/** Host makes a room, guest opens the link; both reach the chat unless `expectError`. Returns ms from link opened to guest chat-ready. */
export async function createRoomAndJoin(host, guest, url, { expectError = false } = {}) {
  const link = await createRoom(host, url);
  const started = Date.now();
  await guest.goto(link);
  if (expectError) return null;
  await Promise.all([waitChatReady(host), waitChatReady(guest)]);
  return Date.now() - started;
}

/**
 * A room of `kind` ("room": 1:1, "group") made by `host`; each guest opens the link in turn and is in
 * the room before the next one comes. Resolves with the link once everyone is in.
 */
export async function openRoom(host, guests, url, kind) {
  const link = await createRoom(host, url, kind);
  for (const guest of guests) {
    await guest.goto(link);
    await waitInRoom(guest);
  }
  await waitInRoom(host);
  return link;
}
