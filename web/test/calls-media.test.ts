import { describe, expect, it, vi } from "vitest";
import { callOfferPending, exclusive, mediaPort } from "../src/adapters/media";
import { sameRemoteCertificate } from "../src/adapters/peerjs";

/**
 * The call's media adapter on an RTCPeerConnection (a fake with the members it uses): a description
 * naming any certificate but the one the connection uses now — the one the handshake bound — is never
 * applied, whatever the call engine asked.
 */
const hex = (b: number) => Array.from({ length: 32 }, (_, i) => ((b + i) & 0xff).toString(16).padStart(2, "0").toUpperCase()).join(":");
const sdp = (b: number, ...lines: string[]) =>
  ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", `a=fingerprint:sha-256 ${hex(b)}`, ...lines, "m=audio 9 UDP/TLS/RTP/SAVPF 111", ""].join("\r\n");
const THEIRS = sdp(1);

function fakePc(state: RTCSignalingState = "stable") {
  const pc = {
    signalingState: state,
    currentRemoteDescription: { sdp: THEIRS },
    localDescription: null as { type: string; sdp: string } | null,
    transceivers: [] as unknown[],
    getTransceivers: () => pc.transceivers,
    addTransceiver: vi.fn((kind: string) => {
      const t = {
        currentDirection: null,
        direction: "sendrecv",
        receiver: { track: { kind } },
        sender: {
          track: null,
          replaceTrack: vi.fn(async () => undefined),
          getParameters: () => ({ encodings: [] }),
          setParameters: vi.fn(async () => undefined),
        },
      };
      pc.transceivers.push(t);
      return t;
    }),
    setRemoteDescription: vi.fn(async () => undefined),
    createOffer: vi.fn(async () => ({ type: "offer", sdp: sdp(2, "a=offer") })),
    createAnswer: vi.fn(async () => ({ type: "answer", sdp: sdp(2, "a=answer") })),
    setLocalDescription: vi.fn(async (d: { type: string; sdp: string }) => {
      if (d.type === "rollback") {
        pc.signalingState = "stable";
        pc.localDescription = null;
        return;
      }
      pc.localDescription = d;
      pc.signalingState = d.type === "offer" ? "have-local-offer" : "stable";
    }),
  };
  return pc;
}

const asPc = (pc: ReturnType<typeof fakePc>) => pc as unknown as RTCPeerConnection;

describe("call media on the link's connection", () => {
  it("answer_SwappedFingerprint_Refused_NothingApplied", async () => {
    const pc = fakePc();
    const port = mediaPort(asPc(pc), sameRemoteCertificate);
    expect(await port.answer(sdp(99))).toBeNull();
    expect(await port.answer(sdp(1, `a=fingerprint:sha-512 ${hex(5)}${":AB".repeat(32)}`))).toBeNull();
    expect(await port.answer("garbage")).toBeNull();
    expect(pc.setRemoteDescription).not.toHaveBeenCalled();
    expect(pc.setLocalDescription).not.toHaveBeenCalled();
  });

  it("answer_BoundCertificate_AppliedAndAnswered", async () => {
    const pc = fakePc();
    const port = mediaPort(asPc(pc), sameRemoteCertificate);
    expect(await port.answer(sdp(1, "a=offer"))).toContain("a=answer");
    expect(pc.setRemoteDescription).toHaveBeenCalledWith({ type: "offer", sdp: sdp(1, "a=offer") });
  });

  it("accept_SwappedFingerprint_Refused_OfferStillPending", async () => {
    const pc = fakePc();
    const port = mediaPort(asPc(pc), sameRemoteCertificate);
    expect(await port.offer()).toContain("a=offer");
    expect(pc.addTransceiver).toHaveBeenCalledTimes(2);
    expect(callOfferPending(asPc(pc))).toBe(true);
    expect(await port.accept(sdp(99))).toBe(false);
    expect(pc.setRemoteDescription).not.toHaveBeenCalled();
    expect(await port.accept(sdp(1, "a=answer"))).toBe(true);
    expect(pc.setRemoteDescription).toHaveBeenCalledWith({ type: "answer", sdp: sdp(1, "a=answer") });
  });

  it("offer_WhileIceRestartAwaitsAnswer_Null_AndAnswerToRestartNotTakenForCall", async () => {
    const pc = fakePc("have-local-offer"); // an ICE restart's offer
    pc.localDescription = { type: "offer", sdp: sdp(2, "a=ice-restart") };
    const port = mediaPort(asPc(pc), sameRemoteCertificate);
    expect(await port.offer()).toBeNull();
    expect(callOfferPending(asPc(pc))).toBe(false);
    expect(await port.accept(sdp(1))).toBe(false);
    expect(pc.setRemoteDescription).not.toHaveBeenCalled();
  });

  it("samePc_SamePort_NewPc_NewPort", () => {
    const pc = fakePc();
    expect(mediaPort(asPc(pc), sameRemoteCertificate)).toBe(mediaPort(asPc(pc), sameRemoteCertificate));
    expect(mediaPort(asPc(fakePc()), sameRemoteCertificate)).not.toBe(mediaPort(asPc(pc), sameRemoteCertificate));
  });

  it("exclusive_OneNegotiationAtATime", async () => {
    const pc = asPc(fakePc());
    const order: string[] = [];
    let release!: () => void;
    const first = exclusive(pc, () => new Promise<void>((r) => (release = () => (order.push("first"), r()))));
    const second = exclusive(pc, async () => void order.push("second"));
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual([]);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(["first", "second"]);
  });
});
