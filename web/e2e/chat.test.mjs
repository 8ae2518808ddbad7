// Two Chromium pages through the real server: room, invite link, chat both ways with
// delivered/read state, inert HTML, self-destruct on both sides, panic clear.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chromiumPage, connectPair, launchChromium, messageTexts, send, startServer, waitIncoming, waitOutgoingState, WAIT } from "./harness.mjs";

describe("Chromium ↔ Chromium chat through the real server", { timeout: 240_000 }, () => {
  let server, browser, host, guest, link;

  before(async () => {
    server = await startServer();
    browser = await launchChromium();
    host = await chromiumPage(browser);
    guest = await chromiumPage(browser);
    link = await connectPair(host, guest, server.url);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("inviteLink_SecretInFragmentOnly_JoinsRoom", () => {
    const url = new URL(link);
    assert.equal(url.origin, server.url);
    assert.equal(url.search, "");
    assert.match(url.hash, /^#join=2\.[^.]+\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{12}\.[A-Za-z0-9_-]{22}\.\d+\.[A-Za-z0-9_-]{43}$/);
  });

  it("chat_BothWays_DeliveredThenRead", async () => {
    await send(host, "hello from host");
    await waitIncoming(guest, "hello from host");
    assert.equal(await guest.eval(() => document.querySelector("#announcer").textContent), "New message: hello from host");
    await waitOutgoingState(host, "hello from host", "read");
    await send(guest, "hi back\nsecond line");
    await waitIncoming(host, "hi back\nsecond line");
    await waitOutgoingState(guest, "hi back\nsecond line", "read");
    // Shift+Enter made a line break, Enter sent: one message with two lines.
    const states = await host.eval(() =>
      [...document.querySelectorAll('#messages li[data-direction="out"]')].map((li) => li.querySelector(".msg-state").textContent),
    );
    assert.deepEqual(states, ["Read"]);
  });

  it("typing_ShownToPeer", async () => {
    await host.type("#composer", "typing…");
    await guest.waitFor(() => !document.querySelector("#typing").hidden);
    await host.press("Enter");
    await waitIncoming(guest, "typing…");
    await guest.waitFor(() => document.querySelector("#typing").hidden);
  });

  it("message_HtmlAndScript_RenderedInert", async () => {
    const payload = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><b>bold?</b>`;
    await send(host, payload);
    const id = await waitIncoming(guest, payload).catch(async (e) => {
      throw new Error(`${e.message}; guest shows ${JSON.stringify(await messageTexts(guest))}`);
    });
    const result = await guest.eval((msgId) => {
      const li = document.querySelector(`#messages li[data-id="${msgId}"]`);
      return {
        elements: li.querySelectorAll(".msg-text *").length,
        xss: window.__xss ?? null,
        imgs: document.querySelectorAll("#messages img, #messages script").length,
      };
    }, id);
    assert.deepEqual(result, { elements: 0, xss: null, imgs: 0 });
  });

  it("message_Formatting_OnlySafeElements", async () => {
    await send(guest, "*bold* and javascript:alert(1) and https://example.org/x");
    const id = await waitIncoming(host, "bold and javascript:alert(1) and https://example.org/x");
    const tags = await host.eval(
      (msgId) => [...document.querySelectorAll(`#messages li[data-id="${msgId}"] .msg-text *`)].map((e) => e.tagName + (e.href ? " " + e.href : "")),
      id,
    );
    assert.deepEqual(tags, ["STRONG", "A https://example.org/x"]);
  });

  it("lengthLimit_CounterAndSendDisabledWhenOver", async () => {
    await host.eval(() => {
      const c = document.querySelector("#composer");
      c.value = "x".repeat(2001);
      c.dispatchEvent(new Event("input", { bubbles: true }));
    });
    const state = await host.eval(() => ({ counter: document.querySelector("#counter").textContent, disabled: document.querySelector("#send").disabled }));
    assert.deepEqual(state, { counter: "Too long: 1 characters over the limit.", disabled: true });
    await host.eval(() => {
      const c = document.querySelector("#composer");
      c.value = "";
      c.dispatchEvent(new Event("input", { bubbles: true }));
    });
    assert.equal(await host.eval(() => document.querySelector("#counter").textContent), "0 / 2000");
  });

  it("selfDestruct_5s_RemovedOnBothSides", async () => {
    await host.page.selectOption("#self-destruct", "5000");
    await send(host, "this will vanish");
    await waitIncoming(guest, "this will vanish");
    const gone = () => ![...document.querySelectorAll("#messages .msg-text")].some((e) => e.textContent === "this will vanish");
    await Promise.all([host.waitFor(gone, undefined, WAIT), guest.waitFor(gone, undefined, WAIT)]);
    // Messages without a timer stay.
    assert.ok((await messageTexts(guest)).includes("hello from host"));
    await host.page.selectOption("#self-destruct", "");
  });

  it("panic_CtrlShiftX_WipesThisSideOnly", async () => {
    await send(guest, "before panic");
    await waitIncoming(host, "before panic");
    assert.ok((await messageTexts(host)).length > 0);
    await host.page.keyboard.press("Control+Shift+X");
    assert.deepEqual(await messageTexts(host), []);
    assert.ok((await messageTexts(guest)).includes("before panic"));
    // The chat goes on after a panic.
    await send(guest, "after panic");
    await waitIncoming(host, "after panic");
    await guest.click("#panic");
    assert.deepEqual(await messageTexts(guest), []);
  });

  it("leave_PeerSeesPeerLeft", async () => {
    await guest.click("#leave");
    await host.waitFor(() => document.body.dataset.phase === "peer-left" && document.querySelector("#composer").disabled);
    assert.equal(await host.eval(() => document.querySelector("#status").textContent), "Your friend left the chat.");
  });

  it("pages_NoCspViolationsOrErrors", () => {
    const relevant = [...host.errors, ...guest.errors].filter((e) => !/favicon/i.test(e));
    assert.deepEqual(relevant, []);
  });
});
