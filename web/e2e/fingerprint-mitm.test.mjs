// A man in the middle through a second fingerprint line (issue 15, item 1), as a compromised
// signaling server would do it: the proxy in front of the real server routes the joiner's
// signaling to an attacker page (PeerJS, one certificate of its own for every connection), and in
// each description the attacker sends to a victim it passes along the OTHER victim's real SHA-256
// line and appends its own SHA-512 line. Both browsers accept that description and complete DTLS
// with the attacker (Firefox: a certificate matching any line; Chromium: the last line), while an
// app that reads only the SHA-256 line binds its proofs to the real fingerprints: the proofs and
// the verification code match and the attacker relays the chat. The app must refuse instead, and
// say why on both sides — in Chromium and in Firefox, in a 1:1 room and in a group room.
// The second suite records what each browser does with two lines, on plain RTCPeerConnections.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chromiumPage, createRoom, firefoxPage, launchChromium, launchFirefox, send, startServer, waitConnected, WAIT } from "./harness.mjs";
import { attackerCertificateScript, attackerScript, spliceFingerprints, startSignalingProxy } from "./invites-proxy.mjs";

async function state(p) {
  return p.eval(() => ({
    view: document.body.dataset.view,
    phase: document.body.dataset.phase,
    status: document.querySelector("#status").textContent,
    error: document.querySelector("#error-body").textContent,
    notice: document.querySelector("#invite-notice").textContent,
  }));
}

/** Host opens the app and makes a group room; resolves with the invite link. */
async function createGroup(host, baseUrl) {
  await host.goto(baseUrl + "/");
  await until(host, () => document.body.dataset.view === "home").catch(async (e) => {
    throw new Error(`${e.message}; ${JSON.stringify(await state(host))}`);
  });
  // (a DOM click: Firefox's WebDriver BiDi reports this button "not clickable" in its small default window)
  await host.eval(() => document.querySelector("#new-group").click());
  await until(host, () => document.body.dataset.view === "invite" && document.querySelector("#invite-link").value.includes("#join="));
  return host.eval(() => document.querySelector("#invite-link").value);
}

/** Polls on an interval: Firefox tabs in one browser are hidden but one and get no animation frames. */
function until(p, fn, arg, timeout = WAIT) {
  return p.kind === "playwright" ? p.page.waitForFunction(fn, arg, { polling: 100, timeout }) : p.page.waitForFunction(fn, { polling: 100, timeout }, arg);
}

async function waitChat(p, group) {
  if (!group) return waitConnected(p);
  await until(p, () => document.body.dataset.view === "chat" && !document.querySelector("#composer").disabled);
}

async function closeAll(pages) {
  for (const p of pages) await (p.context ? p.context.close() : p.page.close());
}

describe("Man in the middle through a second fingerprint line (real server behind a proxy)", { timeout: 600_000 }, () => {
  let server, proxy, chromium, firefox;

  before(async () => {
    server = await startServer();
    proxy = await startSignalingProxy(server.url);
    chromium = await launchChromium();
    firefox = await launchFirefox();
  });

  after(async () => {
    await firefox?.close();
    await chromium?.close();
    await proxy?.stop();
    await server?.stop();
  });

  /** Host and joiner in `browser`, the attacker in Chromium (it reads its certificate from getStats). */
  async function attack(openPage, { group = false } = {}) {
    const host = await openPage();
    const link = group ? await createGroup(host, proxy.url) : await createRoom(host, proxy.url);
    const hostId = decodeURIComponent(new URL(link).hash.split(".")[1]);
    const attackerId = `attacker-${Date.now()}`;

    const attacker = await chromiumPage(chromium);
    await attacker.goto(`${proxy.url}/__attacker.html`);
    const attackerLine = await attacker.eval(attackerCertificateScript);
    assert.match(attackerLine, /^a=fingerprint:sha-512 ([0-9A-F]{2}:){63}[0-9A-F]{2}$/);
    await attacker.eval(attackerScript, { port: proxy.port, attackerId, hostId });
    await attacker.waitFor(() => window.attack.registered === true);
    const splice = spliceFingerprints({ hostId, attackerId, attackerLine });
    proxy.attack(hostId, attackerId);
    proxy.tap(splice.tap);

    const guest = await openPage();
    await guest.goto(link);
    let guest2 = null;
    const describeAll = async () =>
      `guest ${JSON.stringify(await state(guest))}; host ${JSON.stringify(await state(host))}; guest2 ${guest2 ? JSON.stringify(await state(guest2)) : "-"}; attacker ${JSON.stringify(await attacker.eval(() => window.attack))}; spliced ${JSON.stringify(splice.stats)}`;
    /** Waits, and says where everyone stood if it times out. */
    const step = (what, promise) =>
      promise.catch(async (e) => {
        throw new Error(`${what}: ${e.message}; ${await describeAll()}`);
      });

    // Both sides refuse and say why: the connection could not be verified.
    await step(
      "joiner refuses",
      until(guest, () => document.body.dataset.view === "error" && document.querySelector("#error-body").dataset.refusal === "auth-failed"),
    );
    await step(
      "host refuses",
      until(host, () => !document.querySelector("#invite-notice").hidden && document.querySelector("#invite-notice").dataset.refusal === "auth-failed"),
    );
    const g = await state(guest);
    assert.match(g.error, /could not be verified: someone may be intercepting this connection/);
    const h = await state(host);
    assert.match(h.notice, /could not be verified: someone may be intercepting this connection/);
    assert.notEqual(g.phase, "connected");
    assert.notEqual(h.phase, "connected");
    assert.equal(h.view, "invite");

    // The attack was real: both browsers accepted the spliced descriptions and completed DTLS with
    // the attacker's certificate, each description carrying the real SHA-256 line then the
    // attacker's SHA-512 line.
    const a = await attacker.eval(() => window.attack);
    assert.equal(a.joinerOpen, true, `DTLS with the joiner: ${await describeAll()}`);
    assert.equal(a.hostOpen, true, `DTLS with the host: ${await describeAll()}`);
    assert.ok(splice.stats.spliced >= 2, JSON.stringify(splice.stats));
    for (const lines of splice.stats.lines) {
      assert.equal(lines.length, 2, JSON.stringify(lines));
      assert.match(lines[0], /^a=fingerprint:sha-256 /);
      assert.equal(lines[1], attackerLine);
    }
    // Nothing but handshake frames crossed the attacker: no chat.
    assert.ok(
      a.log.every(([dir, t]) => dir === "error" || String(t).startsWith("auth-")),
      JSON.stringify(a.log),
    );

    // Signaling honest again: a new joiner with the same link gets in.
    proxy.honest();
    guest2 = await openPage();
    await guest2.goto(link);
    await step("honest join", Promise.all([waitChat(host, group), waitChat(guest2, group)]));
    await send(guest2, "no one in between now");
    await step(
      "honest message",
      until(
        host,
        (t) => [...document.querySelectorAll('#messages li[data-direction="in"] .msg-text')].some((e) => e.textContent === t),
        "no one in between now",
      ),
    );
    await closeAll([host, guest, guest2]);
    await attacker.context.close();
  }

  it("chromium_SecondFingerprintLine_BothSidesRefuseAndSayWhy", async () => {
    await attack(() => chromiumPage(chromium));
  });

  /** A fresh Firefox profile context per test: the app would resume the room the last test hosted. */
  async function inFirefoxContext(fn) {
    const context = await firefox.createBrowserContext();
    try {
      await fn(() => firefoxPage(context));
    } finally {
      await context.close();
    }
  }

  it("firefox_SecondFingerprintLine_BothSidesRefuseAndSayWhy", async () => {
    await inFirefoxContext((open) => attack(open));
  });

  it("chromiumGroup_SecondFingerprintLine_BothSidesRefuseAndSayWhy", async () => {
    await attack(() => chromiumPage(chromium), { group: true });
  });

  it("firefoxGroup_SecondFingerprintLine_BothSidesRefuseAndSayWhy", async () => {
    await inFirefoxContext((open) => attack(open, { group: true }));
  });
});

// ---- what the browsers themselves do with two fingerprint lines (recorded in docs/protocol.md) ----

/** Victim side, in the page: an offer for one data channel, candidates included. */
async function victimOfferScript() {
  const pc = new RTCPeerConnection();
  const channel = pc.createDataChannel("probe");
  const v = (window.victim = { pc, opened: false, state: "new" });
  channel.onopen = () => (v.opened = true);
  pc.onconnectionstatechange = () => (v.state = pc.connectionState);
  await pc.setLocalDescription();
  await new Promise((r) => (pc.iceGatheringState === "complete" ? r() : (pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r())));
  return pc.localDescription.sdp;
}

/** Attacker side, in its Chromium page: answers with `window.attackCertificate`. */
async function attackerAnswerScript(offer) {
  const pc = new RTCPeerConnection({ certificates: [window.attackCertificate] });
  window.attackerPc = pc;
  await pc.setRemoteDescription({ type: "offer", sdp: offer });
  await pc.setLocalDescription();
  await new Promise((r) => (pc.iceGatheringState === "complete" ? r() : (pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r())));
  return pc.localDescription.sdp;
}

/** Victim side: applies the (spliced) answer; the outcome is read once DTLS is up or has failed. */
async function victimApplyScript(answer) {
  await window.victim.pc.setRemoteDescription({ type: "answer", sdp: answer });
}

async function victimOutcomeScript() {
  const { pc, opened, state } = window.victim;
  const stats = await pc.getStats();
  const entries = [...stats.values()];
  const transport = entries.find((e) => e.type === "transport" && e.remoteCertificateId);
  const der = transport ? stats.get(transport.remoteCertificateId)?.base64Certificate : undefined;
  let remoteCertificateSha256 = null;
  if (der) {
    const d = new Uint8Array(
      await crypto.subtle.digest(
        "SHA-256",
        Uint8Array.from(atob(der), (c) => c.charCodeAt(0)),
      ),
    );
    remoteCertificateSha256 = `sha-256 ${[...d].map((x) => x.toString(16).padStart(2, "0").toUpperCase()).join(":")}`;
  }
  return {
    opened,
    state,
    lines: pc.currentRemoteDescription?.sdp.match(/^a=fingerprint:.*$/gm) ?? [],
    certificateEntries: entries.filter((e) => e.type === "certificate").length,
    remoteCertificateSha256,
  };
}

describe("Browsers given two fingerprint lines (plain RTCPeerConnections, the attacker's certificate in Chromium)", { timeout: 300_000 }, () => {
  let server, proxy, chromium, firefox, attacker, attackerLine;
  const WRONG = `a=fingerprint:sha-256 ${Array.from({ length: 32 }, (_, i) => (i * 7 + 1).toString(16).padStart(2, "0").toUpperCase()).join(":")}`;

  before(async () => {
    server = await startServer();
    proxy = await startSignalingProxy(server.url);
    chromium = await launchChromium();
    firefox = await launchFirefox();
    attacker = await chromiumPage(chromium);
    await attacker.goto(`${proxy.url}/__attacker.html`);
    attackerLine = await attacker.eval(attackerCertificateScript);
  });

  after(async () => {
    await firefox?.close();
    await chromium?.close();
    await proxy?.stop();
    await server?.stop();
  });

  /** One victim connection answered by the attacker with `order(attackerLine)` as its fingerprint lines. */
  async function probe(openPage, lines) {
    const victim = await openPage();
    await victim.goto(`${proxy.url}/__attacker.html`);
    const offer = await victim.eval(victimOfferScript);
    const answer = await attacker.eval(attackerAnswerScript, offer);
    const own = answer.match(/^a=fingerprint:.*$/m)[0];
    const spliced = answer.replace(/^a=fingerprint:.*$/m, lines.join("\r\n"));
    await victim.eval(victimApplyScript, spliced);
    await until(victim, () => window.victim.opened || ["failed", "closed"].includes(window.victim.state), undefined, 30_000);
    const out = await victim.eval(victimOutcomeScript);
    await attacker.eval(() => window.attackerPc.close());
    await (victim.context ? victim.context.close() : victim.page.close());
    return { ...out, attackerSha256: own.slice("a=fingerprint:".length) };
  }

  it("chromium_UsesTheLastLine_KeepsOnlyIt_ReportsTheAttackersCertificate", async () => {
    const open = () => chromiumPage(chromium);
    const last = await probe(open, [WRONG, attackerLine]);
    assert.equal(last.opened, true, JSON.stringify(last));
    assert.deepEqual(last.lines, [attackerLine], "currentRemoteDescription keeps only the line DTLS used");
    assert.equal(last.remoteCertificateSha256, last.attackerSha256, "getStats reports the certificate DTLS accepted");
    const first = await probe(open, [attackerLine, WRONG]);
    assert.equal(first.opened, false, JSON.stringify(first));
    assert.equal(first.state, "failed");
  });

  it("firefox_AcceptsAnyLine_KeepsBoth_ReportsNoCertificate", async () => {
    const open = () => firefoxPage(firefox);
    for (const lines of [
      [WRONG, attackerLine],
      [attackerLine, WRONG],
    ]) {
      const out = await probe(open, lines);
      assert.equal(out.opened, true, JSON.stringify(out));
      assert.deepEqual(
        out.lines.map((l) => l.replace(/\s+$/, "")),
        lines,
        "currentRemoteDescription keeps both lines",
      );
      assert.equal(out.certificateEntries, 0);
    }
  });
});
