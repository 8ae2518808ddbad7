// Calls in real browsers with fake devices (Chromium's --use-fake-device-for-media-stream, Firefox's
// media.navigator.streams.fake) through the real server: the other side decodes video frames and
// hears audio (getStats on the room link's own connection: inbound-rtp framesDecoded rising, audio
// level above 0); mute and camera off stop them; screen share (Chromium); relay-only through the
// embedded TURN; a room of three with Firefox. `window.__ghostchatMesh.rtp(peer)` exists only in the
// e2e build (web/e2e-build).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AXE_SOURCE, chromiumPage, createRoom, E2E_DIST, firefoxPage, freePort, launchChromium, send, startServer, waitIncoming, WAIT } from "./harness.mjs";
import { callSuite, peers, poll, readyPair, receiving, resetSeen, until, videoCall } from "./calls-lib.mjs";

describe("Calls in the room (Chromium, fake devices)", { timeout: 300_000 }, () => {
  const s = callSuite({
    env: async () => ({
      GhostChat__Turn__Enabled: "true",
      GhostChat__Turn__ListenAddresses__0: "127.0.0.1",
      GhostChat__Turn__UdpPort: String(await freePort()),
      GhostChat__Turn__TcpPort: String(await freePort()),
      // The browsers are on loopback: let the relay reach them (production denies it).
      GhostChat__Turn__AllowedPeers__0: "127.0.0.0/8",
    }),
  });

  it("videoCall_OneToOne_BothDecodeAndHear_MuteAndCameraOffStopThem_ScreenShareSends", async () => {
    const host = await chromiumPage(s.chromium);
    const guest = await chromiumPage(s.chromium);
    await readyPair(s.server, host, guest);
    const [hostId] = await peers(guest);
    const [guestId] = await peers(host);

    await host.click("#call-video");
    // The other side sees the call and joins with one click.
    await until(guest, () => document.querySelector("#call")?.dataset.members === "1" && !document.querySelector("#call-video").hidden);
    assert.match(await guest.eval(() => document.querySelector("#call-status").textContent), /Call in progress/);
    assert.equal(await guest.eval(() => document.querySelector("#call-video").textContent), "Join with video");
    await guest.click("#call-video");

    await receiving(guest, hostId, "video");
    await receiving(host, guestId, "video");
    await receiving(guest, hostId, "audio");
    await receiving(host, guestId, "audio");
    await until(guest, (id) => !!document.querySelector(`#call-grid figure[data-peer="${id}"] video`)?.srcObject, hostId);

    // Who is speaking: the fake microphone beeps, the tile says so while it does.
    await until(guest, (id) => document.querySelector(`#call-grid figure[data-peer="${id}"]`)?.dataset.speaking === "true", hostId);
    // Devices: the fake microphones are listed; choosing another one keeps the audio going.
    await guest.click("#call .call-devices summary");
    await until(guest, () => document.querySelectorAll("#call-mic option").length >= 2);
    const other = await guest.eval(() => [...document.querySelectorAll("#call-mic option")].find((o) => !o.selected)?.value);
    await guest.page.selectOption("#call-mic", other);
    await resetSeen(host);
    await receiving(host, guestId, "audio");
    // Accessible (axe: no serious or critical violation in the call panel).
    await guest.eval(AXE_SOURCE);
    const violations = await guest.eval(async () => {
      const result = await window.axe.run({ include: [["#call"]] }, { resultTypes: ["violations"] });
      return result.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    });
    assert.deepEqual(violations, []);

    // Mute: the guest stops receiving the host's audio, video goes on.
    await host.click("#call-mute");
    assert.equal(await host.eval(() => document.querySelector("#call-mute").getAttribute("aria-pressed")), "true");
    await receiving(guest, hostId, "audio", false);
    await resetSeen(guest);
    await receiving(guest, hostId, "video");
    await until(guest, (id) => document.querySelector(`#call-grid figure[data-peer="${id}"]`)?.dataset.mic === "false", hostId);

    // Camera off: frames stop too.
    await host.click("#call-camera");
    await receiving(guest, hostId, "video", false);

    // Screen share (desktop Chromium): frames again, from the screen.
    await host.click("#call-screen");
    await until(host, () => document.querySelector("#call-screen").getAttribute("aria-pressed") === "true");
    await resetSeen(guest);
    await receiving(guest, hostId, "video");
    // The fake screen is 1280×720, the camera 640×360.
    assert.equal(
      await host.eval(() => document.querySelector('#call-grid figure[data-peer="self"] video').srcObject.getVideoTracks()[0].label.startsWith("screen:")),
      true,
    );

    // Leave: the other side sees nobody else in the call.
    await host.click("#call-leave");
    await until(guest, () => document.querySelector("#call")?.dataset.members === "0");
    assert.deepEqual([...host.errors, ...guest.errors], []);
    await host.context.close();
    await guest.context.close();
  });

  it("linkRedialled_NewConnection_CallNegotiatedAgain_FramesFlowAgain", async () => {
    const host = await chromiumPage(s.chromium);
    const guest = await chromiumPage(s.chromium);
    await readyPair(s.server, host, guest);
    const [hostId] = await peers(guest);
    const [guestId] = await peers(host);
    await videoCall(host, guest);
    await receiving(guest, hostId, "video");
    const decoded = (p, id) =>
      p.eval((id) => window.__ghostchatMesh.rtp(id).then((r) => r.find((s) => s.type === "inbound-rtp" && s.kind === "video")?.framesDecoded ?? null), id);
    await poll(guest, (id) => window.__ghostchatMesh.rtp(id).then((r) => r.some((s) => s.type === "inbound-rtp" && s.framesDecoded > 100)), hostId);
    const before = await decoded(guest, hostId);
    // The link's connection dies (closed under the engine, e2e build only): the room redials, with a
    // new RTCPeerConnection and a new handshake; the call is negotiated again on it, whose counters
    // start from zero.
    await guest.eval((id) => window.__ghostchatMesh.fail(id), hostId);
    await poll(
      guest,
      ([id, n]) => window.__ghostchatMesh.rtp(id).then((r) => r.some((s) => s.type === "inbound-rtp" && s.kind === "video" && s.framesDecoded < n)),
      [hostId, before],
    );
    await resetSeen(guest, host);
    await receiving(guest, hostId, "video");
    await receiving(host, guestId, "audio");
    assert.equal(await guest.eval(() => document.querySelector("#call").dataset.joined), "true");
    assert.deepEqual([...host.errors, ...guest.errors], []);
    await host.context.close();
    await guest.context.close();
  });

  it("voiceAndVideo_RelayOnly_ThroughEmbeddedTurn_MediaFlows", async () => {
    const host = await chromiumPage(s.chromium);
    const guest = await chromiumPage(s.chromium);
    await readyPair(s.server, host, guest, { relayGuest: true });
    await guest.waitFor(() => document.querySelector("#view-chat .chat-tools .quality")?.dataset.path?.startsWith("relay-udp"), undefined, WAIT);
    const [hostId] = await peers(guest);
    const [guestId] = await peers(host);
    await guest.click("#call-voice");
    await until(host, () => document.querySelector("#call")?.dataset.members === "1");
    await host.click("#call-video");
    await receiving(guest, hostId, "video");
    await receiving(guest, hostId, "audio");
    // Chromium's fake microphone beeps only while its fake camera runs: alone it sends silence, so
    // here packets are counted, not the level.
    await receiving(host, guestId, "audio", true, { level: false });
    // The guest joined with voice only: it sends no video.
    assert.equal(
      await host.eval(
        (id) => window.__ghostchatMesh.rtp(id).then((r) => r.filter((s) => s.type === "inbound-rtp" && s.kind === "video" && s.framesDecoded > 0).length),
        guestId,
      ),
      0,
    );
    assert.deepEqual([...host.errors, ...guest.errors], []);
    await host.context.close();
    await guest.context.close();
  });
});

describe("Calls with Firefox: 1:1 and a room of three", { timeout: 300_000 }, () => {
  const s = callSuite({ firefox: true });

  it("firefoxHostsVideoCall_ChromiumJoins_BothDecodeAndHear_FirefoxMuteAndCameraOffStopThem", async () => {
    const host = await firefoxPage(s.firefox);
    const guest = await chromiumPage(s.chromium);
    await readyPair(s.server, host, guest);
    const [hostId] = await peers(guest);
    const [guestId] = await peers(host);
    await videoCall(host, guest);
    await receiving(guest, hostId, "video");
    await receiving(guest, hostId, "audio");
    await receiving(host, guestId, "video");
    await receiving(host, guestId, "audio");
    await host.click("#call-mute");
    await receiving(guest, hostId, "audio", false);
    await host.click("#call-camera");
    await receiving(guest, hostId, "video", false);
    assert.deepEqual([...host.errors, ...guest.errors], []);
    await host.page.close();
    await guest.context.close();
  });

  it("groupOfThree_EveryoneDecodesEveryone", async () => {
    const host = await chromiumPage(s.chromium);
    const link = await createRoom(host, s.server.url, "group");
    const second = await firefoxPage(s.firefox);
    const third = await chromiumPage(s.chromium);
    for (const p of [second, third]) {
      await p.goto(link);
      await until(p, () => document.body.dataset.view === "chat" && !!window.__ghostchatMesh);
    }
    const pages = [host, second, third];
    for (const p of pages) await until(p, () => window.__ghostchatMesh.links().length === 2, undefined, 120_000);
    await host.click("#call-video");
    for (const p of [second, third]) {
      await until(p, () => Number(document.querySelector("#call")?.dataset.members) >= 1);
      await p.click("#call-video");
    }
    for (const p of pages) {
      await until(p, () => document.querySelector("#call")?.dataset.members === "2");
      for (const from of await peers(p)) {
        await receiving(p, from, "video");
        await receiving(p, from, "audio");
      }
    }
    assert.deepEqual(
      pages.flatMap((p) => p.errors),
      [],
    );
  });
});

describe("Calls: the browser gives no camera or microphone", { timeout: 240_000 }, () => {
  let server, withDevices, without;
  before(async () => {
    server = await startServer({}, undefined, { web: E2E_DIST });
    withDevices = await launchChromium(["--use-fake-device-for-media-stream"]); // devices, but nobody allows them
    without = await launchChromium(); // this machine has no camera or microphone
  });
  after(async () => {
    await withDevices?.close();
    await without?.close();
    await server?.stop();
  });

  it("permissionDenied_OrNoDevice_ClearNotice_NotInCall_ChatGoesOn", async () => {
    const host = await chromiumPage(withDevices);
    const guest = await chromiumPage(without);
    await readyPair(server, host, guest);
    // Not allowed: headless Chromium answers the permission prompt with "block".
    await host.click("#call-video");
    await until(host, () => !document.querySelector("#call-notice").hidden);
    assert.match(await host.eval(() => document.querySelector("#call-notice").textContent), /not allowed to use the microphone or camera/);
    assert.equal(await host.eval(() => document.querySelector("#call").dataset.joined), "false");
    // Allowed, but there is no camera or microphone.
    await guest.context.grantPermissions(["camera", "microphone"], { origin: server.url });
    await guest.click("#call-voice");
    await until(guest, () => !document.querySelector("#call-notice").hidden);
    assert.match(await guest.eval(() => document.querySelector("#call-notice").textContent), /No microphone or camera was found/);
    assert.equal(await host.eval(() => document.querySelector("#call").dataset.members), "0");
    await send(host, "still chatting");
    await waitIncoming(guest, "still chatting");
    await host.context.close();
    await guest.context.close();
  });
});
