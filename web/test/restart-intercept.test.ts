import { describe, expect, it, vi } from "vitest";
import { interceptRestarts, type PeerInternals, type ServerMessage } from "../src/adapters/peerjs";

/**
 * The adapter's guard on the signaling messages of an ICE restart: what a (possibly hostile)
 * signaling server sends for a connection that is already open never reaches PeerJS, and is applied
 * only when it is our restart and names the certificate the connection uses now.
 */
const hex = (b: number) => Array.from({ length: 32 }, (_, i) => ((b + i) & 0xff).toString(16).padStart(2, "0").toUpperCase()).join(":");
const sdp = (...lines: string[]) =>
  ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", ...lines, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", ""].join("\r\n");
const THEIRS = sdp(`a=fingerprint:sha-256 ${hex(1)}`);
const RESTART = "gc-ice-restart-v1";

function setUp(state: RTCSignalingState = "stable") {
  const pc = {
    signalingState: state,
    currentRemoteDescription: { sdp: THEIRS },
    localDescription: null as { type: string; sdp: string } | null,
    onicecandidate: null as unknown,
    setRemoteDescription: vi.fn(async () => undefined),
    createAnswer: vi.fn(async () => ({ type: "answer", sdp: "answer-sdp" })),
    setLocalDescription: vi.fn(async function (this: void, d: { type: string; sdp: string }) {
      pc.localDescription = d;
    }),
  };
  const conn = { open: true, peerConnection: pc, connectionId: "dc_1", peer: "remote" };
  const original = vi.fn();
  const sent: unknown[] = [];
  const peer = {
    _handleMessage: original,
    socket: { send: (m: unknown) => void sent.push(m) },
    getConnection: (src: string, id: string) => (src === "remote" && id === "dc_1" ? conn : null),
  } as unknown as PeerInternals;
  interceptRestarts(peer);
  const deliver = async (m: unknown) => {
    peer._handleMessage(m as ServerMessage);
    await new Promise((r) => setTimeout(r, 0));
  };
  return { pc, original, sent, deliver };
}

describe("ICE restart messages from the signaling server", () => {
  it("intercept_OtherMessagesAndNewConnections_GoToPeerJs", async () => {
    const { original, deliver } = setUp();
    for (const m of [
      { type: "CANDIDATE", src: "remote", payload: { connectionId: "dc_1", candidate: {} } },
      { type: "OPEN" },
      { type: "OFFER", src: "remote", payload: { connectionId: "dc_new", type: "data", serialization: "json", sdp: { type: "offer", sdp: "x" } } },
      { type: "OFFER", src: "remote" },
    ])
      await deliver(m);
    expect(original).toHaveBeenCalledTimes(4);
  });

  it("intercept_HostileOrMalformed_NeverReachPeerJsNorTheConnection", async () => {
    const { pc, original, sent, deliver } = setUp();
    const offer = (payload: unknown) => ({ type: "OFFER", src: "remote", payload });
    for (const m of [
      offer({ connectionId: "dc_1", sdp: { type: "offer", sdp: THEIRS } }), // unmarked: PeerJS would close the connection
      offer({ connectionId: "dc_1", restart: "other-v9", sdp: { type: "offer", sdp: THEIRS } }),
      offer({ connectionId: "dc_1", restart: RESTART }),
      offer({ connectionId: "dc_1", restart: RESTART, sdp: null }),
      offer({ connectionId: "dc_1", restart: RESTART, sdp: { sdp: 42 } }),
      offer({ connectionId: "dc_1", restart: RESTART, sdp: { sdp: sdp(`a=fingerprint:sha-256 ${hex(9)}`) } }), // another certificate
      offer({ connectionId: "dc_1", restart: RESTART, sdp: { sdp: sdp(`a=fingerprint:sha-256 ${hex(1)}`, `a=fingerprint:sha-512 ${hex(9)}`) } }), // a second line
      offer({ connectionId: "dc_1", restart: RESTART, sdp: { sdp: "no fingerprint at all" } }),
      offer({ connectionId: "dc_gone", restart: RESTART, sdp: { sdp: THEIRS } }), // a connection this side no longer has
      { type: "ANSWER", src: "remote", payload: { connectionId: "dc_1", sdp: { type: "answer", sdp: THEIRS } } }, // unmarked answer
      { type: "ANSWER", src: "remote", payload: { connectionId: "dc_1", restart: RESTART, sdp: { sdp: THEIRS } } }, // no offer of ours pending
    ])
      await deliver(m);
    expect(original).not.toHaveBeenCalled();
    expect(pc.setRemoteDescription).not.toHaveBeenCalled();
    expect(sent).toEqual([]);
  });

  it("intercept_OurRestartOffer_AppliedAndAnsweredOnTheSameConnection", async () => {
    const { pc, original, sent, deliver } = setUp();
    await deliver({ type: "OFFER", src: "remote", payload: { connectionId: "dc_1", restart: RESTART, sdp: { type: "offer", sdp: THEIRS } } });
    expect(original).not.toHaveBeenCalled();
    expect(pc.setRemoteDescription).toHaveBeenCalledWith({ type: "offer", sdp: THEIRS });
    expect(sent).toEqual([
      { type: "ANSWER", payload: { sdp: { type: "answer", sdp: "answer-sdp" }, type: "data", connectionId: "dc_1", restart: RESTART }, dst: "remote" },
    ]);
  });

  it("intercept_OurRestartAnswer_AppliedOnlyWhileOurOfferWaits", async () => {
    const { pc, deliver } = setUp("have-local-offer");
    await deliver({ type: "ANSWER", src: "remote", payload: { connectionId: "dc_1", restart: RESTART, sdp: { sdp: THEIRS } } });
    expect(pc.setRemoteDescription).toHaveBeenCalledWith({ type: "answer", sdp: THEIRS });
  });
});
