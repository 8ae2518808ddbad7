// Group rooms: four real browsers (Chromium and Firefox mixed) in a full mesh through the real
// server. Everyone sees everyone's messages and presence; a direct link cut between two members is
// bridged by a relay; the signaling server is killed (by PID) and started again on the same port
// mid-chat and the chat goes on, and a fifth member joins afterwards; 1,000 messages sent at once by
// all members while links are cut and restored arrive exactly once everywhere. Last: a member whose
// tab is hidden shows as away and online again; the host leaves with the Leave button and a member's
// page is closed, the others drop both and keep chatting. Before that, the host removes a member.
// Test hooks (`window.__ghostchatMesh`) exist only in the e2e test build (web/e2e-build, served from web/dist-e2e).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chromiumPage, E2E_DIST, firefoxPage, launchChromium, launchFirefox, send, setHidden, startServer, WAIT } from "./harness.mjs";

const LONG = 120_000;

/**
 * Polls on an interval, not on animation frames: Firefox tabs in one browser are hidden but one,
 * and hidden tabs get no animation frames (they are "away", which the test checks too).
 */
function until(p, fn, arg, timeout = LONG) {
  return p.kind === "playwright" ? p.page.waitForFunction(fn, arg, { polling: 100, timeout }) : p.page.waitForFunction(fn, { polling: 100, timeout }, arg);
}

function waitIncoming(p, text) {
  return until(p, (t) => [...document.querySelectorAll('#messages li[data-direction="in"] .msg-text')].some((e) => e.textContent === t), text, WAIT * 2);
}

async function waitReady(p) {
  await until(p, () => document.body.dataset.view === "chat" && !document.querySelector("#composer").disabled && !!window.__ghostchatMesh);
}

const id = (p) => p.eval(() => window.__ghostchatMesh.id());

async function waitLinks(p, n) {
  await until(p, (k) => window.__ghostchatMesh.links().length >= k, n);
}

/** Waits until `p`'s member list shows `peer` with this presence (`data-state`), or not at all (null). */
function waitShown(p, peer, state) {
  return until(
    p,
    ([x, st]) => {
      const li = [...document.querySelectorAll("#members li")].find((e) => e.dataset.peer === x);
      return st === null ? !li : li?.dataset.state === st;
    },
    [peer, state],
    WAIT,
  );
}

describe("Group room over a full mesh, four browsers", { timeout: 900_000 }, () => {
  let server, chromium, firefox, link;
  const pages = [];

  before(async () => {
    server = await startServer({}, undefined, { web: E2E_DIST });
    chromium = await launchChromium();
    firefox = await launchFirefox();
    const host = await chromiumPage(chromium);
    await host.goto(server.url + "/");
    await host.waitFor(() => document.body.dataset.view === "home");
    await host.click("#new-group");
    await until(host, () => document.body.dataset.view === "invite" && document.querySelector("#invite-link").value.includes("#join="));
    link = await host.eval(() => document.querySelector("#invite-link").value);
    pages.push(host);
    for (const make of [() => firefoxPage(firefox), () => chromiumPage(chromium), () => firefoxPage(firefox)]) {
      const p = await make();
      await p.goto(link);
      await waitReady(p);
      pages.push(p);
    }
    // The host's page turns to the chat when the first member is in.
    await waitReady(host);
    for (const p of pages) await waitLinks(p, 3);
  });

  after(async () => {
    await firefox?.close();
    await chromium?.close();
    await server?.stop();
  });

  it("groupLink_CarriesGroupAndTheSecretOnlyInTheFragment", () => {
    const url = new URL(link);
    assert.equal(url.searchParams.has("group"), true);
    assert.match(url.hash, /^#join=2\./);
  });

  it("everyone_SeesEveryoneDirectWithTheirPresenceAndEveryMessage", async () => {
    const ids = await Promise.all(pages.map(id));
    // Presence as each member reports it: "away" while its tab is hidden (other Firefox tabs are), else "online".
    const expected = Object.fromEntries(
      await Promise.all(pages.map(async (p, i) => [ids[i], (await p.eval(() => document.visibilityState)) === "visible" ? "online" : "away"])),
    );
    for (const [i, p] of pages.entries()) {
      const want = ids.filter((_, k) => k !== i).map((o) => [o, expected[o]]);
      await until(
        p,
        (w) => {
          const shown = [...document.querySelectorAll("#members li")];
          return w.every(([o, st]) => shown.some((li) => li.dataset.peer === o && li.dataset.path === "direct" && li.dataset.state === st));
        },
        want,
      );
    }
    assert.ok(Object.values(expected).includes("online"));
    for (const [i, p] of pages.entries()) await send(p, `hello from member ${i}`);
    for (const [i, p] of pages.entries()) for (let k = 0; k < pages.length; k++) if (k !== i) await waitIncoming(p, `hello from member ${k}`);
    // Per-recipient receipts: the host's message ends delivered to all three, and read by those whose tab is visible.
    const readers = Object.entries(expected).filter(([o, st]) => o !== ids[0] && st === "online").length;
    await until(
      pages[0],
      (n) => {
        const li = [...document.querySelectorAll('#messages li[data-direction="out"]')].find(
          (x) => x.querySelector(".msg-text").textContent === "hello from member 0",
        );
        return li && li.dataset.delivered === "3" && li.dataset.read === String(n) && li.dataset.total === "3";
      },
      readers,
    );
  });

  it("directLinkCut_MessagesArriveThroughARelay", async () => {
    const [, b, c] = pages;
    const [bId, cId] = [await id(b), await id(c)];
    await b.eval((x) => window.__ghostchatMesh.cut(x), cId);
    await c.eval((x) => window.__ghostchatMesh.cut(x), bId);
    await until(b, (x) => window.__ghostchatMesh.members().find((m) => m.id === x)?.path === "relay", cId);
    await until(b, (x) => document.querySelector(`#members li[data-peer="${x}"]`)?.dataset.path === "relay", cId);
    await send(b, "around the cut");
    await waitIncoming(c, "around the cut");
    await send(c, "and back");
    await waitIncoming(b, "and back");
    const relayed = await Promise.all(pages.map((p) => p.eval(() => window.__ghostchatMesh.stats().relayed)));
    assert.ok(relayed.reduce((a, x) => a + x, 0) > 0, `relayed counts ${relayed}`);
    assert.equal(await c.eval((x) => window.__ghostchatMesh.links().includes(x), bId), false);
    await b.eval((x) => window.__ghostchatMesh.restore(x), cId);
    await c.eval((x) => window.__ghostchatMesh.restore(x), bId);
    await until(b, (x) => window.__ghostchatMesh.links().includes(x), cId);
  });

  it("signalingKilledAndRestarted_ChatGoesOnAndANewMemberJoins", async () => {
    const port = server.port;
    await server.stop(); // SIGTERM to its PID
    for (const p of pages) await until(p, () => document.querySelector("#group-signaling").dataset.signaling !== "online");
    await send(pages[3], "no server, still chatting");
    for (const p of pages.slice(0, 3)) await waitIncoming(p, "no server, still chatting");
    server = await startServer({}, port, { web: E2E_DIST });
    for (const p of pages) await until(p, () => document.querySelector("#group-signaling").dataset.signaling === "online");
    const late = await chromiumPage(chromium);
    await late.goto(link);
    await waitReady(late);
    pages.push(late);
    await waitLinks(late, 4);
    await send(pages[1], "welcome, late one");
    await waitIncoming(late, "welcome, late one");
    // It sees only what was sent after it joined (no backfill).
    const texts = await late.eval(() => [...document.querySelectorAll("#messages li .msg-text")].map((e) => e.textContent));
    assert.deepEqual(texts, ["welcome, late one"]);
  });

  it("thousandMessagesWhileLinksFlap_ArriveExactlyOnceEverywhere", async () => {
    const per = 200; // five members × 200 = 1,000
    const ids = await Promise.all(pages.map(id));
    const relayedBefore = (await Promise.all(pages.map((p) => p.eval(() => window.__ghostchatMesh.stats().relayed)))).reduce((a, x) => a + x, 0);
    const sending = pages.map((p, i) =>
      p.eval(
        async ([i, per]) => {
          for (let k = 0; k < per; k++) {
            window.__ghostchatMesh.send(`bulk ${i}/${k}`);
            if (k % 10 === 0) await new Promise((r) => setTimeout(r, 250)); // spread over the cuts below
          }
        },
        [i, per],
      ),
    );
    // Meanwhile: cut and restore links (both sides), one pair after another.
    for (const [x, y] of [
      [0, 1],
      [2, 3],
      [1, 4],
      [0, 3],
    ]) {
      await pages[x].eval((p) => window.__ghostchatMesh.cut(p), ids[y]);
      await pages[y].eval((p) => window.__ghostchatMesh.cut(p), ids[x]);
      await new Promise((r) => setTimeout(r, 1500));
      await pages[x].eval((p) => window.__ghostchatMesh.restore(p), ids[y]);
      await pages[y].eval((p) => window.__ghostchatMesh.restore(p), ids[x]);
    }
    await Promise.all(sending);
    const expected = () => pages.length * per - per;
    for (const [i, p] of pages.entries()) {
      await until(
        p,
        (n) => [...document.querySelectorAll('#messages li[data-direction="in"] .msg-text')].filter((e) => e.textContent.startsWith("bulk ")).length >= n,
        expected(),
        300_000,
      );
      const got = await p.eval(() =>
        [...document.querySelectorAll('#messages li[data-direction="in"] .msg-text')].map((e) => e.textContent).filter((t) => t.startsWith("bulk ")),
      );
      assert.equal(got.length, expected(), `member ${i} got ${got.length}`);
      assert.equal(new Set(got).size, got.length, `member ${i} got duplicates`);
      // Per-sender order.
      const bySender = new Map();
      for (const t of got) {
        const [s, k] = t.slice(5).split("/").map(Number);
        assert.ok(k > (bySender.get(s) ?? -1), `member ${i}: ${t} out of order`);
        bySender.set(s, k);
      }
    }
    for (const p of pages) await until(p, () => window.__ghostchatMesh.pending() === 0);
    const relayedAfter = (await Promise.all(pages.map((p) => p.eval(() => window.__ghostchatMesh.stats().relayed)))).reduce((a, x) => a + x, 0);
    assert.ok(relayedAfter > relayedBefore, "some of the bulk went through relays while links were cut");
    const errors = pages.flatMap((p) => p.errors).filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource|peer/i.test(e));
    assert.deepEqual(errors, []);
  });

  // Issue 15 item 6: the host removes a member. The room moves to a new epoch without it (signed
  // by the host's key), the member is told, the others drop it, and the link it came with is revoked.
  it("hostRemovesAMember_ItIsToldTheOthersDropIt_ItsLinkStopsWorking", async () => {
    const extra = await chromiumPage(chromium);
    await extra.goto(link);
    await waitReady(extra);
    const extraId = await id(extra);
    for (const p of pages) await waitShown(p, extraId, "online");
    const [host] = pages;
    // Only the host has Remove buttons.
    assert.equal(await pages[1].eval(() => document.querySelectorAll("#members .member-remove").length), 0);
    await host.eval(
      (x) =>
        [...document.querySelectorAll("#members li")]
          .find((e) => e.dataset.peer === x)
          .querySelector(".member-remove")
          .click(),
      extraId,
    );
    await until(extra, () => document.body.dataset.view === "error" && document.querySelector("#view-error").dataset.kind === "removed");
    assert.match(await extra.eval(() => document.querySelector("#error-title").textContent), /removed from the room/);
    for (const p of pages) await waitShown(p, extraId, null);
    // The host's notice follows once its removal is done (the new epoch signed and sent, the link revoked),
    // which may be after the others have dropped the member.
    await until(host, () => /was removed from the room/.test(document.querySelector("#room-notice").textContent));
    const again = await chromiumPage(chromium);
    await again.goto(link);
    await until(again, () => document.body.dataset.view === "error" && !!document.querySelector("#error-body").dataset.refusal);
    assert.equal(await again.eval(() => document.querySelector("#error-body").dataset.refusal), "revoked");
    await again.context.close();
    await extra.context.close();
  });

  it("tabHidden_OthersSeeAwayThenOnline", async () => {
    const ids = await Promise.all(pages.map(id));
    // Chromium: each member has a browser context of its own, so its tab stays visible; this simulates
    // hiding it (the app's code path: the visibilitychange listener in ui/group.ts reading visibilityState).
    const c = 2;
    const others = pages.filter((_, k) => k !== c);
    for (const p of others) await waitShown(p, ids[c], "online");
    await setHidden(pages[c], true);
    for (const p of others) await waitShown(p, ids[c], "away");
    await setHidden(pages[c], false);
    for (const p of others) await waitShown(p, ids[c], "online");
    // Firefox: members 1 and 3 are tabs of one browser, only one of them visible; a real tab switch
    // hides the other (no simulation here).
    const vis = await Promise.all([1, 3].map((k) => pages[k].eval(() => document.visibilityState)));
    const [front, back] = vis[0] === "visible" ? [1, 3] : [3, 1];
    assert.deepEqual(vis.slice().sort(), ["hidden", "visible"], `Firefox tabs: ${vis}`);
    await pages[back].page.bringToFront();
    await until(pages[back], () => document.visibilityState === "visible");
    for (const [k, p] of pages.entries()) {
      if (k !== back) await waitShown(p, ids[back], "online");
      if (k !== front) await waitShown(p, ids[front], "away");
    }
  });

  // Last: the host and another member are gone afterwards.
  it("hostLeavesAndAPageCloses_OthersDropThemAndKeepChatting", async () => {
    const ids = await Promise.all(pages.map(id));
    const [host] = pages;
    assert.equal(await host.eval(() => document.body.dataset.view), "chat");
    await host.click("#leave"); // the app's Leave button, not closing the page
    await until(host, () => document.body.dataset.view === "home");
    for (const p of pages.slice(1)) await waitShown(p, ids[0], null);
    // Member 4's tab is closed (no Leave button; the page's pagehide is all it gets).
    const gone = pages[4];
    await gone.page.close();
    const rest = pages.slice(1, 4);
    const restIds = ids.slice(1, 4);
    for (const p of rest) await waitShown(p, ids[4], null);
    for (const [i, p] of rest.entries()) {
      const shown = await p.eval(() => [...document.querySelectorAll("#members li")].map((e) => e.dataset.peer));
      assert.deepEqual(shown.sort(), restIds.filter((_, k) => k !== i).sort(), `member ${i + 1}'s list`);
      assert.match(await p.eval(() => document.querySelector("#members-count").textContent), /3/);
    }
    const text = (i) => `still here, member ${i + 1}`;
    for (const [i, p] of rest.entries()) await send(p, text(i));
    for (const [i, p] of rest.entries()) for (let k = 0; k < rest.length; k++) if (k !== i) await waitIncoming(p, text(k));
    // Everything acknowledged (nothing is left to resend), then each message is shown exactly once,
    // sent to the two remaining members only and delivered to both.
    for (const p of rest) await until(p, () => window.__ghostchatMesh.pending() === 0);
    for (const [i, p] of rest.entries()) {
      const got = await p.eval(() =>
        [...document.querySelectorAll("#messages li .msg-text")].map((e) => e.textContent).filter((t) => t.startsWith("still here")),
      );
      assert.deepEqual(got.slice().sort(), rest.map((_, k) => text(k)).sort(), `member ${i + 1} shows each once`);
      await until(
        p,
        (t) => {
          const li = [...document.querySelectorAll('#messages li[data-direction="out"]')].find((x) => x.querySelector(".msg-text").textContent === t);
          return li && li.dataset.total === "2" && li.dataset.delivered === "2";
        },
        text(i),
      );
    }
    const errors = rest.flatMap((p) => p.errors).filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource|peer/i.test(e));
    assert.deepEqual(errors, []);
  });
});
