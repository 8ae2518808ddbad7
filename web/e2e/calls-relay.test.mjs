// Calls relay-only through coturn (issue 17, "Through relays"): a real coturn (Debian's turnserver,
// REST secret, tests/interop/lib/coturn.mjs) is the only ICE provider the real server hands out, and
// the server's relay-only hint makes every page use relays only. A video call between two Chromium
// pages, and one between Firefox and Chromium, is decoded both ways, on a link whose selected path is
// a coturn relay on both sides (the quality indicator: path and provider). Relay-only through the
// embedded TURN server is in calls.test.mjs.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, it } from "node:test";
import { startCoturn } from "../../tests/interop/lib/coturn.mjs";
import { chromiumPage, firefoxPage, freePort, WAIT } from "./harness.mjs";
import { callSuite, peers, readyPair, receiving, until, videoCall } from "./calls-lib.mjs";

const SECRET = crypto.randomBytes(24).toString("hex");

/**
 * The path the page's quality indicator reports for its link (relay-udp, …) and the provider of the
 * relay, once it reports a relayed one.
 */
async function path(p) {
  await until(p, () => document.querySelector("#quality")?.dataset.path?.startsWith("relay-"), undefined, WAIT);
  return p.eval(() => ({ path: document.querySelector("#quality").dataset.path, provider: document.querySelector("#quality").dataset.provider ?? null }));
}

/**
 * Both sides' links are relayed (relay-only: the server's hint, and coturn the only ICE server it hands
 * out; the embedded TURN server is off). Chromium's getStats names the relay's URL, so its indicator
 * names the provider too; Firefox's does not.
 */
async function relayedThroughCoturn(...pages) {
  for (const p of pages) assert.deepEqual(await path(p), { path: "relay-udp", provider: p.kind === "playwright" ? "coturn" : null });
}

describe("Calls relay-only through coturn", { timeout: 300_000 }, () => {
  let coturn, port;
  before(async () => {
    port = await freePort();
    const relayMin = 40_000 + Math.floor(Math.random() * 20_000);
    coturn = await startCoturn(
      [
        `--listening-port=${port}`,
        "--use-auth-secret",
        `--static-auth-secret=${SECRET}`,
        "--realm=ghostchat",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        // The browsers are on loopback: let the relay reach them (a deployment denies it).
        "--allow-loopback-peers",
        `--min-port=${relayMin}`,
        `--max-port=${relayMin + 100}`,
      ],
      { port },
    );
  });
  const s = callSuite({
    env: () => ({
      GhostChat__Ice__Providers__coturn__Type: "rest-secret",
      GhostChat__Ice__Providers__coturn__Urls__0: `turn:127.0.0.1:${port}?transport=udp`,
      GhostChat__Ice__Providers__coturn__Secrets__0: SECRET,
      GhostChat__Ice__Providers__coturn__Realm: "ghostchat",
      GhostChat__Ice__RelayOnly: "true",
    }),
    firefox: true,
    // Firefox leaves out candidates on loopback addresses unless told, and here coturn relays from
    // 127.0.0.1 (without this the Firefox test fails: no path).
    firefoxPrefs: { "media.peerconnection.ice.loopback": true },
  });
  // After the suite's own `after` (hooks run in the order they were registered): the server first.
  after(async () => {
    await coturn?.stop();
  });

  async function videoBothWays(host, guest) {
    await readyPair(s.server, host, guest);
    await relayedThroughCoturn(host, guest);
    const [hostId] = await peers(guest);
    const [guestId] = await peers(host);
    await videoCall(host, guest);
    await receiving(guest, hostId, "video");
    await receiving(host, guestId, "video");
    await receiving(guest, hostId, "audio");
    await receiving(host, guestId, "audio");
    // Still through coturn once the media flows: the call is on the link's own (relayed) connection.
    await relayedThroughCoturn(host, guest);
    assert.deepEqual([...host.errors, ...guest.errors], []);
  }

  it("chromium_VideoCall_RelayOnlyThroughCoturn_BothDecodeAndHear", async () => {
    const host = await chromiumPage(s.chromium);
    const guest = await chromiumPage(s.chromium);
    await videoBothWays(host, guest);
    await host.context.close();
    await guest.context.close();
  });

  it("firefoxHostsVideoCall_ChromiumJoins_RelayOnlyThroughCoturn_BothDecodeAndHear", async () => {
    const host = await firefoxPage(s.firefox);
    const guest = await chromiumPage(s.chromium);
    await videoBothWays(host, guest);
    await host.page.close();
    await guest.context.close();
  });
});
