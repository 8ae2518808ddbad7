import { describe, expect, it, vi } from "vitest";
import { CallRoom, MAX_CALL, namesBound, type CallLinks } from "../src/core/calls";
import type { MediaPort } from "../src/core/connection/ports";
import { decodeFrame, MAX_FRAME_CHARS, MAX_SDP_CHARS, type CallFrame } from "../src/core/delivery/frames";
import { SimMember, SimNet } from "./mesh-sim";

/**
 * The call engine (core/calls) between fake links and fake media ports: who offers, what is refused,
 * what is sent. Frames go through the wire format's decoder as the room would pass them.
 */
const hex = (b: number) => Array.from({ length: 32 }, (_, i) => ((b + i) & 0xff).toString(16).padStart(2, "0").toUpperCase()).join(":");
const fp = (b: number) => `sha-256 ${hex(b)}`;
const sdp = (b: number, extra = "") =>
  ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", `a=fingerprint:sha-256 ${hex(b)}`, "m=audio 9 UDP/TLS/RTP/SAVPF 111", extra, ""].join("\r\n");
const track = (kind: string) => ({ kind, id: `${kind}-${Math.random()}` }) as unknown as MediaStreamTrack;

class FakePort implements MediaPort {
  sent: [MediaStreamTrack | null, MediaStreamTrack | null] = [null, null];
  offers = 0;
  answers: string[] = [];
  accepted: string[] = [];
  busy = false;
  constructor(private readonly own: number) {}
  offer = vi.fn(async () => (this.busy ? null : (this.offers++, sdp(this.own, `a=offer:${this.offers}`))));
  answer = vi.fn(async (s: string) => (this.busy ? null : (this.answers.push(s), sdp(this.own, "a=answer"))));
  accept = vi.fn(async (s: string) => (this.accepted.push(s), true));
  rollback = vi.fn(async () => undefined);
  send = vi.fn(async (a: MediaStreamTrack | null, v: MediaStreamTrack | null) => void (this.sent = [a, v]));
  received = () => [track("audio"), track("video")];
}

interface Side {
  id: string;
  call: CallRoom;
  ports: Map<string, FakePort>;
  refused: { from: string; reason: string }[];
  media: Map<string, number>;
  deliver: (from: string, frame: CallFrame) => void;
  up: (peer: string, isUp: boolean) => void;
  linked: Set<string>;
}

/** Sides A (index 0) … each pair linked, the earlier one dialled the link. Fingerprint of side i: fp(i*10). */
/** Timers of every side; `fireTimers` runs those due (all: the tests never wait on time). */
const timers: (() => void)[] = [];
const fireTimers = () => {
  for (const fn of timers.splice(0)) fn();
};

function mesh(n: number): Side[] {
  timers.length = 0;
  const sides: Side[] = [];
  for (let i = 0; i < n; i++) {
    const id = `peer${i}`;
    const onCall = new Set<(from: string, frame: CallFrame) => void>();
    const onLink = new Set<(peer: string, up: boolean) => void>();
    const ports = new Map<string, FakePort>();
    const linked = new Set<string>();
    const links: CallLinks = {
      send: (to, frame) => {
        if (!linked.has(to)) return false;
        const text = JSON.stringify(frame);
        const target = sides.find((s) => s.id === to)!;
        queueMicrotask(() => {
          const d = decodeFrame(text);
          if (d.ok && d.frame.t === "c") target.deliver(id, d.frame);
        });
        return true;
      },
      media: (peer) => {
        const j = sides.findIndex((s) => s.id === peer);
        const port = ports.get(peer);
        return linked.has(peer) && port ? { port, bound: { local: fp(i * 10), remote: fp(j * 10) }, dialled: i < j } : null;
      },
      linked: () => [...linked],
      onCall: (fn) => (onCall.add(fn), () => onCall.delete(fn)),
      onLink: (fn) => (onLink.add(fn), () => onLink.delete(fn)),
    };
    const call = new CallRoom(links, { setTimer: (_ms, fn) => (timers.push(fn), () => void timers.splice(timers.indexOf(fn) >>> 0, 1)) });
    const side: Side = {
      id,
      call,
      ports,
      refused: [],
      media: new Map(),
      linked,
      deliver: (from, frame) => onCall.forEach((fn) => fn(from, frame)),
      up: (peer, isUp) => onLink.forEach((fn) => fn(peer, isUp)),
    };
    call.events.on("refused", (r) => void side.refused.push(r));
    call.events.on("media", ({ peer, tracks }) => void side.media.set(peer, tracks.length));
    sides.push(side);
  }
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      sides[i]!.ports.set(`peer${j}`, new FakePort(i * 10));
      sides[i]!.linked.add(`peer${j}`);
    }
  return sides;
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0));
};

describe("call frames", () => {
  it.each([
    ["state", { t: "c", k: "st", on: true, mic: true, cam: false }],
    ["offer", { t: "c", k: "of", n: 1, sdp: "v=0" }],
    ["answer", { t: "c", k: "an", n: 7, sdp: "v=0" }],
    ["need", { t: "c", k: "nd" }],
  ])("decode_%s_Accepted", (_name, frame) => {
    expect(decodeFrame(JSON.stringify(frame))).toEqual({ ok: true, frame });
  });

  it.each([
    ["unknownKind", { t: "c", k: "zz" }],
    ["stateNotBoolean", { t: "c", k: "st", on: "yes", mic: true, cam: true }],
    ["stateMissingCam", { t: "c", k: "st", on: true, mic: true }],
    ["offerNoSdp", { t: "c", k: "of", n: 1 }],
    ["offerEmptySdp", { t: "c", k: "of", n: 1, sdp: "" }],
    ["offerSdpNotString", { t: "c", k: "of", n: 1, sdp: { a: 1 } }],
    ["offerNegativeN", { t: "c", k: "of", n: -1, sdp: "v=0" }],
    ["offerFractionN", { t: "c", k: "an", n: 1.5, sdp: "v=0" }],
    ["oversizedSdp", { t: "c", k: "of", n: 1, sdp: "a".repeat(MAX_SDP_CHARS + 1) }],
  ])("decode_%s_Refused", (_name, frame) => {
    expect(decodeFrame(JSON.stringify(frame))).toEqual({ ok: false, reason: "bad-shape" });
  });

  it("decode_SdpAtLimit_Accepted", () => {
    expect(decodeFrame(JSON.stringify({ t: "c", k: "of", n: 1, sdp: "a".repeat(MAX_SDP_CHARS) })).ok).toBe(true);
  });
});

describe("namesBound", () => {
  const bound = { local: fp(0), remote: fp(10) };
  it("sameCertificate_True", () => expect(namesBound(sdp(10), bound)).toBe(true));
  it("swappedFingerprint_False", () => expect(namesBound(sdp(99), bound)).toBe(false));
  it("ownFingerprintReflected_False", () => expect(namesBound(sdp(0), bound)).toBe(false));
  it("secondCertificateAdded_False", () => expect(namesBound(sdp(10, `a=fingerprint:sha-256 ${hex(99)}`), bound)).toBe(false));
  it("garbage_False", () => expect(namesBound("garbage", bound)).toBe(false));
});

describe("CallRoom", () => {
  it("join_BothInCall_DiallingSideOffersOnceOtherAnswers_BothSend", async () => {
    const [a, b] = mesh(2) as [Side, Side];
    const mic = track("audio");
    const cam = track("video");
    expect(a.call.join(mic, cam)).toBe("joined");
    await settle();
    expect(b.call.view.members).toEqual([{ peer: "peer0", mic: true, cam: true }]);
    expect(a.ports.get("peer1")!.offers).toBe(0); // nobody to talk to yet
    const bMic = track("audio");
    b.call.join(bMic, null);
    await settle();
    expect(a.ports.get("peer1")!.offers).toBe(1);
    expect(b.ports.get("peer0")!.offers).toBe(0); // the side that did not dial never offers
    expect(b.ports.get("peer0")!.answers).toHaveLength(1);
    expect(a.ports.get("peer1")!.accepted).toHaveLength(1);
    expect(a.ports.get("peer1")!.sent).toEqual([mic, cam]);
    expect(b.ports.get("peer0")!.sent).toEqual([bMic, null]);
    expect(a.media.get("peer1")).toBe(2);
    expect(b.media.get("peer0")).toBe(2);
    expect(a.refused).toEqual([]);
    expect(b.refused).toEqual([]);
  });

  it("muteAndCameraOff_ReplaceTracksWithoutRenegotiating", async () => {
    const [a, b] = mesh(2) as [Side, Side];
    a.call.join(track("audio"), track("video"));
    b.call.join(track("audio"), track("video"));
    await settle();
    const cam = track("video");
    a.call.setTracks(null, cam);
    await settle();
    expect(a.ports.get("peer1")!.sent).toEqual([null, cam]);
    expect(b.call.view.members).toEqual([{ peer: "peer0", mic: false, cam: true }]);
    expect(a.ports.get("peer1")!.offers).toBe(1);
  });

  it("leave_StopsSendingAndOthersSeeItGone", async () => {
    const [a, b] = mesh(2) as [Side, Side];
    a.call.join(track("audio"), track("video"));
    b.call.join(track("audio"), null);
    await settle();
    b.call.leave();
    await settle();
    expect(b.ports.get("peer0")!.sent).toEqual([null, null]);
    expect(a.ports.get("peer1")!.sent).toEqual([null, null]); // nobody in the call with it any more
    expect(a.call.view.members).toEqual([]);
    expect(a.media.get("peer1")).toBe(0);
  });

  it("offerFromMemberNotInCall_Refused_NothingApplied", async () => {
    const [a, b] = mesh(2) as [Side, Side];
    b.call.join(track("audio"), null);
    await settle();
    // peer0 never joined, yet offers:
    b.deliver("peer0", { t: "c", k: "of", n: 1, sdp: sdp(0) });
    await settle();
    expect(b.refused).toEqual([{ from: "peer0", reason: "not-in-call" }]);
    expect(b.ports.get("peer0")!.answer).not.toHaveBeenCalled();
    expect(a.refused).toEqual([]);
  });

  it("offerWithSwappedFingerprint_Refused_NothingApplied", async () => {
    const [a, b] = mesh(2) as [Side, Side];
    a.ports.get("peer1")!.offer.mockImplementation(async () => sdp(77)); // not the certificate the handshake bound
    a.call.join(track("audio"), null);
    b.call.join(track("audio"), null);
    await settle();
    expect(b.refused).toEqual([{ from: "peer0", reason: "fingerprint" }]);
    expect(b.ports.get("peer0")!.answer).not.toHaveBeenCalled();
    expect(a.ports.get("peer1")!.accept).not.toHaveBeenCalled();
  });

  it("answerWithSwappedFingerprint_Refused_NotApplied", async () => {
    const [a, b] = mesh(2) as [Side, Side];
    b.ports.get("peer0")!.answer.mockImplementation(async () => sdp(77));
    a.call.join(track("audio"), null);
    b.call.join(track("audio"), null);
    await settle();
    expect(a.refused).toEqual([{ from: "peer1", reason: "fingerprint" }]);
    expect(a.ports.get("peer1")!.accept).not.toHaveBeenCalled();
  });

  it("offerFromSideThatDidNotDial_Refused_NoGlare", async () => {
    const [a, b] = mesh(2) as [Side, Side];
    a.call.join(track("audio"), null);
    b.call.join(track("audio"), null);
    await settle();
    a.deliver("peer1", { t: "c", k: "of", n: 5, sdp: sdp(10) });
    await settle();
    expect(a.refused).toEqual([{ from: "peer1", reason: "unexpected" }]);
    expect(a.ports.get("peer1")!.answer).not.toHaveBeenCalled();
  });

  it("answerNotForOurOffer_Refused", async () => {
    const [a, b] = mesh(2) as [Side, Side];
    a.call.join(track("audio"), null);
    b.call.join(track("audio"), null);
    await settle();
    a.deliver("peer1", { t: "c", k: "an", n: 99, sdp: sdp(10) });
    await settle();
    expect(a.refused).toEqual([{ from: "peer1", reason: "unexpected" }]);
    expect(a.ports.get("peer1")!.accepted).toHaveLength(1); // only the real answer
  });

  it("busyConnection_OfferRetriedWhenAsked", async () => {
    const [a, b] = mesh(2) as [Side, Side];
    b.ports.get("peer0")!.busy = true; // e.g. an ICE restart being applied
    a.call.join(track("audio"), null);
    b.call.join(track("audio"), null);
    await settle();
    expect(b.refused).toEqual([{ from: "peer0", reason: "busy" }]);
    b.ports.get("peer0")!.busy = false;
    // b asked (`nd`) when it refused: a rolled its offer back and offers again a moment later.
    expect(a.ports.get("peer1")!.rollback).toHaveBeenCalled();
    fireTimers();
    await settle();
    expect(a.ports.get("peer1")!.offers).toBe(2);
    expect(b.ports.get("peer0")!.answers).toHaveLength(1);
    expect(a.ports.get("peer1")!.accepted).toHaveLength(1);
    expect(a.media.get("peer1")).toBe(2);
  });

  it("redial_NewConnection_NegotiatedAgain", async () => {
    const [a, b] = mesh(2) as [Side, Side];
    a.call.join(track("audio"), null);
    b.call.join(track("audio"), null);
    await settle();
    a.ports.set("peer1", new FakePort(0));
    b.ports.set("peer0", new FakePort(10));
    a.up("peer1", true);
    b.up("peer0", true);
    await settle();
    expect(a.ports.get("peer1")!.offers).toBe(1);
    expect(b.ports.get("peer0")!.answers).toHaveLength(1);
    expect(a.media.get("peer1")).toBe(2);
  });

  it("iceRestart_SameConnection_NoRenegotiation", async () => {
    const [a, b] = mesh(2) as [Side, Side];
    a.call.join(track("audio"), null);
    b.call.join(track("audio"), null);
    await settle();
    a.up("peer1", false);
    a.up("peer1", true);
    await settle();
    expect(a.ports.get("peer1")!.offers).toBe(1);
  });

  it("groupOfThree_EveryPairNegotiatedOnce_ByItsDialler", async () => {
    const sides = mesh(3);
    for (const s of sides) s.call.join(track("audio"), track("video"));
    await settle();
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        if (i === j) continue;
        expect(sides[i]!.ports.get(`peer${j}`)!.offers).toBe(i < j ? 1 : 0);
        expect(sides[i]!.media.get(`peer${j}`)).toBe(2);
      }
    for (const s of sides) expect(s.refused).toEqual([]);
  });

  it("memberLeftTheRoom_NoLongerInTheCall_LinkOnlyDown_Kept", async () => {
    const [a, b, c] = mesh(3) as [Side, Side, Side];
    for (const s of [a, b, c]) s.call.join(track("audio"), null);
    await settle();
    a.up("peer1", false);
    a.call.prune(["peer1", "peer2"]); // down, still a member: stays in the call
    expect(a.call.view.members.map((m) => m.peer)).toEqual(["peer1", "peer2"]);
    a.call.prune(["peer2"]); // peer1 left the room
    expect(a.call.view.members.map((m) => m.peer)).toEqual(["peer2"]);
    expect(a.media.get("peer1")).toBe(0);
  });

  it("seventhPerson_Full_NothingSent", async () => {
    const sides = mesh(MAX_CALL + 1);
    for (const s of sides.slice(0, MAX_CALL)) {
      expect(s.call.join(track("audio"), null)).toBe("joined"); // the sixth sees five in the call and joins
      await settle();
    }
    const last = sides[MAX_CALL]!;
    expect(last.call.view.members).toHaveLength(MAX_CALL);
    expect(last.call.join(track("audio"), null)).toBe("full");
    expect(last.call.view.joined).toBe(false);
    await settle();
    for (const p of last.ports.values()) expect(p.offer).not.toHaveBeenCalled();
    for (const s of sides.slice(0, MAX_CALL)) expect(s.call.view.members).toHaveLength(MAX_CALL - 1);
  });
});

describe("call signalling through the room engine", () => {
  it("malformedOrRelayed_RefusedAndTheRoomKeepsWorking", () => {
    const net = new SimNet(7);
    const a = new SimMember("a", net);
    const b = new SimMember("b", net);
    net.run(net.now + 100);
    const reasons: string[] = [];
    const calls: unknown[] = [];
    b.room.events.on("refused", (x) => void reasons.push(x.reason));
    b.room.events.on("call", (c) => void calls.push(c));
    const junk = [
      { t: "c" },
      { t: "c", k: "of", n: 1, sdp: "v".repeat(MAX_SDP_CHARS + 1) },
      { t: "c", k: "st", on: 1, mic: true, cam: true },
      { t: "c", k: "an", n: "1", sdp: "v=0" },
      // Call signalling is hop-by-hop: never accepted through a relay.
      { t: "w", o: "b", x: JSON.stringify({ t: "c", k: "nd" }) },
    ];
    for (const j of junk) b.room.receive("a", JSON.stringify(j));
    b.room.receive("a", JSON.stringify({ t: "c", k: "of", n: 1, sdp: "v".repeat(MAX_FRAME_CHARS) }));
    expect(calls).toEqual([]);
    expect(reasons).toEqual(["bad-shape", "bad-shape", "bad-shape", "bad-shape", "bad-shape", "too-large"]);
    a.say("still here");
    net.run(net.now + 2000);
    expect(b.received.map((m) => m.text)).toEqual(["still here"]);
  });

  it("validFrame_OverUpLink_Delivered_FromNonMember_Ignored", () => {
    const net = new SimNet(8);
    const a = new SimMember("a", net);
    const b = new SimMember("b", net);
    net.run(net.now + 100);
    const calls: { from: string }[] = [];
    b.room.events.on("call", (c) => void calls.push(c));
    const frame = { t: "c", k: "st", on: true, mic: true, cam: false };
    b.room.receive("zed", JSON.stringify(frame));
    expect(calls).toEqual([]);
    expect(a.room.sendCall("b", frame as CallFrame)).toBe(true);
    net.run(net.now + 100);
    expect(calls).toEqual([{ from: "a", frame }]);
  });
});
