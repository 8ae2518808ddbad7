/* global Navigator, DOMException, caches -- the init script and evaluated functions run in the page */
// Sharing an invite (issue 20 item 3): the system share sheet where the browser has one (Web Share
// API), copying beside it. Chromium on Linux has no share sheet, so the first test checks the button
// is not offered there; the others give the page a share sheet stand-in (the browser's own dialog is
// outside the page) to check what the app hands it and what happens when it fails or is closed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chromiumPage, createRoom, serverAndChromium, waitConnected, waitIncoming } from "./harness.mjs";

/** A share sheet stand-in that records what it was given and answers with `outcome`. */
function withShareSheet(p, outcome) {
  return p.context.addInitScript((o) => {
    window.__shared = [];
    Object.defineProperty(Navigator.prototype, "share", {
      configurable: true,
      value: (data) => {
        window.__shared.push(data);
        return o === "ok" ? Promise.resolve() : Promise.reject(new DOMException("no", o));
      },
    });
  }, outcome);
}

describe("invite sharing (Chromium)", { timeout: 120_000 }, () => {
  const env = serverAndChromium();

  it("noShareSheet_OnlyCopyOffered", async () => {
    const host = await chromiumPage(env.browser);
    await createRoom(host, env.server.url);
    assert.equal(await host.eval(() => typeof navigator.share), "undefined");
    assert.equal(await host.eval(() => document.querySelector("#share-link").hidden), true);
    await host.context.close();
  });

  it("shareSheet_GetsTheInviteLinkAndAnInvitation", async () => {
    const host = await chromiumPage(env.browser);
    await withShareSheet(host, "ok");
    const link = await createRoom(host, env.server.url);
    assert.equal(await host.eval(() => document.querySelector("#share-link").hidden), false);
    await host.click("#share-link");
    await host.waitFor(() => window.__shared.length === 1);
    const [shared] = await host.eval(() => window.__shared);
    assert.equal(shared.url, link);
    assert.match(shared.text, /private chat/);
    await host.context.close();
  });

  it("sharedFromAnotherApp_WaitsInTheComposer_LeavesTheAddress_SentInTheNextRoom", async () => {
    const host = await chromiumPage(env.browser);
    const guest = await chromiumPage(env.browser);
    await host.goto(env.server.url + "/");
    await host.waitFor(() => document.body.dataset.view === "home");
    await host.eval(() => navigator.serviceWorker.ready);
    await host.page.reload();
    await host.waitFor(() => navigator.serviceWorker.controller !== null);
    // What the system does for the installed app's share target: a form POST navigation to /share-target.
    await host.eval((link) => {
      const form = document.createElement("form");
      form.method = "POST";
      form.action = "/share-target";
      form.enctype = "multipart/form-data";
      for (const [k, v] of [
        ["share-title", "T"],
        ["share-text", "look at this"],
        ["share-url", link],
      ]) {
        const input = document.createElement("input");
        input.name = k;
        input.value = v;
        form.append(input);
      }
      document.body.append(form);
      form.submit();
    }, "https://example.org/a");
    await host.waitFor(() => document.body.dataset.view === "home" && !document.querySelector("#shared-note").hidden);
    assert.equal(await host.eval(() => location.search), "");
    assert.equal(await host.eval(async () => (await caches.open("ghostchat-share")).match("/shared")), undefined);
    await host.click("#new-room");
    await host.waitFor(() => document.querySelector("#invite-link").value.includes("#join="));
    await guest.goto(await host.eval(() => document.querySelector("#invite-link").value));
    await Promise.all([waitConnected(host), waitConnected(guest)]);
    assert.equal(await host.eval(() => document.querySelector("#composer").value), "look at this https://example.org/a");
    await host.click("#send");
    await waitIncoming(guest, "look at this https://example.org/a");
    await host.context.close();
    await guest.context.close();
  });

  it("shareFails_LinkCopiedInstead_ClosedSheet_NothingHappens", async () => {
    const host = await chromiumPage(env.browser);
    await host.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: env.server.url });
    await withShareSheet(host, "NotAllowedError");
    const link = await createRoom(host, env.server.url);
    await host.click("#share-link");
    await host.waitFor(() => /copied instead/.test(document.querySelector("#copy-feedback").textContent));
    assert.equal(await host.eval(() => navigator.clipboard.readText()), link);
    await host.context.close();

    const other = await chromiumPage(env.browser);
    await withShareSheet(other, "AbortError");
    await createRoom(other, env.server.url);
    await other.click("#share-link");
    await other.waitFor(() => window.__shared.length === 1);
    assert.equal(await other.eval(() => document.querySelector("#copy-feedback").textContent), "");
    await other.context.close();
  });
});
