// The chat is peer-to-peer: once connected it must survive the signaling server going away.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chromiumPage, connectPair, send, serverAndChromium, waitIncoming, waitOutgoingState } from "./harness.mjs";

describe("Chat without the signaling server", { timeout: 240_000 }, () => {
  const env = serverAndChromium();

  it("serverStopped_ChatGoesOnBothWays", async () => {
    const host = await chromiumPage(env.browser);
    const guest = await chromiumPage(env.browser);
    await connectPair(host, guest, env.server.url);
    await env.server.stop();
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
