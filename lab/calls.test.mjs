// Calls through real network trouble in the lab (issue 17): a 1:1 video call between two Chromiums
// with fake devices. Across NATs: two cone NATs connect directly, a cone and a symmetric NAT through
// the embedded TURN server, and so does Firefox behind the symmetric NAT joining a Chromium on the
// cone side; each time each side decodes the other's video. Then, both behind cone
// NATs: (a) Every path is cut for 25 s in the routers: the call
// tile shows "reconnecting" while it recovers, and afterwards frames are decoded again on both sides
// without anyone clicking. (b) The host's uplink is limited in its router (iptables hashlimit, a
// token bucket that drops above the rate): the host's sending rate goes down below the limit, its
// video pauses with a notice while audio goes on, and video comes back once the limit is lifted. Only what the page shows is read: the
// call tile's data attributes (ui/call.ts renders them from getStats once a second).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FIREFOX_NOTICES, newPage, poll, waitPath } from "./browser.mjs";
import { labUnavailableReason } from "./netlab.mjs";
import { openRoom } from "./pair.mjs";
import { labSuite } from "./suite.mjs";

const skip = labUnavailableReason();
const FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const remoteTile = () => document.querySelector('#call-grid figure.call-tile:not([data-peer="self"])');
const frames = (page) => page.evaluate(() => Number(document.querySelector('#call-grid figure.call-tile:not([data-peer="self"])')?.dataset.framesDecoded ?? 0));

/** Frames decoded from the other side rise (two readings a few seconds apart). */
async function framesRising(page, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  let last = await frames(page);
  for (;;) {
    await sleep(2000);
    const now = await frames(page);
    if (now > last) return now;
    last = now;
    if (Date.now() > end) throw new Error(`${what}: no new frames within ${timeoutMs} ms`);
  }
}

describe("network lab: calls", { skip: skip ?? false }, () => {
  const env = labSuite(["cone", "cone", "symmetric"]);

  /** In a new 1:1 room of `host` and `guest` (pages), a video call, decoded both ways. */
  async function videoCall(host, guest) {
    await openRoom(host, [guest], env.url, "room");
    await host.click("#call-video");
    await poll(guest, () => Number(document.querySelector("#call")?.dataset.members) >= 1, null, 30_000, "guest sees the call");
    await guest.click("#call-video");
    await framesRising(host, 60_000, "host decodes the guest");
    await framesRising(guest, 60_000, "guest decodes the host");
  }

  /** A video call between Chromiums, the host on side `hostSide`, the guest on `guestSide`, decoded both ways. */
  async function call(hostSide = 1, guestSide = 2) {
    const browsers = [await env.lab.launchChromium(hostSide, FAKE_MEDIA), await env.lab.launchChromium(guestSide, FAKE_MEDIA)];
    const [host, guest] = await Promise.all(browsers.map((b) => newPage(b)));
    await videoCall(host.page, guest.page);
    const close = async () => {
      for (const b of browsers) await b.close().catch(() => undefined);
    };
    return { host, guest, close };
  }

  /** The path each side's quality indicator reports for the call's link (the link the media uses). */
  const paths = async ({ host, guest }) => [(await waitPath(host.page)).path, (await waitPath(guest.page)).path];

  it("coneToCone_VideoCall_DirectBothWays_BothDecode", { timeout: 180_000 }, async (t) => {
    const c = await call(1, 2);
    try {
      const p = await paths(c);
      t.diagnostic(`paths host/guest: ${p.join(" / ")}`);
      for (const x of p) assert.equal(x, "direct-udp");
      for (const x of [c.host, c.guest]) assert.deepEqual(x.errors, []);
    } finally {
      await c.close();
    }
  });

  it("coneToSymmetric_VideoCall_ThroughTurn_BothDecode", { timeout: 180_000 }, async (t) => {
    const c = await call(1, 3);
    try {
      const p = await paths(c);
      t.diagnostic(`paths host/guest: ${p.join(" / ")}`);
      // No direct path through a symmetric NAT here: the link, and so the call, is relayed.
      for (const x of p) assert.match(x, /^relay-/);
      for (const x of [c.host, c.guest]) assert.deepEqual(x.errors, []);
    } finally {
      await c.close();
    }
  });

  it("firefoxBehindSymmetric_JoinsChromiumOnCone_VideoCall_ThroughTurn_BothDecode", { timeout: 240_000 }, async (t) => {
    const chromium = await env.lab.launchChromium(1, FAKE_MEDIA);
    const host = await newPage(chromium);
    const firefox = await env.lab.launchFirefox(3);
    try {
      assert.match(await firefox.page.evaluate(() => navigator.userAgent), /Firefox\//);
      await videoCall(host.page, firefox.page);
      const p = [(await waitPath(host.page)).path, (await waitPath(firefox.page)).path];
      t.diagnostic(`paths Chromium host/Firefox guest: ${p.join(" / ")}`);
      for (const x of p) assert.match(x, /^relay-/);
      assert.deepEqual([...host.errors, ...(await firefox.errors()).filter((e) => !FIREFOX_NOTICES.test(e))], []);
    } finally {
      await chromium.close().catch(() => undefined);
      await firefox.close();
    }
  });

  it("cut25s_OneToOneVideoCall_ShowsReconnecting_ThenFramesFlowAgainBothWays", { timeout: 240_000 }, async (t) => {
    const { host, guest, close } = await call();
    try {
      const framesBefore = await frames(guest.page);
      env.lab.cutPaths();
      const cutAt = Date.now();
      await poll(guest.page, () => document.querySelector('#call-grid figure.call-tile:not([data-peer="self"])')?.dataset.state === "reconnecting", null, 25_000, "guest's tile shows reconnecting");
      await poll(host.page, () => document.querySelector('#call-grid figure.call-tile:not([data-peer="self"])')?.dataset.state === "reconnecting", null, 25_000, "host's tile shows reconnecting");
      await sleep(Math.max(0, 25_000 - (Date.now() - cutAt)));
      const dropped = [1, 2].map((i) => env.lab.cutDrops(i));
      env.lab.restorePaths();
      const restoredAt = Date.now();
      await framesRising(guest.page, 90_000, "guest decodes the host again");
      await framesRising(host.page, 90_000, "host decodes the guest again");
      // The counters go on from where they were when the same connection came back (ICE restart), and
      // start again from zero on a new one (redial): printed, not asserted (either is recovery).
      const framesAfter = await frames(guest.page);
      t.diagnostic(
        `restore → frames flowing again both ways: ${((Date.now() - restoredAt) / 1000).toFixed(1)} s (includes a 2 s reading); ${framesAfter > framesBefore ? "same connection (ICE restart)" : "new connection (redial)"}: frames decoded ${framesBefore} before the cut, ${framesAfter} after`,
      );
      for (const d of dropped) assert.ok(d > 0, "the cut dropped packets");
      for (const p of [host, guest]) {
        assert.equal(await p.page.evaluate(() => document.querySelector("#call").dataset.joined), "true");
        await poll(p.page, () => document.querySelector('#call-grid figure.call-tile:not([data-peer="self"])')?.dataset.state === "up", null, 30_000, "tile back up");
        assert.deepEqual(p.errors, []);
      }
    } finally {
      env.lab.restorePaths();
      await close();
    }
  });

  it("uplinkLimited_SenderLowersItsBitrate_VideoPausesAudioGoesOn_ThenRecovers", { timeout: 240_000 }, async (t) => {
    const { host, guest, close } = await call();
    const router = env.lab.side(1).router;
    const LIMIT_BYTES = 12_000; // 96 kbit/s from the host's network: too little for video
    let limited = false;
    try {
      // Video flows first (over 150 kbit/s), so that going down is the limit's doing.
      const before = await poll(
        host.page,
        () => {
          const bps = Number(document.querySelector('#call-grid figure.call-tile:not([data-peer="self"])')?.dataset.sendBps ?? 0);
          return bps > 150_000 ? bps : 0;
        },
        null,
        60_000,
        "the host sends video before the limit",
      );
      limited = true;
      env.lab.exec(router, "iptables", [
        "-w", "-I", "FORWARD", "1", "-i", "lan", "-o", "wan",
        "-m", "hashlimit", "--hashlimit-above", `${LIMIT_BYTES / 1000}kb/s`, "--hashlimit-burst", `${LIMIT_BYTES / 1000}kb`, "--hashlimit-name", "gccall",
        "-j", "DROP",
      ]);
      const after = await poll(
        host.page,
        (limit) => {
          const bps = Number(document.querySelector('#call-grid figure.call-tile:not([data-peer="self"])')?.dataset.sendBps ?? 0);
          return bps > 0 && bps < limit ? bps : 0;
        },
        LIMIT_BYTES * 8,
        90_000,
        "the host's sending rate under the limit",
      );
      t.diagnostic(`host sends ${(before / 1000).toFixed(0)} kbit/s before the limit, ${(after / 1000).toFixed(0)} kbit/s under a ${(LIMIT_BYTES * 8) / 1000} kbit/s limit`);
      // The call stays up: the guest keeps receiving from the host (audio at least: below 100 kbit/s
      // for video, video pauses and audio goes on).
      await sleep(5000);
      const receiving = await poll(
        guest.page,
        () => Number(document.querySelector('#call-grid figure.call-tile:not([data-peer="self"])')?.dataset.receiveBps ?? 0),
        null,
        30_000,
        "the guest still receives from the host",
      );
      t.diagnostic(`the guest receives ${(receiving / 1000).toFixed(0)} kbit/s from the host under the limit; video paused at the host: ${await host.page.evaluate(() => document.querySelector("#call").dataset.videoPaused)}`);
      assert.ok(before > after, `the rate went down (${before} → ${after})`);
      // Too little for video: the host pauses it and says so, audio goes on (above).
      await poll(host.page, () => document.querySelector("#call").dataset.videoPaused === "true" && !document.querySelector("#call-notice").hidden, null, 30_000, "video paused with a notice");
      // The link recovers: video comes back (the paused sender probes now and then).
      env.lab.exec(router, "iptables", ["-w", "-D", "FORWARD", "1"]);
      limited = false;
      const liftedAt = Date.now();
      await poll(host.page, () => document.querySelector("#call").dataset.videoPaused === "false", null, 90_000, "video resumes once the limit is gone");
      await framesRising(guest.page, 30_000, "the guest decodes the host's video again");
      t.diagnostic(`limit lifted → video back: ${((Date.now() - liftedAt) / 1000).toFixed(1)} s`);
      assert.equal(await guest.page.evaluate(() => document.querySelector("#call").dataset.joined), "true");
      assert.deepEqual([...host.errors, ...guest.errors], []);
    } finally {
      if (limited) env.lab.exec(router, "iptables", ["-w", "-D", "FORWARD", "1"]);
      await close();
    }
  });
});
