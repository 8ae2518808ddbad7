// The chat is peer-to-peer: once connected it must survive the signaling server going away.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chromiumPage, connectPair, launchChromium, send, startServer, waitIncoming, waitOutgoingState } from "./harness.mjs";

describe("Chat without the signaling server", { timeout: 240_000 }, () => {
  let server, browser;

  before(async () => {
    server = await startServer();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("serverStopped_ChatGoesOnBothWays", async () => {
    const host = await chromiumPage(browser);
    const guest = await chromiumPage(browser);
    await connectPair(host, guest, server.url);
    await server.stop();
    // The signaling socket drops; both pages notice (PeerJS "disconnected") without leaving the chat.
    await send(host, "still here without a server");
    await waitIncoming(guest, "still here without a server");
    await waitOutgoingState(host, "still here without a server", "read");
    await send(guest, "me too");
    await waitIncoming(host, "me too");
    await waitOutgoingState(guest, "me too", "read");
    for (const p of [host, guest]) {
      assert.equal(await p.eval(() => document.querySelector("#composer").disabled), false);
      assert.equal(await p.eval(() => document.body.dataset.phase), "connected");
    }
  });
});
