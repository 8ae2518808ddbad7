// What the call e2e tests share (calls.test.mjs, calls-attacks.test.mjs, calls-relay.test.mjs): waits
// on a page, the figures of what a page receives (getStats on the room link's own connection through
// `window.__ghostchatMesh.rtp`, e2e build only), and a 1:1 room made ready.
import { after, before } from "node:test";
import { createRoom, E2E_DIST, FAKE_MEDIA_ARGS, launchChromium, launchFirefox, startServer, waitConnected, WAIT } from "./harness.mjs";

/**
 * The real server (serving the e2e build) and the browsers of a describe's tests: started in its
 * `before`, stopped in its `after`. `env()` (it may be async: it runs in `before`, after any `before`
 * registered earlier) gives the server's environment; Chromium has fake devices, Firefox (when asked)
 * its fake-media preferences plus `firefoxPrefs`.
 */
export function callSuite({ env = () => ({}), firefox = false, firefoxPrefs = {} } = {}) {
  const s = { server: null, chromium: null, firefox: null };
  before(async () => {
    s.server = await startServer(await env(), undefined, { web: E2E_DIST });
    s.chromium = await launchChromium(FAKE_MEDIA_ARGS);
    if (firefox) s.firefox = await launchFirefox(firefoxPrefs);
  });
  after(async () => {
    await s.firefox?.close();
    await s.chromium?.close();
    await s.server?.stop();
  });
  return s;
}

/** The host starts a video call; the guest sees it and joins with video, one click. */
export async function videoCall(host, guest) {
  await host.click("#call-video");
  await until(guest, () => document.querySelector("#call")?.dataset.members === "1");
  await guest.click("#call-video");
}

/** Polls on an interval (hidden Firefox tabs get no animation frames); synchronous conditions only. */
export function until(p, fn, arg, timeout = WAIT) {
  return p.kind === "playwright" ? p.page.waitForFunction(fn, arg, { polling: 500, timeout }) : p.page.waitForFunction(fn, { polling: 500, timeout }, arg);
}

/**
 * Polls an asynchronous condition (getStats) from here: Playwright's waitForFunction takes a returned
 * promise for a truthy value at once, so it cannot wait on one.
 */
export async function poll(p, fn, arg, timeout = WAIT) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await p.eval(fn, arg);
    if (value) return value;
    if (Date.now() > end) throw new Error(`condition not met within ${timeout} ms: ${fn.toString().slice(0, 200)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export const peers = (p) => p.eval(() => window.__ghostchatMesh.links());

/**
 * Waits until what `p` receives from `peer` moves (`moving`) or has stopped (`!moving`): for "video"
 * framesDecoded, for "audio" packets with an audio level above 0. Moving: larger than at the previous
 * poll; stopped: the same over four polls in a row (two seconds).
 */
export function receiving(p, peer, kind, moving = true, { level = true } = {}) {
  return poll(
    p,
    async ([peer, kind, moving, needLevel]) => {
      const rtp = await window.__ghostchatMesh.rtp(peer);
      const s = rtp.find((x) => x.type === "inbound-rtp" && x.kind === kind);
      const value = !s ? 0 : kind === "video" ? (s.framesDecoded ?? 0) : (s.packetsReceived ?? 0);
      const level = s?.audioLevel ?? s?.totalAudioEnergy ?? 0;
      const key = `${peer}/${kind}/${moving}`;
      const seen = ((window.__calls ??= {})[key] ??= []);
      seen.push(value);
      if (moving) return seen.length > 1 && value > seen[seen.length - 2] && (kind === "video" || !needLevel || level > 0);
      return seen.length >= 4 && seen.slice(-4).every((v) => v === value);
    },
    [peer, kind, moving, level],
  );
}

export async function resetSeen(...pages) {
  for (const p of pages) await p.eval(() => (window.__calls = {}));
}

export async function readyPair(server, host, guest, { relayGuest = false } = {}) {
  const link = await createRoom(host, server.url);
  if (relayGuest) {
    await guest.goto(server.url + "/");
    await guest.waitFor(() => document.body.dataset.view === "home");
    await guest.click("#hide-ip");
  }
  await guest.goto(link);
  await Promise.all([waitConnected(host), waitConnected(guest)]);
  await until(host, () => window.__ghostchatMesh?.links().length === 1);
  await until(guest, () => window.__ghostchatMesh?.links().length === 1);
}
