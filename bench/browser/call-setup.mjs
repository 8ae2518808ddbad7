// One call set-up, measured the same way on loopback (bench/browser/calls.mjs) and in the network lab
// (lab/calls-bench.mjs): in a 1:1 room whose link is up, the host starts a video call, the guest sees
// it and clicks "Join with video"; from that click (a capturing listener stamps it) to the first video
// frame decoded on the host's side (its getStats polled back to back in the page: inbound-rtp
// framesDecoded > 0). Covers getUserMedia, the renegotiation over the data channel and the first key
// frame. Pages are Playwright pages of the e2e build (window.__ghostchatMesh); both stamp with
// performance.timeOrigin + performance.now(), so they must run on one machine (one clock).

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function poll(page, fn, arg, every, timeout) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await page.evaluate(fn, arg);
    if (value) return value;
    if (Date.now() > end) throw new Error(`condition not met within ${timeout} ms: ${String(fn).slice(0, 120)}`);
    await sleep(every);
  }
}

/** Milliseconds from the guest's click on "Join with video" to the host's first decoded frame of it. */
export async function callSetupMs(host, guest, { timeout = 120_000 } = {}) {
  const wait = (page, fn, arg) => page.waitForFunction(fn, arg, { polling: 10, timeout });
  await wait(guest, () => window.__ghostchatMesh?.links().length === 1);
  await wait(host, () => window.__ghostchatMesh?.links().length === 1);
  const [guestId] = await host.evaluate(() => window.__ghostchatMesh.links());
  await host.click("#call-video");
  await wait(guest, () => document.querySelector("#call")?.dataset.members === "1");
  await guest.evaluate(() =>
    document.querySelector("#call-video").addEventListener("click", () => (window.__clickedAt = performance.timeOrigin + performance.now()), { capture: true }),
  );
  // The host notes when it first sees a decoded frame (each getStats takes a few ms: the error bound).
  await host.evaluate((id) => {
    const check = () =>
      window.__ghostchatMesh.rtp(id).then((r) => {
        if (r.some((s) => s.type === "inbound-rtp" && s.kind === "video" && s.framesDecoded > 0)) window.__decodedAt = performance.timeOrigin + performance.now();
        else setTimeout(check, 5);
      });
    void check();
  }, guestId);
  await guest.click("#call-video");
  const decodedAt = await poll(host, () => window.__decodedAt, undefined, 50, timeout);
  const clickedAt = await guest.evaluate(() => window.__clickedAt);
  return decodedAt - clickedAt;
}

/** p50, p95 (nearest rank), min, max and count of `values`. */
export function setupStats(values) {
  const s = [...values].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return { p50: q(0.5), p95: q(0.95), min: s[0], max: s[s.length - 1], n: s.length };
}
