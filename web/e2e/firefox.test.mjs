// Chromium ↔ Firefox ESR through the real server, both directions of hosting.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chromiumPage, connectPair, firefoxPage, launchChromium, launchFirefox, send, startServer, waitIncoming, waitOutgoingState } from "./harness.mjs";

describe("Chromium ↔ Firefox chat through the real server", { timeout: 300_000 }, () => {
  let server, chromium, firefox;

  before(async () => {
    server = await startServer();
    chromium = await launchChromium();
    firefox = await launchFirefox();
  });

  after(async () => {
    await firefox?.close();
    await chromium?.close();
    await server?.stop();
  });

  it("chromiumHosts_FirefoxJoins_ChatBothWaysWithReadState", async () => {
    const host = await chromiumPage(chromium);
    const guest = await firefoxPage(firefox);
    await connectPair(host, guest, server.url);
    await send(host, "from chromium");
    await waitIncoming(guest, "from chromium");
    await waitOutgoingState(host, "from chromium", "read");
    await send(guest, "from firefox\nline two");
    await waitIncoming(host, "from firefox\nline two");
    await waitOutgoingState(guest, "from firefox\nline two", "read");
    await host.context.close();
    await guest.page.close();
  });

  it("firefoxHosts_ChromiumJoins_ChatBothWays", async () => {
    const host = await firefoxPage(firefox);
    const guest = await chromiumPage(chromium);
    await connectPair(host, guest, server.url);
    await send(guest, "chromium to firefox host");
    await waitIncoming(host, "chromium to firefox host");
    await send(host, "firefox host replies");
    await waitIncoming(guest, "firefox host replies");
    await waitOutgoingState(host, "firefox host replies", "read");
    const errors = [...host.errors, ...guest.errors];
    assert.deepEqual(errors, []);
    await host.page.close();
    await guest.context.close();
  });
});
