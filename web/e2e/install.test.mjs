// Installing the app (issue 20 item 5): offered on the start page after a first chat connected, not
// before; where the browser offers installing (Chromium's `beforeinstallprompt`) through its own
// prompt. The browser's install dialog is outside the page, so the event is a stand-in carrying the
// same interface (prompt, userChoice), dispatched as Chromium dispatches it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chromiumPage, connectPair, serverAndChromium } from "./harness.mjs";

/** Chromium offering to install: a `beforeinstallprompt` whose dialog answers `outcome`. */
function offerInstall(p, outcome) {
  return p.eval((o) => {
    const e = new Event("beforeinstallprompt", { cancelable: true });
    window.__prompted = 0;
    e.prompt = async () => void window.__prompted++;
    e.userChoice = Promise.resolve({ outcome: o });
    window.dispatchEvent(e);
    return e.defaultPrevented;
  }, outcome);
}

describe("install offer (Chromium)", { timeout: 120_000 }, () => {
  const env = serverAndChromium();

  it("notBeforeAFirstChat_ThenOfferedOnTheStartPage_PromptShown", async () => {
    const host = await chromiumPage(env.browser);
    const guest = await chromiumPage(env.browser);
    await host.goto(env.server.url + "/");
    await host.waitFor(() => document.body.dataset.view === "home");
    // The browser's own mini-infobar is held back; nothing is offered before a chat.
    assert.equal(await offerInstall(host, "accepted"), true);
    assert.equal(await host.eval(() => document.querySelector("#install").hidden), true);
    await connectPair(host, guest, env.server.url); // a new page load of the host
    assert.equal(await offerInstall(host, "accepted"), true);
    await host.click("#leave");
    await host.waitFor(() => document.body.dataset.view === "home" && !document.querySelector("#install").hidden);
    await host.click("#install");
    await host.waitFor(() => /Installed/.test(document.querySelector("#install-feedback").textContent));
    assert.equal(await host.eval(() => window.__prompted), 1);
    // Used up: the browser fires a new event if installing is possible again.
    assert.equal(await host.eval(() => document.querySelector("#install").hidden), true);
    // The browser offers it again later: the start page offers it at once (the first chat is remembered).
    await offerInstall(host, "dismissed");
    await host.waitFor(() => !document.querySelector("#install").hidden);
    await host.click("#install");
    await host.waitFor(() => /Not installed/.test(document.querySelector("#install-feedback").textContent));
    await host.context.close();
    await guest.context.close();
  });
});
