/* global Navigator, WindowClient, NotificationEvent, self -- the init scripts and evaluated functions run in the page or its worker */
// New messages while the page is hidden (issue 20 item 6): the unread count in the title and on the
// app badge, and opt-in notifications through the service worker that say who wrote but not what,
// unless previews are on; clicking one brings back the room's tab.
// Real server, real Chromium, the shipped bundle and its service worker. Chromium gives each test
// context its own visible tab, so hiding it is simulated (harness.mjs `setHidden`: the app's code path
// from its visibilitychange listeners on).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chromiumPage, connectPair, send, serverAndChromium, setHidden, waitIncoming, wrapPage } from "./harness.mjs";

/**
 * Records what the page asks of the app badge and passes it on to Chromium's own Badging API (whose
 * badge is drawn by the system, on an installed app's icon, outside the page): ["set 1", "clear", …],
 * and "refused" when Chromium's promise rejected.
 */
const BADGE_RECORDER = () => {
  const log = (window.__badge = []);
  for (const name of ["setAppBadge", "clearAppBadge"]) {
    const real = Navigator.prototype[name];
    Object.defineProperty(Navigator.prototype, name, {
      configurable: true,
      value: function (...args) {
        log.push(name === "setAppBadge" ? `set ${args[0]}` : "clear");
        return real.apply(this, args).catch((e) => {
          log.push("refused");
          throw e;
        });
      },
    });
  }
};

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

  it("badge_CountsUnreadWhileHidden_ClearedWhenBack", async () => {
    const host = await chromiumPage(env.browser);
    const guest = await chromiumPage(env.browser);
    await guest.context.addInitScript(BADGE_RECORDER);
    await connectPair(host, guest, env.server.url);
    await send(host, "seen at once");
    await waitIncoming(guest, "seen at once");
    assert.deepEqual(await guest.eval(() => window.__badge), [], "no badge for a message read on a visible page");

    await setHidden(guest, true);
    for (const text of ["one", "two", "three"]) {
      await send(host, text);
      await waitIncoming(guest, text);
    }
    assert.deepEqual(await guest.eval(() => window.__badge), ["set 1", "set 2", "set 3"]);
    assert.equal(await guest.eval(() => document.title), "(3) GhostChat");
    await setHidden(guest, false);
    await guest.waitFor(() => window.__badge.at(-1) === "clear");
    assert.equal(await guest.eval(() => document.title), "GhostChat");
    // Counting starts again from one; Chromium's API took every call.
    await setHidden(guest, true);
    await send(host, "four");
    await waitIncoming(guest, "four");
    await guest.waitFor(() => window.__badge.length === 5);
    assert.deepEqual(await guest.eval(() => window.__badge), ["set 1", "set 2", "set 3", "clear", "set 1"]);
    await host.context.close();
    await guest.context.close();
  });

  // Only a real click lets a service worker focus a tab, and headless Chromium draws no notification
  // to click (no API or protocol command clicks one: web-platform-tests/wpt#51125). So the click is a
  // `notificationclick` dispatched in the app's real worker for the notification it really shows,
  // and WindowClient.focus — the browser's part — is a stand-in that records which tab it was asked
  // to bring back (and tells that tab). A script-made event cannot `waitUntil` (Chromium throws after
  // the handler started its work): that error is the stand-in's, not the app's.
  it("notificationClick_FocusesTheRoomsTab_NotAnotherGhostChatTab_NoSecretInTheNotification", async () => {
    const host = await chromiumPage(env.browser);
    const guest = await chromiumPage(env.browser);
    await guest.context.grantPermissions(["notifications"], { origin: env.server.url });
    await connectPair(host, guest, env.server.url);
    await guest.waitFor(() => navigator.serviceWorker.controller !== null);
    // Another GhostChat tab of the same browser, at the same address as the room's tab.
    const tabs = [guest, wrapPage(await guest.context.newPage(), "playwright")];
    await tabs[1].goto(env.server.url + "/");
    await tabs[1].waitFor(() => navigator.serviceWorker.controller !== null);
    assert.equal(await tabs[1].eval(() => location.href), await guest.eval(() => location.href));
    for (const tab of tabs)
      await tab.eval(() => {
        window.__focused = 0;
        navigator.serviceWorker.addEventListener("message", (e) => e.data === "test:focused" && window.__focused++);
      });

    await guest.click("#notify");
    await setHidden(guest, true);
    await send(host, "come back");
    await waitIncoming(guest, "come back");
    await guest.waitFor(async () => (await (await navigator.serviceWorker.ready).getNotifications()).length === 1);
    // The person is in the other tab now (the most recently focused: the worker lists it first).
    await tabs[1].page.bringToFront();
    const [worker] = guest.context.serviceWorkers();
    const click = () =>
      worker.evaluate(async () => {
        WindowClient.prototype.focus = function () {
          this.postMessage("test:focused");
          return Promise.resolve(this);
        };
        const [n] = await self.registration.getNotifications();
        const data = n.data;
        try {
          self.dispatchEvent(new NotificationEvent("notificationclick", { notification: n }));
        } catch {
          // see above: only a script-made event's waitUntil
        }
        return JSON.stringify(data);
      });
    const data = await click();
    assert.doesNotMatch(data, /join=/, "the invite's secret is not kept in the notification");
    await guest.waitFor(() => window.__focused === 1);
    assert.equal(await tabs[1].eval(() => window.__focused), 0, "the other GhostChat tab was not the one brought back");
    await guest.waitFor(async () => (await (await navigator.serviceWorker.ready).getNotifications()).length === 0);

    // The room's tab is gone by the time of the click: another GhostChat tab comes forward.
    await send(host, "again");
    await waitIncoming(guest, "again");
    await guest.waitFor(async () => (await (await navigator.serviceWorker.ready).getNotifications()).length === 1);
    await guest.page.close();
    await click();
    await tabs[1].waitFor(() => window.__focused === 1);
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
