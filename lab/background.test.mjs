// A phone puts the page in the background while its network goes away and comes back (issue 20):
// in a 1:1 room, B's page is hidden (visibility emulated: document.visibilityState and
// `visibilitychange`, as the e2e tests do) and frozen (its JavaScript paused through the DevTools
// protocol: no timers, no handlers, as a phone does to a background tab; see `background`) while
// every path between the browsers and to TURN is cut in the routers, restored, and then some time
// passes with the network back and B still away. A writes all along; B wrote one message just before
// it went away. Then B is shown: its JavaScript runs again and it is visible (`visibilitychange`). Recovery must
// start at once: the times from shown to B's chat connected again, to the first outstanding message
// delivered and to all of them are measured and printed (# lines), not asserted (a slow machine
// fails no test). Asserted: the cut was real, nothing reached B while it was away, every message
// arrived exactly once and in order both ways, nothing said anyone left, A showed reconnecting.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { labUnavailableReason } from "./netlab.mjs";
import { openRoom } from "./pair.mjs";
import { labSuite } from "./suite.mjs";
import { Chat, people, secs } from "./recovery.mjs";

const skip = labUnavailableReason();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * B goes to the background: hidden first (the page hears it, as on a phone), then frozen. Chromium
 * does not freeze a page it shows (Page.setWebLifecycleState "frozen" is accepted and ignored on a
 * visible tab, and a headless tab is always visible), so the page's JavaScript is paused through the
 * DevTools protocol's debugger instead: no timer, event or message handler of the page runs, as in a
 * phone's background, while the browser's network stack below goes on (ICE, SCTP, the WebSocket).
 */
async function background(page, cdp) {
  await page.evaluate(() => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await cdp.send("Debugger.enable");
  const paused = new Promise((r) => cdp.once("Debugger.paused", r));
  await cdp.send("Debugger.pause");
  await paused; // the page's next statement: its timers run every few hundred ms
}

/**
 * B comes back: its JavaScript runs again (what queued meanwhile runs first, as when a phone thaws a
 * page), then it is shown (`visibilitychange`; WebKit sends no `resume`, so neither does this). Returns
 * when that started.
 */
async function foreground(page, cdp) {
  const at = Date.now();
  await cdp.send("Debugger.resume");
  await cdp.send("Debugger.disable");
  await page.evaluate(() => {
    delete document.visibilityState; // the real getters again
    delete document.hidden;
    document.dispatchEvent(new Event("visibilitychange"));
  });
  return at;
}

describe("network lab: back from the background after the network came back", { skip: skip ?? false }, () => {
  const env = labSuite(["cone", "cone"]);

  it("hiddenAndFrozenThroughACut_Shown_RecoveryStartsAtOnce_EveryMessageOnceBothWays", { timeout: 240_000 }, async (t) => {
    const CUT_MS = 20_000;
    const AWAY_AFTER_RESTORE_MS = 10_000;
    const EVERY_MS = 1500;
    const ps = await people(env.lab, [
      [1, "chromium", "A"],
      [2, "chromium", "B"],
    ]);
    const [a, b] = ps;
    try {
      await openRoom(a.page, [b.page], env.url, "room");
      const chat = new Chat(ps, { kind: "room" });
      await chat.settle();
      const cdp = await b.page.context().newCDPSession(b.page);
      await chat.write("A", "A·before");
      await chat.write("B", "B·before");

      env.lab.cutPaths();
      const cutAt = Date.now();
      let k = 0;
      const writeA = async (until) => {
        while (Date.now() < until) {
          assert.ok(await chat.write("A", `A·${++k}`), `A could write A·${k}`);
          await sleep(EVERY_MS);
        }
      };
      await writeA(cutAt + 3000);
      // B writes one just before it goes away: it has no path now, so it waits in B's outbox.
      assert.ok(await chat.write("B", "B·as it left"), "B could write before going away");
      await background(b.page, cdp);
      const awayAt = Date.now();
      await writeA(cutAt + CUT_MS);
      const dropped = [1, 2].map((i) => env.lab.cutDrops(i));
      env.lab.restorePaths();
      const restoredAt = Date.now();
      await writeA(restoredAt + AWAY_AFTER_RESTORE_MS);

      const shownAt = await foreground(b.page, cdp);
      const { snap, complete, missing } = await chat.waitDelivered(120_000);
      const r = { snap, complete, missing };

      const resume = chat.resumeTimes(snap, shownAt);
      // B's status after it came back: connected again, or connected all along (the link lived through
      // the cut: ICE found its path again under the frozen page, and what was queued is delivered at once).
      const before = snap.B.states.filter((s) => s.at < shownAt).at(-1);
      const after = snap.B.states.filter((s) => s.at >= shownAt);
      const connected = after.length === 0 ? (before?.phase === "connected" ? { at: shownAt } : null) : after.find((s) => s.phase === "connected");
      const connectedMs = connected ? connected.at - shownAt : null;
      const how = after.some((s) => s.phase === "reconnecting") ? "the link was made again" : "the link lived through it";
      // The first thing B's page showed after it came back (its status or member list changing).
      const firstChange = snap.B.states.find((s) => s.at >= shownAt);
      const whileAway = snap.B.arrivals.filter((x) => x.at < shownAt && x.at >= awayAt).map((x) => x.text);
      t.diagnostic(
        `B away ${secs(shownAt - awayAt)} (cut ${secs(CUT_MS)}, then ${secs(shownAt - restoredAt)} with the network back); A wrote ${chat.accepted("A").length}; cut dropped ${dropped.join("/")} packets per router`,
      );
      t.diagnostic(
        `${how}; shown → B's page first changed ${secs(firstChange ? firstChange.at - shownAt : null)} (to ${firstChange?.phase ?? "–"}); shown → B connected ${secs(connectedMs)}; shown → first outstanding message delivered ${secs(resume.firstMs)}, all ${resume.outstanding} delivered ${secs(resume.allMs)}`,
      );
      t.diagnostic(`reconnecting shown: ${JSON.stringify(chat.reconnectingShown(snap))}; left shown: ${JSON.stringify(chat.leftShown(snap))}`);

      assert.ok(dropped.every((n) => n > 0), `the cut dropped packets in every router: ${dropped.join("/")}`);
      assert.deepEqual(whileAway, [], "nothing reached B while it was away");
      assert.ok(resume.outstanding > 0, "messages were outstanding when B came back");
      assert.deepEqual(chat.problems(r), [], "every write taken, nobody shown as left, every message exactly once and in order, both ways");
      assert.ok(connected, "B shows connected after it came back");
      assert.equal(snap.B.states.at(-1)?.phase, "connected", "B ends connected");
      assert.ok(chat.reconnectingShown(snap).A.includes("status"), "A showed reconnecting");
      for (const p of ps) assert.deepEqual(await p.errors(), [], `${p.name}'s page errors`);
    } finally {
      env.lab.restorePaths();
      await Promise.all(ps.map((p) => p.close().catch(() => undefined)));
    }
  });
});
