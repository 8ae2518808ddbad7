import { createRoom, waitChatReady } from "./browser.mjs";

/** Host makes a room, guest opens the link; both reach the chat unless `expectError`. Returns ms from link opened to guest chat-ready. */
export async function createRoomAndJoin(host, guest, url, { expectError = false } = {}) {
  const link = await createRoom(host, url);
  const started = Date.now();
  await guest.goto(link);
  if (expectError) return null;
  await Promise.all([waitChatReady(host), waitChatReady(guest)]);
  return Date.now() - started;
}
