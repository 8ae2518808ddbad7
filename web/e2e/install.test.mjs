// Installing the app (issue 20 item 5): offered on the start page after a first chat connected, not
// before; where the browser offers installing (Chromium's `beforeinstallprompt`) through its own
// prompt. The browser's install dialog is outside the page, so the event is a stand-in carrying the
// same interface (prompt, userChoice), dispatched as Chromium dispatches it. iPhone and iPad have no
// such event: there the start page says how to add the app to the Home Screen; WebKit cannot run
// here, so a phone-sized Chromium page is given the features the app tells an iPhone by (IPHONE).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IPHONE, chromiumPage, connectPair, serverAndChromium, wrapPage } from "./harness.mjs";

async function phone(browser, standalone) {
  const context = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  await context.addInitScript(IPHONE, standalone);
  return { ...wrapPage(await context.newPage(), "playwright"), context };
}

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

  it("iphone_AddToHomeScreenGuidance_AfterAFirstChat_NotOnceAdded", async () => {
    const host = await phone(env.browser, false);
    const guest = await chromiumPage(env.browser);
    await host.goto(env.server.url + "/");
    await host.waitFor(() => document.body.dataset.view === "home");
    assert.equal(await host.eval(() => "onbeforeinstallprompt" in window), false);
    assert.equal(await host.eval(() => document.querySelector("#install-ios").hidden), true, "nothing before a first chat");
    await connectPair(host, guest, env.server.url);
    await host.click("#leave");
    await host.waitFor(() => document.body.dataset.view === "home" && !document.querySelector("#install-ios").hidden);
    assert.match(await host.eval(() => document.querySelector("#install-ios").textContent), /Share.*Add to Home Screen/);
    assert.equal(await host.eval(() => document.querySelector("#install").hidden), true, "no install button without the browser's prompt");
    await host.context.close();
    await guest.context.close();

    // Opened from the Home Screen (navigator.standalone): installed, nothing to offer.
    const added = await phone(env.browser, true);
    await added.goto(env.server.url + "/");
    await added.eval(() => localStorage.setItem("ghostchat:chatted", "1"));
    await added.page.reload();
    await added.waitFor(() => document.body.dataset.view === "home");
    assert.equal(await added.eval(() => document.querySelector("#install-ios").hidden), true);
    await added.context.close();
  });
});
