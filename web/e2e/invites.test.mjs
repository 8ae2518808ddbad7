// Invites end to end in real Chromium through the real server: the verification code matches on
// both sides, a host reload keeps its links working, expired and revoked invites are refused with
// the right words on both sides, renewal and the expiry warning in the host's list.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  AXE_SOURCE,
  chromiumPage,
  connectPair,
  createRoom,
  firefoxPage,
  launchChromium,
  launchFirefox,
  send,
  startServer,
  waitConnected,
  waitIncoming,
  wrapPage,
} from "./harness.mjs";

/** Lets a test move a page's clock: Date.now() + offset (set with window.__setClockOffset). */
const CLOCK_SCRIPT = `(() => {
  const realNow = Date.now.bind(Date);
  let offset = 0;
  Date.now = () => realNow() + offset;
  window.__setClockOffset = (ms) => { offset = ms; };
})();`;

const HOUR = 3600_000;
const CODE = /^(\S+ ){5}· \d{3} \d{3}$/u;

async function codes(...pages) {
  return Promise.all(pages.map((p) => p.eval(() => document.querySelector("#verify-code").dataset.code ?? null)));
}

async function axeSerious(p, label) {
  await p.eval(AXE_SOURCE); // evaluated by the driver: the app's CSP still holds for the app
  const violations = await p.eval(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  assert.deepEqual(violations, [], `${label}: serious/critical accessibility violations`);
}

/** Both pages' visible state, for failure messages. */
async function explain(pages) {
  const out = {};
  for (const [name, p] of Object.entries(pages)) {
    out[name] = await p
      .eval(() => ({
        view: document.body.dataset.view,
        phase: document.body.dataset.phase,
        status: document.querySelector("#status").textContent,
        error: document.querySelector("#error-body").textContent,
        notice: document.querySelector("#invite-notice").textContent,
      }))
      .catch((e) => String(e));
    out[name].errors = p.errors;
  }
  return JSON.stringify(out);
}

async function refusedOnBoth(host, guest, reason) {
  try {
    await guest.waitFor((r) => document.body.dataset.view === "error" && document.querySelector("#error-body").dataset.refusal === r, reason);
    await host.waitFor((r) => !document.querySelector("#invite-notice").hidden && document.querySelector("#invite-notice").dataset.refusal === r, reason);
  } catch (e) {
    throw new Error(`${e.message}: ${await explain({ host, guest })}`, { cause: e });
  }
  return {
    guest: await guest.eval(() => document.querySelector("#error-body").textContent),
    host: await host.eval(() => document.querySelector("#invite-notice").textContent),
    hostPhase: await host.eval(() => document.body.dataset.phase),
  };
}

describe("Invites end to end (Chromium, real server)", { timeout: 400_000 }, () => {
  let server, browser;

  before(async () => {
    server = await startServer();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("join_BothShowSameVerificationCode_JoinerSeesWhoInvitedAndUntilWhen", async () => {
    const host = await chromiumPage(browser);
    const guest = await chromiumPage(browser);
    const link = await connectPair(host, guest, server.url);
    await Promise.all([host, guest].map((p) => p.waitFor(() => !document.querySelector("#verify").hidden)));
    const [h, g] = await codes(host, guest);
    assert.match(h, CODE);
    assert.equal(g, h);
    // A different connection has different DTLS keys, so the code is not a constant.
    const hostId = decodeURIComponent(new URL(link).hash.split(".")[1]);
    const info = await guest.eval(() => document.querySelector("#join-info").textContent);
    assert.match(hostId, /^gc1-[0-9a-f]{32}$/); // token-bound (docs/protocol.md, "Peer ids"); people see what follows the prefix
    assert.ok(info.startsWith(`Invited by ${hostId.slice(4, 12)}`), info);
    assert.match(info, /invite valid until /);
    assert.equal(await host.eval(() => document.querySelector("#join-info").hidden), true);
    await send(guest, "authenticated hello");
    await waitIncoming(host, "authenticated hello");
    // The host's IndexedDB keeps the hash, never the secret from the link.
    const secret = new URL(link).hash.split(".")[4];
    const stored = await host.eval(
      () =>
        new Promise((resolve, reject) => {
          const req = indexedDB.open("ghostchat-invites");
          req.onerror = () => reject(req.error);
          req.onsuccess = () => {
            const tx = req.result.transaction(["invites", "host"]);
            const a = tx.objectStore("invites").getAll();
            const b = tx.objectStore("host").getAll();
            tx.oncomplete = () => resolve(JSON.stringify([a.result, b.result]));
          };
        }),
    );
    assert.ok(stored.includes(hostId), "identity kept");
    assert.ok(!stored.includes(secret), "secret not stored");
    await host.context.close();
    await guest.context.close();
  });

  it("twoConnections_DifferentCodes", async () => {
    const pairs = [];
    for (let i = 0; i < 2; i++) {
      const host = await chromiumPage(browser);
      const guest = await chromiumPage(browser);
      await connectPair(host, guest, server.url);
      await guest.waitFor(() => !document.querySelector("#verify").hidden);
      pairs.push({ host, guest, code: (await codes(guest))[0] });
    }
    assert.notEqual(pairs[0].code, pairs[1].code);
    for (const p of pairs) {
      await p.host.context.close();
      await p.guest.context.close();
    }
  });

  it("hostReloadsWithinValidity_NewJoinerStillGetsIn", async () => {
    const host = await chromiumPage(browser);
    const link = await createRoom(host, server.url);
    const hostId = decodeURIComponent(new URL(link).hash.split(".")[1]);
    await host.page.reload({ waitUntil: "load" });
    // Resumed: same room, same id, the link itself is not shown again (its secret is not kept).
    await host.waitFor(
      () => document.body.dataset.view === "invite" && document.body.dataset.phase === "waiting" && !document.querySelector("#invite-not-kept").hidden,
    );
    assert.equal(await host.eval(() => document.querySelectorAll("#invite-list li[data-invite-id]").length), 1);
    const guest = await chromiumPage(browser);
    await guest.goto(link);
    await Promise.all([waitConnected(host), waitConnected(guest)]);
    assert.equal(...(await codes(host, guest)));
    await send(host, "after reload");
    await waitIncoming(guest, "after reload");
    assert.ok((await guest.eval(() => document.querySelector("#join-info").textContent)).includes(hostId.slice(4, 12)));
    await host.context.close();
    await guest.context.close();
  });

  it("revokedInvite_RefusedWithExplanationOnBothSides_RenewedLinkWorks", async () => {
    const host = await chromiumPage(browser);
    const link = await createRoom(host, server.url);
    const inviteId = new URL(link).hash.split(".")[3];
    await host.click(`#invite-list li[data-invite-id="${inviteId}"] .invite-revoke`);
    await host.waitFor(() => document.querySelectorAll("#invite-list li[data-invite-id]").length === 0);
    const guest = await chromiumPage(browser);
    await guest.goto(link);
    const seen = await refusedOnBoth(host, guest, "revoked");
    assert.equal(seen.guest, "The host revoked this invite. Ask for a new link if you should still join.");
    assert.match(seen.host, /invite you revoked/);
    assert.equal(seen.hostPhase, "waiting");
    assert.equal(await guest.eval(() => document.querySelector("#error-retry").hidden), true);
    await axeSerious(host, "invite view with a refusal notice");
    await axeSerious(guest, "refused joiner");

    // A new link from the same room works.
    await host.click("#new-invite");
    await host.waitFor((old) => document.querySelector("#invite-link").value.includes("#join=") && document.querySelector("#invite-link").value !== old, link);
    const fresh = await host.eval(() => document.querySelector("#invite-link").value);
    const guest2 = await chromiumPage(browser);
    await guest2.goto(fresh);
    await Promise.all([waitConnected(host), waitConnected(guest2)]).catch(async (e) => {
      throw new Error(`${e.message}: ${await explain({ host, guest2 })}`);
    });
    await host.context.close();
    await guest.context.close();
    await guest2.context.close();
  });

  it("renew_NewLinkReplacesOld_OldOneRevoked", async () => {
    const host = await chromiumPage(browser);
    const link = await createRoom(host, server.url);
    const inviteId = new URL(link).hash.split(".")[3];
    await host.click(`#invite-list li[data-invite-id="${inviteId}"] .invite-renew`);
    // The link changes first, the list is drawn again a moment later: wait for both.
    await host.waitFor((old) => {
      const value = document.querySelector("#invite-link").value;
      const items = [...document.querySelectorAll("#invite-list li[data-invite-id]")];
      return value !== old && items.length === 1 && items[0].dataset.inviteId === new URL(value).hash.split(".")[3];
    }, link);
    const renewed = await host.eval(() => document.querySelector("#invite-link").value);
    const renewedId = new URL(renewed).hash.split(".")[3];
    assert.notEqual(renewedId, inviteId);
    assert.equal(await host.eval(() => document.querySelector("#invite-list li[data-invite-id]").dataset.inviteId), renewedId);
    const guest = await chromiumPage(browser);
    await guest.goto(link);
    await refusedOnBoth(host, guest, "revoked");
    await host.context.close();
    await guest.context.close();
  });

  it("expiredInvite_HostClockPastExpiry_RefusedExpiredOnBothSides", async () => {
    const host = await chromiumPage(browser);
    await host.context.addInitScript(CLOCK_SCRIPT);
    const link = await createRoom(host, server.url);
    // The warning first: half an hour left.
    await host.eval((ms) => window.__setClockOffset(ms), 23.5 * HOUR);
    await host.click("#new-invite"); // re-renders the list now instead of in 30 s
    await host.waitFor(() => document.querySelector('#invite-list li[data-expiring="true"] .invite-warning') !== null);
    const warning = await host.eval(() => document.querySelector('#invite-list li[data-expiring="true"]').textContent);
    assert.match(warning, /0 h 30 min left|0 h 29 min left/);
    assert.match(warning, /Expires soon/);
    await axeSerious(host, "invite list with an expiry warning");
    // Renew and revoke are reachable by keyboard and named for screen readers.
    const labels = await host.eval(() =>
      [...document.querySelectorAll('#invite-list li[data-expiring="true"] button')].map((b) => b.getAttribute("aria-label")),
    );
    assert.equal(labels.length, 2);
    assert.match(labels[0], /^Renew invite \S+: make a new 24-hour link/);
    assert.match(labels[1], /^Revoke invite \S+$/);
    // Now past the expiry for the host, while the joiner's own clock still thinks the link is valid:
    // the host must refuse it and say why.
    await host.eval((ms) => window.__setClockOffset(ms), 24 * HOUR + 60_000);
    const guest = await chromiumPage(browser);
    await guest.goto(link);
    const seen = await refusedOnBoth(host, guest, "expired");
    assert.equal(seen.guest, "The host says this invite has expired. Ask for a new link.");
    assert.match(seen.host, /expired invite/);
    await host.context.close();
    await guest.context.close();
  });

  it("expiredLink_JoinerRefusesBeforeConnecting", async () => {
    const host = await chromiumPage(browser);
    const link = await createRoom(host, server.url);
    const guest = await chromiumPage(browser);
    await guest.context.addInitScript(CLOCK_SCRIPT + "window.__setClockOffset(24 * 3600000 + 1000);");
    await guest.goto(link);
    await guest.waitFor(() => document.body.dataset.view === "error");
    assert.equal(await guest.eval(() => document.querySelector("#error-body").textContent), "This invite has expired. Ask for a new link.");
    // Nothing reached the host.
    assert.equal(await host.eval(() => document.querySelector("#invite-notice").hidden), true);
    await host.context.close();
    await guest.context.close();
  });

  it("joinerReloads_NewKeys_CodeChangesAndBothSidesSaySo", async () => {
    const host = await chromiumPage(browser);
    const guest = await chromiumPage(browser);
    const link = await connectPair(host, guest, server.url);
    await guest.waitFor(() => !document.querySelector("#verify").hidden);
    const [before] = await codes(guest);
    assert.equal(await guest.eval(() => document.querySelector("#verify-changed").hidden), true);
    // Same tab, same link, a new connection: new DTLS certificates, so a new code, and the app says so.
    await guest.page.reload({ waitUntil: "load" });
    await Promise.all([waitConnected(host), waitConnected(guest)]).catch(async (e) => {
      throw new Error(`${e.message}: ${await explain({ host, guest })}`);
    });
    await Promise.all([host, guest].map((p) => p.waitFor((old) => document.querySelector("#verify-code").dataset.code !== old, before)));
    const [h, g] = await codes(host, guest);
    assert.equal(h, g);
    assert.notEqual(g, before);
    for (const p of [host, guest]) {
      assert.equal(await p.eval(() => document.querySelector("#verify-changed").hidden), false);
      assert.match(await p.eval(() => document.querySelector("#verify-changed").textContent), /verification code changed/);
    }
    assert.ok(link);
    await host.context.close();
    await guest.context.close();
  });

  it("firefoxJoinsChromiumHost_SameCodeFromBothEngines", async () => {
    const firefox = await launchFirefox();
    try {
      const host = await chromiumPage(browser);
      const guest = await firefoxPage(firefox);
      await connectPair(host, guest, server.url);
      await Promise.all([host, guest].map((p) => p.waitFor(() => !document.querySelector("#verify").hidden)));
      const [h, g] = await codes(host, guest);
      assert.match(h, CODE);
      assert.equal(g, h);
      await host.context.close();
    } finally {
      await firefox.close();
    }
  });

  it("secondTabSameBrowser_DoesNotTakeOverTheRoom_BothRoomsWork", async () => {
    const tab1 = await chromiumPage(browser);
    const link1 = await createRoom(tab1, server.url);
    // Same browser profile (same IndexedDB), second tab: it must not resume tab 1's room (the same
    // peer id would push tab 1 off the server), and its own new room must not break tab 1's links.
    const t2 = wrapPage(await tab1.context.newPage(), "playwright");
    const link2 = await createRoom(t2, server.url);
    assert.notEqual(new URL(link2).hash.split(".")[1], new URL(link1).hash.split(".")[1]);
    const guest1 = await chromiumPage(browser);
    await guest1.goto(link1);
    await Promise.all([waitConnected(tab1), waitConnected(guest1)]).catch(async (e) => {
      throw new Error(`${e.message}: ${await explain({ tab1, guest1, t2 })}`);
    });
    const guest2 = await chromiumPage(browser);
    await guest2.goto(link2);
    await Promise.all([waitConnected(t2), waitConnected(guest2)]);
    assert.equal(await t2.eval(() => document.querySelectorAll("#invite-list li[data-invite-id]").length), 1);
    await tab1.context.close();
    await guest1.context.close();
    await guest2.context.close();
  });
});
