// The reload hand-over of a joiner's member key (web/src/ui/member-key.ts), in the shipped bundle:
// whatever the tab's sessionStorage holds under "ghostchat:member-key" when the page reloads (an
// older build, an extension, a user: malformed, too long, another room's), the reloaded page joins
// with a new key and chats, and the value is gone; Leave removes it; a page that comes back from the
// back/forward cache takes the key it handed on back out.
//
// The values are planted by a pagehide listener added after the app's own, so they replace the key
// the app has just handed on, as anything else writing that storage would.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  chromiumPage,
  connectPair,
  createRoom,
  firefoxPage,
  launchChromium,
  launchFirefox,
  send,
  startServer,
  waitConnected,
  waitIncoming,
  WAIT,
} from "./harness.mjs";

const MEMBER_KEY = "ghostchat:member-key";

/**
 * Reloads `p` with `kind` of value in the member-key slot instead of the key the app handed on;
 * resolves once the reloaded page is in the chat or on the error page. `handedOn` is whether the app
 * had handed on a key at pagehide (what the planted value replaced) that looks like one: the page
 * before must not have kept the garbage of an earlier reload as its key.
 */
async function reloadWithKept(p, kind) {
  await p.eval(
    async ([key, kind]) => {
      window.__old = true;
      // Another pair's public key, made before the page goes (a pagehide listener cannot wait).
      const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
      const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
      const otherKey = window
        .btoa(String.fromCharCode(...raw))
        .replace(/\+/g, "-")
        .replace(/\//g, "_")
        .replace(/=+$/, "");
      window.addEventListener("pagehide", () => {
        const handed = sessionStorage.getItem(key);
        const kept = handed === null ? null : JSON.parse(handed);
        sessionStorage.setItem("e2e:handed-on", String(typeof kept?.key?.privateJwk?.d === "string" && typeof kept.key.key === "string"));
        const publicJwk = Object.fromEntries(Object.entries(kept?.key.privateJwk ?? {}).filter(([name]) => name !== "d"));
        const values = {
          "invalid JSON": () => '{"room":',
          "a string": () => JSON.stringify("a string"),
          "an empty key for this room": () => JSON.stringify({ room: kept.room, key: {} }),
          "a JWK without d": () => JSON.stringify({ room: kept.room, key: { key: kept.key.key, privateJwk: publicJwk } }),
          "another room's key": () => JSON.stringify({ ...kept, room: "another-room" }),
          "another pair's public key": () => JSON.stringify({ room: kept.room, key: { ...kept.key, key: otherKey } }),
          "a huge string": () => "x".repeat(2_000_000),
        };
        sessionStorage.setItem(key, values[kind]());
      });
      setTimeout(() => location.reload(), 0);
    },
    [MEMBER_KEY, kind],
  );
  await p.waitFor(
    () =>
      !window.__old &&
      (document.body.dataset.view === "error" ||
        (document.body.dataset.view === "chat" && document.body.dataset.phase === "connected" && !document.querySelector("#composer").disabled)),
    undefined,
    WAIT * 2,
  );
  const handedOn = await p.eval(() => sessionStorage.getItem("e2e:handed-on"));
  await p.eval(() => sessionStorage.removeItem("e2e:handed-on"));
  return { handedOn, view: await p.eval(() => document.body.dataset.view), error: await p.eval(() => document.querySelector("#error-body")?.textContent) };
}

/**
 * Waits until the app's service worker controls the page: the page registers it (the error page and
 * a connected chat do), and a worker that activates later claims its pages, which takes a page out
 * of the back/forward cache (notRestoredReasons "serviceworker-claimed").
 */
function swInControl(p) {
  return p.waitFor(() => navigator.serviceWorker.controller !== null);
}

/**
 * Goes from the app to another page of the server and Back: whether the page came back from the
 * back/forward cache (the same window), and Chromium's reasons when it did not. The app must have
 * handed its key on as it went (the other page, same origin and tab, sees it).
 */
async function awayAndBack(p, baseUrl) {
  await swInControl(p);
  await p.eval(() => (window.__old = true));
  await p.goto(baseUrl + "/stats.html");
  assert.notEqual(await p.eval((k) => sessionStorage.getItem(k), MEMBER_KEY), null, "the page handed its key on as it went");
  await p.page.goBack({ waitUntil: "commit" });
  await p.waitFor(() => document.querySelector("#view-chat") !== null && document.readyState === "complete");
  return {
    restored: await p.eval(() => window.__old === true),
    reasons: await p.eval(() => performance.getEntriesByType("navigation")[0]?.notRestoredReasons?.reasons?.map((r) => r.reason) ?? null),
  };
}

describe("member key: malformed or foreign kept values, Leave, back/forward cache (Chromium)", { timeout: 600_000 }, () => {
  let server, browser;

  before(async () => {
    server = await startServer();
    // Playwright turns Chromium's back/forward cache off by default; these tests need it as shipped.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, ignoreDefaultArgs: ["--disable-back-forward-cache"] });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  // A Chromium page gets its goodbye out as it reloads, so the 1:1 room frees the old seat at once
  // and the reloaded page, with its new key, takes it the way any joiner does.
  it("pair_GuestReloadsWithGarbageKept_JoinsWithANewKeyAndChats_GarbageGone", async () => {
    const host = await chromiumPage(browser);
    const guest = await chromiumPage(browser);
    await connectPair(host, guest, server.url);
    for (const kind of [
      "invalid JSON",
      "a string",
      "an empty key for this room",
      "a JWK without d",
      "another pair's public key",
      "another room's key",
      "a huge string",
    ]) {
      const reloaded = await reloadWithKept(guest, kind);
      assert.equal(reloaded.handedOn, "true", `${kind}: the page before handed on a key of its own (not garbage it was given)`);
      assert.equal(reloaded.view, "chat", `${kind}: ${reloaded.error}`);
      assert.equal(await guest.eval((k) => sessionStorage.getItem(k), MEMBER_KEY), null, `${kind}: the kept value is gone`);
      await waitConnected(host);
      await host.waitFor(() => {
        const li = [...document.querySelectorAll("#members li.member")];
        return li.length === 1 && li[0].dataset.state === "online";
      });
      await send(guest, `back after ${kind}`);
      await waitIncoming(host, `back after ${kind}`);
      await send(host, `welcome back after ${kind}`);
      await waitIncoming(guest, `welcome back after ${kind}`);
    }
    assert.deepEqual([...host.errors, ...guest.errors], []);
    await host.context.close();
    await guest.context.close();
  });

  it("leave_RemovesTheKeptMemberKey_AReloadThenHandsNothingOn", async () => {
    const host = await chromiumPage(browser);
    const guest = await chromiumPage(browser);
    await connectPair(host, guest, server.url);
    await guest.eval((k) => sessionStorage.setItem(k, "left behind"), MEMBER_KEY);
    await guest.click("#leave");
    await guest.waitFor(() => document.body.dataset.view === "home");
    const kept = () => [sessionStorage.getItem("ghostchat:member-key"), sessionStorage.getItem("ghostchat:joined")];
    assert.deepEqual(await guest.eval(kept), [null, null]);
    await guest.eval(() => {
      window.__old = true;
      setTimeout(() => location.reload(), 0);
    });
    await guest.waitFor(() => !window.__old && document.body.dataset.view === "home");
    assert.deepEqual(await guest.eval(kept), [null, null]);
    await host.context.close();
    await guest.context.close();
  });

  // A joined page whose host is gone ends on "Your friend is not there" with its peer connections
  // closed: Chromium keeps such a page in the back/forward cache. It handed its key on when it went;
  // back again, it lives on, and the key must not wait in the tab's storage for a duplicated tab.
  it("backForward_JoinedPageRestoredFromTheCache_TakesTheKeyItHandedOnBackOut", async () => {
    const host = await chromiumPage(browser);
    const guest = await chromiumPage(browser);
    const link = await createRoom(host, server.url);
    await host.context.close();
    await guest.goto(link);
    await guest.waitFor(() => document.body.dataset.view === "error", undefined, WAIT * 2);
    const { restored, reasons } = await awayAndBack(guest, server.url);
    assert.ok(restored, JSON.stringify(reasons));
    assert.equal(await guest.eval((k) => sessionStorage.getItem(k), MEMBER_KEY), null);
    assert.equal(await guest.eval(() => document.body.dataset.view), "error");
    await guest.context.close();
  });

  // A page in a chat holds open RTCPeerConnections, and Chromium does not keep such a page in the
  // back/forward cache (notRestoredReasons "rtc"): Back loads it again, and that page takes the key
  // like a reload does and is back in the chat.
  it("backForward_PageInAChat_NotCachedByChromium_LoadedAgainTakesItsKeyAndChats", async () => {
    const host = await chromiumPage(browser);
    const guest = await chromiumPage(browser);
    await connectPair(host, guest, server.url);
    const { restored, reasons } = await awayAndBack(guest, server.url);
    assert.equal(restored, false);
    assert.ok(reasons?.includes("rtc"), JSON.stringify(reasons));
    await waitConnected(guest);
    assert.equal(await guest.eval((k) => sessionStorage.getItem(k), MEMBER_KEY), null);
    await host.waitFor(() => {
      const li = [...document.querySelectorAll("#members li.member")];
      return li.length === 1 && li[0].dataset.state === "online";
    });
    await send(guest, "back again");
    await waitIncoming(host, "back again");
    await host.context.close();
    await guest.context.close();
  });
});

// Firefox does not get its goodbye out on a reload, so a 1:1 room keeps the old page's seat until it
// counts as unreachable (a minute, docs/protocol.md "Presence and roster") and refuses a reloaded
// page with another key as "busy" meanwhile. A group room has seats to spare: the Firefox member that
// reloads with garbage kept joins at once with a new key, as a new member beside its old instance.
describe("member key: a Firefox member reloads with garbage kept (group room)", { timeout: 300_000 }, () => {
  let server, chromiumBrowser, firefox;

  before(async () => {
    server = await startServer();
    chromiumBrowser = await launchChromium();
    firefox = await launchFirefox();
  });

  after(async () => {
    await firefox?.close();
    await chromiumBrowser?.close();
    await server?.stop();
  });

  it("group_FirefoxMemberReloadsWithAnEmptyKeyKept_JoinsWithANewKeyAndChats_GarbageGone", async () => {
    const host = await chromiumPage(chromiumBrowser);
    const member = await firefoxPage(firefox);
    const link = await createRoom(host, server.url, "group");
    await member.goto(link);
    await waitConnected(member);
    await host.waitFor(
      () => document.body.dataset.view === "chat" && [...document.querySelectorAll("#members li.member")].some((li) => li.dataset.state === "online"),
    );
    const peers = () => host.eval(() => [...document.querySelectorAll("#members li.member")].map((li) => li.dataset.peer));
    const before = await peers();
    const reloaded = await reloadWithKept(member, "an empty key for this room");
    assert.equal(reloaded.handedOn, "true");
    assert.equal(reloaded.view, "chat", reloaded.error);
    assert.equal(await member.eval((k) => sessionStorage.getItem(k), MEMBER_KEY), null);
    // The host lists the new page (a new peer id) online; the old instance stays listed until it is
    // unreachable, as after a crashed tab.
    await host.waitFor(
      (old) => [...document.querySelectorAll("#members li.member")].some((li) => li.dataset.state === "online" && !old.includes(li.dataset.peer)),
      before,
    );
    await send(member, "back with a new key");
    await waitIncoming(host, "back with a new key");
    await send(host, "welcome, new key");
    await waitIncoming(member, "welcome, new key");
    assert.deepEqual([...host.errors, ...member.errors], []);
    await member.page.close();
    await host.context.close();
  });
});
