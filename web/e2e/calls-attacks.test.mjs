// Attacks on a call's signalling, in real browsers with fake devices through the real server.
//
// 1. A swapped fingerprint is refused for media too (issue 17, "Verified media"). The call is
//    negotiated over the room link's authenticated data channel, on that link's own connection; here
//    the dialling side's outgoing call offers are rewritten on the way out, before the channel's
//    encryption (a script the test puts in that page wraps window.RTCDataChannel.prototype.send; the app is
//    not told), to name another certificate, a real one made for the attacker. The other side must
//    refuse the call and say why,
//    apply nothing (no media decoded on either side), and the chat must go on; once the offers are
//    honest again the call comes up. In Chromium and in Firefox (the refusing side).
//    The one renegotiation that crosses the signaling server is the ICE restart (adapters/peerjs.ts);
//    a compromised server forges one in the middle of a call (the proxy of invites-mitm.test.mjs,
//    in front of the real server), naming the attacker's certificate: it is not applied, nothing
//    answers it, and the call goes on on the verified connection.
// 2. Malformed call signalling from a member: an offer from a member that is not in the call, an
//    oversized SDP, a frame over the size limit, a bad shape — sent by the same page-side script
//    straight on the data channel in PeerJS's JSON framing (a client without PeerJS's own size
//    check) — each refused, nothing applied, and the room and the call go on.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chromiumPage, firefoxPage, send, waitIncoming } from "./harness.mjs";
import { callSuite, peers, readyPair, receiving, resetSeen, until, videoCall } from "./calls-lib.mjs";
import { startSignalingProxy } from "./invites-proxy.mjs";

/**
 * The man in the middle inside a Chromium page (an init script, before the app loads): every data
 * channel the page makes is kept in `window.__mitm.channels`; while `window.__mitm.swap` is set
 * ({ k, line }), outgoing call descriptions of kind `k` leave with `line` as their fingerprint; and
 * `window.__mitm.raw(text)` sends `text` on the open PeerJS channel as PeerJS's JSON framing would
 * (UTF-8 of JSON.stringify), without its 16 300-byte check; `window.__mitm.offer()` makes a call offer
 * on that channel's connection (made by this page: the joiner dials).
 */
function mitmScript() {
  const mitm = (window.__mitm = { channels: [], swap: null, swapped: 0 });
  const create = RTCPeerConnection.prototype.createDataChannel;
  RTCPeerConnection.prototype.createDataChannel = function (...args) {
    const dc = create.apply(this, args);
    mitm.channels.push({ dc, pc: this });
    return dc;
  };
  const send = window.RTCDataChannel.prototype.send;
  window.RTCDataChannel.prototype.send = function (data) {
    if (mitm.swap && (data instanceof ArrayBuffer || ArrayBuffer.isView(data))) {
      try {
        const outer = JSON.parse(new window.TextDecoder().decode(data));
        const frame = typeof outer === "string" && outer.startsWith('{"t":"c"') ? JSON.parse(outer) : null;
        if (frame?.k === mitm.swap.k && typeof frame.sdp === "string") {
          frame.sdp = frame.sdp.replace(/^a=fingerprint:.*$/gm, mitm.swap.line);
          mitm.swapped++;
          return send.call(this, new window.TextEncoder().encode(JSON.stringify(JSON.stringify(frame))));
        }
      } catch {
        // not a JSON frame (the file lane): as it is
      }
    }
    return send.call(this, data);
  };
  const link = () => {
    const open = mitm.channels.filter((c) => c.dc.label !== "gc-files" && c.dc.readyState === "open");
    if (open.length !== 1) throw new Error(`${open.length} open channels`);
    return open[0];
  };
  mitm.raw = (text) => {
    send.call(link().dc, new window.TextEncoder().encode(JSON.stringify(text)));
    return "sent";
  };
  mitm.connectionId = () => link().dc.label;
  /** An ICE restart offer for the link's connection naming `line` as its certificate, made there but not applied. */
  mitm.restartOffer = async (line) => (await link().pc.createOffer({ iceRestart: true })).sdp.replace(/^a=fingerprint:.*$/gm, line);
  /** An offer adding audio and video to the link's connection, made there but not applied. */
  mitm.offer = async () => {
    const { pc } = link();
    pc.addTransceiver("audio");
    pc.addTransceiver("video");
    return (await pc.createOffer()).sdp;
  };
}

/** A certificate of the attacker's own, made in `p`: its SDP fingerprint line. */
const attackerLine = (p) =>
  p.eval(async () => {
    const cert = await RTCPeerConnection.generateCertificate({ name: "ECDSA", namedCurve: "P-256" });
    const f = cert.getFingerprints().find((x) => x.algorithm === "sha-256");
    return `a=fingerprint:sha-256 ${f.value.toUpperCase()}`;
  });

const link = (p, peer) => p.eval((peer) => window.__ghostchatMesh.link(peer), peer);

/** Nothing negotiated on `p`'s link to `peer`: no track received, no RTP packet in, no frame decoded. */
async function noMedia(p, peer) {
  assert.equal(await p.eval((peer) => window.__ghostchatMesh.received(peer), peer), 0, "no track received on the link's connection");
  const inbound = await p.eval(
    (peer) => window.__ghostchatMesh.rtp(peer).then((r) => r.filter((s) => s.type === "inbound-rtp" && (s.packetsReceived > 0 || s.framesDecoded > 0))),
    peer,
  );
  assert.deepEqual(inbound, [], "no media arrived");
}

async function chatBothWays(a, b, tag) {
  await send(a, `${tag}: a to b`);
  await waitIncoming(b, `${tag}: a to b`);
  await send(b, `${tag}: b to a`);
  await waitIncoming(a, `${tag}: b to a`);
}

/**
 * Host and guest in a 1:1 room; the side that dialled the link sends its call offers with the
 * attacker's certificate; both join a video call. Returns the two sides sorted by role.
 */
async function swappedOffer(server, host, guest) {
  await guest.page.addInitScript(mitmScript);
  await readyPair(server, host, guest);
  const [hostId] = await peers(guest);
  const [guestId] = await peers(host);
  // The joiner dialled the link: its offers are the ones to swap.
  assert.equal((await link(guest, hostId)).dialled, true);
  const [dialler, answerer, diallerId, answererId] = [guest, host, guestId, hostId];
  const line = await attackerLine(dialler);
  assert.notEqual(line, `a=fingerprint:${(await link(dialler, answererId)).local}`);
  await dialler.eval((line) => (window.__mitm.swap = { k: "of", line }), line);

  await videoCall(host, guest);

  // The side offered the swapped certificate refuses the call and says why.
  await until(answerer, () => document.querySelector("#call-notice")?.dataset.refusal === "fingerprint");
  const notice = await answerer.eval(() => ({
    text: document.querySelector("#call-notice").textContent,
    hidden: document.querySelector("#call-notice").hidden,
    role: document.querySelector("#call-notice").getAttribute("role"),
  }));
  assert.equal(notice.hidden, false);
  assert.equal(notice.role, "alert");
  assert.match(
    notice.text,
    /^The call with .+ was refused: .*another encryption key than the verified one, so someone may be intercepting it\. The chat goes on/,
  );
  assert.ok((await dialler.eval(() => window.__mitm.swapped)) >= 1);
  // Nothing was applied: no media either way.
  await noMedia(answerer, diallerId);
  await noMedia(dialler, answererId);
  // The chat goes on, on the same verified link.
  await chatBothWays(host, guest, "after the refused call");
  return { dialler, answerer, diallerId, answererId };
}

describe("Calls: a swapped fingerprint is refused for media too", { timeout: 300_000 }, () => {
  const s = callSuite({ firefox: true });

  it("chromium_CallOfferNamesAnotherCertificate_RefusedWithNotice_NoMedia_ChatGoesOn_HonestOfferThenTaken", async () => {
    const host = await chromiumPage(s.chromium);
    const guest = await chromiumPage(s.chromium);
    const { dialler, answerer, diallerId, answererId } = await swappedOffer(s.server, host, guest);
    // Honest again: the dialling side's next offer (after its unanswered one timed out) is taken.
    await dialler.eval(() => (window.__mitm.swap = null));
    await receiving(answerer, diallerId, "video");
    await receiving(dialler, answererId, "video");
    await until(answerer, () => document.querySelector("#call-notice").hidden);
    assert.deepEqual([...host.errors, ...guest.errors], []);
    await host.context.close();
    await guest.context.close();
  });

  it("firefoxRefuses_CallOfferNamesAnotherCertificate_RefusedWithNotice_NoMedia_ChatGoesOn", async () => {
    // Firefox hosts, so the Chromium guest dials the link and makes the (swapped) offers.
    const host = await firefoxPage(s.firefox);
    const guest = await chromiumPage(s.chromium);
    const { answerer } = await swappedOffer(s.server, host, guest);
    assert.equal(answerer, host);
    assert.deepEqual([...host.errors, ...guest.errors], []);
    await host.page.close();
    await guest.context.close();
  });
});

describe("Calls: a compromised signaling server forges an ICE restart naming another certificate", { timeout: 240_000 }, () => {
  const s = callSuite();
  let proxy;
  before(async () => {
    proxy = await startSignalingProxy(s.server.url);
  });
  after(async () => {
    await proxy?.stop();
  });

  it("forgedRestartOffer_MidCall_NotApplied_NotAnswered_CallGoesOnOnTheSameConnection", async () => {
    const host = await chromiumPage(s.chromium);
    const guest = await chromiumPage(s.chromium);
    await guest.page.addInitScript(mitmScript);
    /** What each browser sent through the proxy (type, and the restart mark and connection of descriptions). */
    const sent = [];
    proxy.tap(({ from, msg }) => {
      sent.push({ from, type: msg?.type, connectionId: msg?.payload?.connectionId ?? null, restart: msg?.payload?.restart ?? null });
      return msg;
    });
    await readyPair({ url: proxy.url }, host, guest);
    const [hostId] = await peers(guest);
    const [guestId] = await peers(host);
    // The link's live connection (PeerJS labels its data channel with the connection's id), which the
    // guest's PeerJS named in its offer through the server.
    const connectionId = await guest.eval(() => window.__mitm.connectionId());
    assert.match(connectionId, /^dc_/);
    assert.ok(sent.some((m) => m.from === guestId && m.type === "OFFER" && m.connectionId === connectionId));
    await videoCall(host, guest);
    await receiving(host, guestId, "video");
    await receiving(guest, hostId, "video");
    const decoded = () =>
      host.eval((id) => window.__ghostchatMesh.rtp(id).then((r) => r.find((x) => x.type === "inbound-rtp" && x.kind === "video")?.framesDecoded ?? 0), guestId);
    const before = await decoded();

    // The server forges the guest's ICE restart: a real restart offer of that connection (new ICE
    // credentials, every m-section), with the attacker's certificate in place of the guest's.
    const line = await attackerLine(guest);
    const sdp = await guest.eval((line) => window.__mitm.restartOffer(line), line);
    assert.equal(
      sdp.match(/^a=fingerprint:.*$/gm).every((l) => l === line),
      true,
    );
    const mark = sent.length;
    proxy.deliver(hostId, {
      type: "OFFER",
      src: guestId,
      dst: hostId,
      payload: { sdp: { type: "offer", sdp }, type: "data", connectionId, restart: "gc-ice-restart-v1" },
    });

    // The call goes on, on the same connection (its frame counter carries on: not a new one), both ways.
    await resetSeen(host, guest);
    await receiving(host, guestId, "video");
    await receiving(guest, hostId, "video");
    assert.ok((await decoded()) > before);
    // Nothing answered the forgery: the host sent no description through the server since.
    assert.deepEqual(
      sent.slice(mark).filter((m) => m.from === hostId && (m.type === "ANSWER" || m.type === "OFFER")),
      [],
    );
    assert.equal(await host.eval(() => document.querySelector("#call").dataset.joined), "true");
    await chatBothWays(host, guest, "after the forged restart");
    assert.deepEqual([...host.errors, ...guest.errors], []);
    await host.context.close();
    await guest.context.close();
  });
});

describe("Calls: malformed call signalling from a member", { timeout: 240_000 }, () => {
  const s = callSuite();

  it("offerFromMemberNotInCall_OversizedSdp_TooLarge_BadShape_Refused_RoomAndCallGoOn", async () => {
    const host = await chromiumPage(s.chromium);
    const guest = await chromiumPage(s.chromium);
    await guest.page.addInitScript(mitmScript);
    await readyPair(s.server, host, guest);
    const [hostId] = await peers(guest);
    const [guestId] = await peers(host);
    await host.click("#call-video");
    await until(guest, () => document.querySelector("#call")?.dataset.members === "1");
    assert.equal(await guest.eval(() => document.querySelector("#call").dataset.joined), "false");

    // A well-formed renegotiation offer for the link's own connection (its certificate, its ICE
    // credentials, its data section first), from a guest that is not in the call.
    const offer = await guest.eval(() => window.__mitm.offer());
    assert.match(offer, /^m=video /m);
    const sdpMax = 16 * 1024; // MAX_SDP_CHARS (core/delivery/frames.ts)
    const frames = [
      { t: "c", k: "of", n: 1, sdp: offer },
      // An SDP over the limit, in a frame under the frame limit.
      { t: "c", k: "of", n: 2, sdp: offer + "a=x-pad:" + "p".repeat(sdpMax - offer.length) + "\r\n" },
      // A frame over the frame limit (32 KiB).
      { t: "c", k: "of", n: 3, sdp: "v=0\r\n" + "a=x-pad:".repeat(5000) },
      { t: "c", k: "of", n: -1, sdp: offer },
      { t: "c", k: "st", on: "yes", mic: true, cam: true },
    ];
    for (const f of frames) assert.equal(await guest.eval((text) => window.__mitm.raw(text), JSON.stringify(f)), "sent");

    // The room refused the four malformed frames by their shape or size; the well-formed offer from a
    // member not in the call reached the call engine, which applied nothing and answered nothing.
    await until(host, (from) => window.__ghostchatMesh.refusals().filter((r) => r.from === from).length >= 4, guestId);
    assert.deepEqual(
      (await host.eval((from) => window.__ghostchatMesh.refusals().filter((r) => r.from === from), guestId)).map((r) => r.reason),
      ["bad-shape", "too-large", "bad-shape", "bad-shape"],
    );
    await noMedia(host, guestId);
    assert.equal(await host.eval(() => document.querySelector("#call").dataset.joined), "true");
    assert.equal(await host.eval(() => document.querySelector("#call-notice").hidden), true);

    // The room goes on, and so does the call: the guest joins and both decode.
    await chatBothWays(host, guest, "after the malformed frames");
    await guest.click("#call-video");
    await receiving(guest, hostId, "video");
    await receiving(host, guestId, "video");
    assert.equal(await host.eval((id) => window.__ghostchatMesh.received(id), guestId), 2);
    // The host answered the guest's own offer only: had it answered the stray one, that answer would
    // have reached the guest before this one (one negotiation at a time, one ordered channel).
    const answers = await guest.eval((id) => window.__ghostchatMesh.callFrames().filter((f) => f.from === id && f.k === "an"), hostId);
    assert.equal(answers.length, 1, JSON.stringify(answers));
    assert.deepEqual([...host.errors, ...guest.errors], []);
    await host.context.close();
    await guest.context.close();
  });
});
