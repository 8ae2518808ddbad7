// A man in the middle, as a compromised signaling server would be: a proxy in front of the real
// server routes the joiner's OFFER/ANSWER/CANDIDATE frames to an attacker page (PeerJS in a third
// browser page), which opens its own connections to the joiner and to the host and forwards every
// frame between them. The app must notice (the DTLS fingerprints differ on the two legs), refuse,
// and say why on both sides. With honest routing through the same proxy the chat works.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chromiumPage, createRoom, launchChromium, send, startServer, waitConnected, waitIncoming } from "./harness.mjs";
import { attackerScript, startSignalingProxy } from "./invites-proxy.mjs";

async function state(p) {
  return p.eval(() => ({
    view: document.body.dataset.view,
    phase: document.body.dataset.phase,
    status: document.querySelector("#status").textContent,
    error: document.querySelector("#error-body").textContent,
    notice: document.querySelector("#invite-notice").textContent,
  }));
}

describe("Man in the middle at the signaling server (Chromium, real server behind a proxy)", { timeout: 400_000 }, () => {
  let server, proxy, browser;

  before(async () => {
    server = await startServer();
    proxy = await startSignalingProxy(server.url);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await proxy?.stop();
    await server?.stop();
  });

  it("honestRouting_ThroughProxy_ChatWorks", async () => {
    proxy.honest();
    const host = await chromiumPage(browser);
    const guest = await chromiumPage(browser);
    const link = await createRoom(host, proxy.url);
    assert.ok(link.startsWith(proxy.url));
    await guest.goto(link);
    await Promise.all([waitConnected(host), waitConnected(guest)]);
    await send(guest, "through an honest proxy");
    await waitIncoming(host, "through an honest proxy");
    const codes = await Promise.all([host, guest].map((p) => p.eval(() => document.querySelector("#verify-code").dataset.code)));
    assert.equal(codes[0], codes[1]);
    assert.equal(proxy.state.rewrittenToAttacker, 0);
    await host.context.close();
    await guest.context.close();
  });

  it("attackerRelaysBothLegs_BothSidesRefuseAndSayWhy_ThenHonestJoinWorks", async () => {
    const host = await chromiumPage(browser);
    const link = await createRoom(host, proxy.url);
    const hostId = decodeURIComponent(new URL(link).hash.split(".")[1]);
    const attackerId = `attacker-${Date.now()}`;

    // The attacker: a third page with the official peerjs client, registered through the proxy.
    const attacker = await chromiumPage(browser);
    await attacker.goto(`${proxy.url}/__attacker.html`);
    await attacker.eval(attackerScript, { port: proxy.port, attackerId, hostId });
    await attacker.waitFor(() => window.attack.registered === true);
    proxy.attack(hostId, attackerId);

    const guest = await chromiumPage(browser);
    await guest.goto(link);

    // The joiner refuses (the host told it the proof failed, or its own check failed) and explains.
    await guest
      .waitFor(() => document.body.dataset.view === "error" && document.querySelector("#error-body").dataset.refusal === "auth-failed")
      .catch(async (e) => {
        throw new Error(
          `${e.message}; guest ${JSON.stringify(await state(guest))}; host ${JSON.stringify(await state(host))}; attacker ${JSON.stringify(await attacker.eval(() => window.attack))}`,
        );
      });
    await host.waitFor(() => !document.querySelector("#invite-notice").hidden && document.querySelector("#invite-notice").dataset.refusal === "auth-failed");

    // The attack was real: the attacker held a connection to each side and relayed the handshake
    // both ways (hello and proof to the host, the challenge and the refusal to the joiner).
    const attack = await attacker.eval(() => window.attack);
    assert.equal(attack.joinerOpen, true, "attacker connected to the joiner");
    assert.equal(attack.hostOpen, true, "attacker connected to the host");
    const flow = attack.log.map(([dir, t]) => `${dir} ${t}`);
    assert.deepEqual(flow.slice(0, 4), ["J→H auth-hello", "H→J auth-challenge", "J→H auth-proof", "H→J auth-refuse"], JSON.stringify(attack.log));
    assert.ok(attack.fromJoiner >= 2 && attack.fromHost >= 2);
    assert.ok(proxy.state.rewrittenToAttacker >= 1, "the joiner's offer went to the attacker");
    assert.ok(proxy.state.relabelledFromAttacker >= 1, "the attacker's answer reached the joiner as if from the host");

    // Both sides say why, in plain words; neither shows a chat.
    const g = await state(guest);
    assert.match(g.error, /someone may be intercepting this connection/);
    const h = await state(host);
    assert.match(h.notice, /someone may be intercepting this connection/);
    assert.equal(h.view, "invite");
    assert.notEqual(h.phase, "connected");
    assert.notEqual(g.phase, "connected");
    // No chat frame ever crossed: nothing but the handshake went through the attacker.
    assert.ok(
      attack.log.every(([dir, t]) => dir === "error" || String(t).startsWith("auth-")),
      JSON.stringify(attack.log),
    );

    // Signaling honest again: a new joiner with the same link gets in and the chat works.
    proxy.honest();
    const guest2 = await chromiumPage(browser);
    await guest2.goto(link);
    await Promise.all([waitConnected(host), waitConnected(guest2)]);
    await send(guest2, "no one in between now");
    await waitIncoming(host, "no one in between now");
    for (const p of [host, guest, guest2, attacker]) await p.context.close();
  });
});
