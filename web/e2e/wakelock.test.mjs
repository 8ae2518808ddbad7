// The screen wake lock: taken while a chat is connected, released when the friend leaves. Headless
// Chromium has no screen to keep awake, so each page gets a recording stand-in for
// navigator.wakeLock before the app loads; what is asserted is the app's use of the API.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chromiumPage, connectPair, createRoom, launchChromium, serverAndChromium, startServer } from "./harness.mjs";

const RECORDER = () => {
  const log = [];
  window.__wakeLockLog = log;
  Object.defineProperty(navigator, "wakeLock", {
    configurable: true,
    value: {
      request: async (type) => {
        log.push(`request:${type}`);
        const listeners = [];
        return {
          type,
          released: false,
          addEventListener: (name, fn) => {
            if (name === "release") listeners.push(fn);
          },
          release: async function () {
            if (!this.released) {
              this.released = true;
              log.push("release");
              listeners.forEach((fn) => fn());
            }
          },
        };
      },
    },
  });
};

describe("wake lock while in a chat", { timeout: 180_000 }, () => {
  let server, browser, host, guest;

  before(async () => {
    server = await startServer();
    browser = await launchChromium();
    host = await chromiumPage(browser);
    guest = await chromiumPage(browser);
    await host.context.addInitScript(RECORDER);
    await guest.context.addInitScript(RECORDER);
    await connectPair(host, guest, server.url);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("wakeLock_TakenWhenConnected_ReleasedWhenTheFriendLeaves", async () => {
    await host.waitFor(() => window.__wakeLockLog.includes("request:screen"));
    await guest.waitFor(() => window.__wakeLockLog.includes("request:screen"));
    assert.deepEqual(await host.eval(() => window.__wakeLockLog), ["request:screen"]);

    await guest.click("#leave");
    await host.waitFor(() => window.__wakeLockLog.includes("release"));
    await guest.waitFor(() => window.__wakeLockLog.includes("release"));
    assert.deepEqual(await host.eval(() => window.__wakeLockLog), ["request:screen", "release"]);
  });
});

describe("wake lock in a group room", { timeout: 180_000 }, () => {
  const env = serverAndChromium();

  it("wakeLock_GroupRoom_TakenWithSomeoneThere_ReleasedWhenAloneAgain", async () => {
    const host = await chromiumPage(env.browser);
    const guest = await chromiumPage(env.browser);
    for (const p of [host, guest]) await p.context.addInitScript(RECORDER);
    const link = await createRoom(host, env.server.url, "group");
    // Alone in the room: nothing to keep the screen on for.
    assert.deepEqual(await host.eval(() => window.__wakeLockLog), []);
    await guest.goto(link);
    await host.waitFor(() => window.__wakeLockLog.includes("request:screen"));
    await guest.waitFor(() => window.__wakeLockLog.includes("request:screen"));
    await guest.click("#leave");
    await host.waitFor(() => window.__wakeLockLog.includes("release"));
    assert.deepEqual(await host.eval(() => window.__wakeLockLog), ["request:screen", "release"]);
  });
});
