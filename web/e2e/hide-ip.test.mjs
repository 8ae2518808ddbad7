// "Hide my IP" (issue 15 item 5): with the switch on, every connection of this page goes through the
// relay, so the other side — and anyone who knows the page's peer id — sees the relay's address,
// never the device's. The real server with its embedded TURN on loopback, real Chromium, the shipped
// bundle: the switch is set the way a person sets it (a click in the top bar), and what the other side
// learned is read from its own quality indicator (the selected candidate pair of its connection).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chromiumPage, connectPair, createRoom, freePort, launchChromium, send, startServer, waitConnected, waitIncoming, WAIT } from "./harness.mjs";

/** The 1:1 quality indicator's path: "direct-udp", "relay-udp" (this side relays), "relay-remote" (the other side does). */
function path(p) {
  return p.eval(() => document.querySelector("#view-chat .chat-tools .quality")?.dataset.path ?? "");
}

describe("Hide my IP (Chromium, embedded TURN)", { timeout: 240_000 }, () => {
  let server;
  let browser;
  before(async () => {
    const [udp, tcp] = [await freePort(), await freePort()];
    server = await startServer({
      GhostChat__Turn__Enabled: "true",
      GhostChat__Turn__ListenAddresses__0: "127.0.0.1",
      GhostChat__Turn__UdpPort: String(udp),
      GhostChat__Turn__TcpPort: String(tcp),
      // The browsers are on loopback: let the relay reach them (production denies it).
      GhostChat__Turn__AllowedPeers__0: "127.0.0.0/8",
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("guestHidesIp_BeforeJoining_HostSeesOnlyTheRelay_SwitchRemembered", async () => {
    const host = await chromiumPage(browser);
    const guest = await chromiumPage(browser);
    const link = await createRoom(host, server.url);
    await guest.goto(server.url + "/");
    await guest.waitFor(() => document.body.dataset.view === "home");
    assert.match(await guest.eval(() => document.querySelector("#hide-ip-help").textContent), /relay server's address instead of yours/);
    await guest.click("#hide-ip");
    assert.match(await guest.eval(() => document.querySelector("#announcer").textContent), /hidden/);
    await guest.goto(link);
    // Remembered in this browser: an invite link opens the room at once, with the switch already on.
    assert.equal(await guest.eval(() => document.querySelector("#hide-ip").checked), true);
    await Promise.all([waitConnected(host), waitConnected(guest)]);
    await guest.waitFor(() => document.querySelector("#view-chat .chat-tools .quality")?.dataset.path?.startsWith("relay-udp"), undefined, WAIT);
    await host.waitFor(() => document.querySelector("#view-chat .chat-tools .quality")?.dataset.path === "relay-remote", undefined, WAIT);
    await send(guest, "through the relay");
    await waitIncoming(host, "through the relay");
    await host.context.close();
    await guest.context.close();
  });

  it("switchedOnInTheRoom_LinkMadeAgainThroughTheRelay_ChatGoesOn", async () => {
    const host = await chromiumPage(browser);
    const guest = await chromiumPage(browser);
    await connectPair(host, guest, server.url);
    await host.waitFor(() => document.querySelector("#view-chat .chat-tools .quality")?.dataset.path?.startsWith("direct-"), undefined, WAIT);
    await host.click("#hide-ip");
    await host.waitFor(() => document.querySelector("#view-chat .chat-tools .quality")?.dataset.path?.startsWith("relay-udp"), undefined, WAIT);
    await guest.waitFor(() => document.querySelector("#view-chat .chat-tools .quality")?.dataset.path === "relay-remote", undefined, WAIT);
    await send(host, "now hidden");
    await waitIncoming(guest, "now hidden");
    assert.ok((await path(host)).startsWith("relay-"));
    await host.context.close();
    await guest.context.close();
  });
});
