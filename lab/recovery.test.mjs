// Real network changes in the lab (issue 14): people keep writing through the UI while (a) every path
// between the browsers and to TURN is dropped for 25 s in the routers, (b) one browser moves to
// another network (new LAN subnet, new public address, NAT mappings gone), (c) the signaling server is
// stopped by its PID and started again. Every message must arrive exactly once, in order, at every
// other member; nothing may say a person left; after (c) a new person joins with an invite.
// Group rooms of three (Chromium and Firefox mixed) and 1:1 rooms (Chromium ↔ Firefox), both on the one
// room engine. Times to resume are printed (# lines), not asserted.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ROOM_UI, waitInRoom } from "./browser.mjs";
import { labUnavailableReason } from "./netlab.mjs";
import { openRoom } from "./pair.mjs";
import { labSuite } from "./suite.mjs";
import { Chat, cutRound, moveRound, people, restartRound, secs } from "./recovery.mjs";

const skip = labUnavailableReason();
const ONE_TO_ONE = {};
const TEST_TIMEOUT = 240_000;

describe("network lab: real network changes mid-chat", { skip: skip ?? false }, () => {
  // Sides: 1 cone, 2 cone (Firefox), 3 symmetric (its links go through TURN), 4 cone. Firefox on side 2, Chromium elsewhere.
  const SIDES = ["cone", "cone", "symmetric", "cone"];
  const env = labSuite(SIDES);

  /** [[side, name], …] → people, in the side's browser. */
  const cast = (spec) => people(env.lab, spec.map(([side, name]) => [side, side === 2 ? "firefox" : "chromium", name]));
  const closeAll = (ps) => Promise.all(ps.map((p) => p.close().catch(() => undefined)));
  const who = (ps) => ps.map((p) => `${p.name}=${p.browser}@${SIDES[p.side - 1]}`).join(" ");

  /**
   * The checks every scenario shares, in one assertion so a failure lists everything at once: every
   * write taken, nothing said a person left, everything arrived exactly once, in order, everywhere.
   */
  function assertDelivered(chat, r) {
    assert.deepEqual(chat.problems(r), [], "every write taken, nobody shown as left, every message exactly once and in order at every other member");
  }

  // ---- (a) every path cut for 25 s --------------------------------------------------------------

  async function cutScenario(t, kind, spec) {
    const ps = await cast(spec);
    try {
      await openRoom(ps[0].page, ps.slice(1).map((p) => p.page), env.url, kind);
      const chat = new Chat(ps, { kind });
      await chat.settle();
      const r = await cutRound(env.lab, chat, { cutMs: 25_000 });
      const written = ps.map((p) => chat.written.get(p.name).length).join("/");
      t.diagnostic(`${kind} ${who(ps)}: written ${written}; cut dropped ${r.dropped.join("/")} packets per router; after the restore: first outstanding message in ${secs(r.resume.firstMs)}, all ${r.resume.outstanding} in ${secs(r.resume.allMs)}`);
      t.diagnostic(`reconnecting shown: ${JSON.stringify(chat.reconnectingShown(r.snap))}; left shown: ${JSON.stringify(chat.leftShown(r.snap))}; refused writes: ${chat.refusedWrites().length}; missing: ${r.missing.length}; through the cut: ${JSON.stringify(r.through)}`);
      // The cut was real: every router dropped packets and nothing written during it got through.
      for (const p of ps) assert.ok(r.dropped[p.side - 1] > 0, `the cut dropped nothing in side ${p.side}'s router`);
      assert.deepEqual(r.through, [], "nothing written during the cut got through it");
      assertDelivered(chat, r);
      assert.deepEqual(chat.missingReconnecting(r.snap), [], "each page showed reconnecting");
      for (const p of ps) assert.deepEqual(await p.errors(), [], `${p.name}'s page errors`);
    } finally {
      env.lab.restorePaths();
      await closeAll(ps);
    }
  }

  it("cut25s_Group3_ChromiumFirefoxChromiumViaTurn_EveryMessageOnceInOrder_ReconnectingNeverLeft", { timeout: TEST_TIMEOUT }, (t) =>
    cutScenario(t, "group", [[1, "A"], [2, "B"], [3, "C"]]));

  it("cut25s_OneToOne_ChromiumHostFirefoxGuest_EveryMessageOnceInOrder_ReconnectingNeverLeft", { timeout: TEST_TIMEOUT, ...ONE_TO_ONE }, (t) =>
    cutScenario(t, "room", [[1, "A"], [2, "B"]]));

  // ---- (b) one browser's address changes ---------------------------------------------------------

  async function moveScenario(t, kind, spec, moverSide) {
    const ps = await cast(spec);
    try {
      await openRoom(ps[0].page, ps.slice(1).map((p) => p.page), env.url, kind);
      const chat = new Chat(ps, { kind });
      await chat.settle();
      const mover = ps.find((p) => p.side === moverSide);
      const r = await moveRound(env.lab, chat, moverSide, mover.name);
      t.diagnostic(`${kind} ${who(ps)}: ${mover.name} moved to LAN ${r.addresses.clientIp}, public ${r.addresses.wanIp} (was ${r.addresses.oldWan}); first message to or from it after the move arrived in ${secs(r.after.firstMs)}, the longest wait of one written after the move ${secs(r.after.longestMs)}`);
      t.diagnostic(`reconnecting shown: ${JSON.stringify(chat.reconnectingShown(r.snap))}; left shown: ${JSON.stringify(chat.leftShown(r.snap))}; refused writes: ${chat.refusedWrites().length}; missing: ${r.missing.length}`);
      assertDelivered(chat, r);
      for (const p of ps) assert.deepEqual(await p.errors(), [], `${p.name}'s page errors`);
    } finally {
      await closeAll(ps);
    }
  }

  it("addressChange_Group3_FirefoxMoves_ChatResumesByItself_EveryMessageOnce", { timeout: TEST_TIMEOUT }, (t) =>
    moveScenario(t, "group", [[1, "A"], [2, "B"], [4, "C"]], 2));

  it("addressChange_OneToOne_ChromiumGuestMoves_ChatResumesByItself_EveryMessageOnce", { timeout: TEST_TIMEOUT, ...ONE_TO_ONE }, (t) =>
    moveScenario(t, "room", [[2, "A"], [1, "B"]], 1));

  // ---- (c) the signaling server restarts -------------------------------------------------------

  async function restartScenario(t, kind, spec, newcomerSide) {
    const ps = await cast(spec);
    const late = [];
    try {
      const link = await openRoom(ps[0].page, ps.slice(1).map((p) => p.page), env.url, kind);
      const chat = new Chat(ps, { kind });
      await chat.settle();
      const r = await restartRound(env.lab, chat);
      t.diagnostic(`${kind} ${who(ps)}: server PID ${r.pids[0]} stopped, PID ${r.pids[1]} ready ${secs(r.startedAt - r.stoppedAt)} later; first message written after the stop arrived ${secs(r.after.firstMs)} after it, longest wait ${secs(r.after.longestMs)}; left shown: ${JSON.stringify(chat.leftShown(r.snap))}; refused writes: ${chat.refusedWrites().length}; missing: ${r.missing.length}`);
      assertDelivered(chat, r);

      // Afterwards a new person joins with an invite: a group's link takes a new member; a 1:1 room
      // takes a new guest once the first one left — with a new link from the room when the room offers
      // one (ROOM_UI.inviteFromRoom), else with the link the room was made with.
      let invite = link;
      let stay = ps;
      if (kind === "room") {
        const [host, guest] = ps;
        await guest.page.click(ROOM_UI.leave);
        const canInvite = await host.page.evaluate((sel) => {
          const b = document.querySelector(sel.inviteFromRoom);
          return !!b && !b.hidden && !b.disabled;
        }, ROOM_UI);
        t.diagnostic(`1:1 room empty again: ${canInvite ? "a new link from the room" : `the room offers no new link (${ROOM_UI.inviteFromRoom} hidden): the new guest opens the room's first link`}`);
        if (canInvite) {
          await host.page.click(ROOM_UI.inviteFromRoom);
          await host.page.click(ROOM_UI.newInvite);
          await host.page.waitForFunction(([sel, old]) => document.querySelector(sel.inviteLink).value.includes("#join=") && document.querySelector(sel.inviteLink).value !== old, [ROOM_UI, link], { timeout: 30_000 });
          invite = await host.page.evaluate((sel) => document.querySelector(sel.inviteLink).value, ROOM_UI);
        }
        stay = [host];
      }
      late.push(...(await cast([[newcomerSide, "N"]])));
      await late[0].page.goto(invite);
      await waitInRoom(late[0].page);
      const after = new Chat([...stay.map((p) => ({ ...p, name: `${p.name}2` })), { ...late[0], name: "N2" }], { kind });
      await after.settle();
      for (const m of after.members) assert.ok(await after.write(m.name, `${m.name}·1`), `${m.name} could write`);
      const done = await after.waitDelivered(60_000);
      assertDelivered(after, done);
      for (const p of [...ps, ...late]) assert.deepEqual(await p.errors(), [], `${p.name}'s page errors`);
    } finally {
      await closeAll([...late, ...ps]);
    }
  }

  it("signalingRestart_Group3_ChatGoesOn_ThenANewMemberJoins", { timeout: TEST_TIMEOUT }, (t) =>
    restartScenario(t, "group", [[1, "A"], [2, "B"], [4, "C"]], 3));

  it("signalingRestart_OneToOne_FirefoxHostChromiumGuest_ChatGoesOn_ThenANewGuestJoins", { timeout: TEST_TIMEOUT, ...ONE_TO_ONE }, (t) =>
    restartScenario(t, "room", [[2, "A"], [4, "B"]], 1));
});
