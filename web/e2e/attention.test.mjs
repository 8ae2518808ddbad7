// New messages while the page is hidden (issue 20 item 6): the unread count in the title, and opt-in
// notifications through the service worker that say who wrote but not what, unless previews are on.
// Real server, real Chromium, the shipped bundle and its service worker. Chromium gives each test
// context its own visible tab, so hiding it is simulated (harness.mjs `setHidden`: the app's code path
// from its visibilitychange listeners on).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chromiumPage, connectPair, send, serverAndChromium, setHidden, waitIncoming } from "./harness.mjs";

/** The notifications the page's service worker shows now: [title, body]. */
function shown(p) {
  return p.eval(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => [n.title, n.body]));
}

describe("attention: unread count and notifications (Chromium)", { timeout: 180_000 }, () => {
  const env = serverAndChromium();

  it("hidden_TitleCountsUnread_NotificationWithoutTextUnlessPreviews_ClearedWhenBack", async () => {
    const host = await chromiumPage(env.browser);
    const guest = await chromiumPage(env.browser);
    await guest.context.grantPermissions(["notifications"], { origin: env.server.url });
    await connectPair(host, guest, env.server.url);
    await guest.eval(() => navigator.serviceWorker.ready);
    assert.equal(await guest.eval(() => document.querySelector("#notify").getAttribute("aria-pressed")), "false");
    await guest.click("#notify");
    await guest.waitFor(() => document.querySelector("#notify").getAttribute("aria-pressed") === "true");

    await setHidden(guest, true);
    await send(host, "words nobody else should read");
    await waitIncoming(guest, "words nobody else should read");
    await send(host, "and more");
    await waitIncoming(guest, "and more");
    assert.equal(await guest.eval(() => document.title), "(2) GhostChat");
    await guest.waitFor(async () => (await (await navigator.serviceWorker.ready).getNotifications()).length === 1);
    const [[title, body]] = await shown(guest);
    assert.match(title, /New message from/);
    assert.doesNotMatch(body, /words|more/);

    await setHidden(guest, false);
    assert.equal(await guest.eval(() => document.title), "GhostChat");
    await guest.waitFor(async () => (await (await navigator.serviceWorker.ready).getNotifications()).length === 0);

    // Previews on: the text is in the notification.
    await guest.eval(() => document.querySelector("#members-details").setAttribute("open", ""));
    await guest.click("#notify-previews");
    await setHidden(guest, true);
    await send(host, "preview this");
    await waitIncoming(guest, "preview this");
    await guest.waitFor(async () => (await (await navigator.serviceWorker.ready).getNotifications()).some((n) => n.body === "preview this"));
    // Turned off: nothing new is shown, the title still counts.
    await setHidden(guest, false);
    await guest.click("#notify");
    await setHidden(guest, true);
    await send(host, "quiet now");
    await waitIncoming(guest, "quiet now");
    assert.equal(await guest.eval(() => document.title), "(1) GhostChat");
    assert.deepEqual(await shown(guest), []);
    await host.context.close();
    await guest.context.close();
  });

  it("permissionDenied_SaysWhereToAllowIt_StaysOff", async () => {
    const host = await chromiumPage(env.browser);
    const guest = await chromiumPage(env.browser);
    await connectPair(host, guest, env.server.url);
    // No grant in this context: headless Chromium answers the permission request with "denied".
    await guest.click("#notify");
    await guest.waitFor(() => /did not allow notifications/.test(document.querySelector("#notify-feedback").textContent));
    assert.equal(await guest.eval(() => document.querySelector("#notify").getAttribute("aria-pressed")), "false");
    await host.context.close();
    await guest.context.close();
  });
});
