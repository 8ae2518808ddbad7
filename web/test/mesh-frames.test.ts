import { describe, expect, it } from "vitest";
import { newSigner, webVerify } from "../src/core/auth/keys";
import { decodeFrame, signedInput, MAX_FRAME_CHARS, MAX_TIMESTAMP, type MemberInfo, type MessageFrame, type SignedMember } from "../src/core/delivery/frames";
import { OrderedStream, Outbox, MAX_REORDER_WINDOW } from "../src/core/delivery/streams";
import { credentials, ROOM, runAsync, SimMember, SimNet, syncSigner, syncVerify, tracked } from "./mesh-sim";

const KEY = "B" + "A".repeat(86);
const SIG = "A".repeat(86);
/** A member's info in the signed form presence frames carry (the signature is only well-formed). */
const signed = (i: Partial<Omit<MemberInfo, "st">> & Record<string, unknown>): SignedMember =>
  ({ i: { id: "a", inc: "inc-a", name: "a", since: 0, st: "online", v: 0, ...i }, c: { k: KEY, e: 0, s: SIG }, s: SIG }) as SignedMember;

const msg = (over: Partial<MessageFrame> = {}): MessageFrame => ({
  t: "m",
  r: "room1",
  f: "a",
  fi: "inc-a",
  o: "b",
  oi: "inc-b",
  n: 1,
  id: "m1",
  at: 5,
  x: "hi",
  ttl: null,
  bf: false,
  sig: SIG,
  ...over,
});

describe("decodeFrame", () => {
  it("decodeFrame_WellFormedMessage_RoundTrips", () => {
    const m = msg();
    expect(decodeFrame(JSON.stringify(m))).toEqual({ ok: true, frame: m });
  });

  it.each([
    ["not a string", 42 as unknown, "bad-shape"],
    ["not JSON", "{nope", "not-json"],
    ["too large", "x".repeat(MAX_FRAME_CHARS + 1), "too-large"],
    ["array", "[]", "bad-shape"],
    ["null", "null", "bad-shape"],
    ["unknown type", JSON.stringify({ t: "zz" }), "bad-shape"],
    ["n zero", JSON.stringify(msg({ n: 0 })), "bad-shape"],
    ["n fraction", JSON.stringify(msg({ n: 1.5 })), "bad-shape"],
    ["n unsafe", JSON.stringify({ ...msg(), n: 2 ** 60 }), "bad-shape"],
    ["empty text", JSON.stringify(msg({ x: "" })), "bad-shape"],
    ["text too long", JSON.stringify(msg({ x: "y".repeat(2001) })), "bad-shape"],
    ["bad ttl", JSON.stringify(msg({ ttl: 7 })), "bad-shape"],
    ["bad peer id", JSON.stringify(msg({ f: "a b c!" })), "bad-shape"],
    ["bad instance", JSON.stringify(msg({ fi: "x" })), "bad-shape"],
    ["bad signature", JSON.stringify(msg({ sig: "!!" })), "bad-shape"],
    ["short signature", JSON.stringify(msg({ sig: SIG.slice(1) })), "bad-shape"],
    ["ack read beyond delivered", JSON.stringify({ t: "a", r: "room1", f: "b", fi: "inc-b", o: "a", oi: "inc-a", n: 1, rd: 2, sig: SIG }), "bad-shape"],
    ["presence with a bad member", JSON.stringify({ t: "p", r: "room1", me: signed({}), reach: [], mem: [{ id: "b" }], gone: [] }), "bad-shape"],
    [
      "presence with too many members",
      JSON.stringify({
        t: "p",
        r: "room1",
        me: signed({}),
        reach: [],
        mem: Array(30).fill(signed({ id: "b", inc: "inc-b", name: "b" })),
        gone: [],
      }),
      "bad-shape",
    ],
    ["presence with a bad state", JSON.stringify({ t: "p", r: "room1", me: signed({ st: "gone" }), reach: [], mem: [], gone: [] }), "bad-shape"],
    ["presence unsigned (the form before member keys)", JSON.stringify({ t: "p", r: "room1", me: signed({}).i, reach: [], mem: [], gone: [] }), "bad-shape"],
    [
      "presence gone entry that is not a leaving",
      JSON.stringify({ t: "p", r: "room1", me: signed({}), reach: [], mem: [], gone: [signed({ id: "b" })] }),
      "bad-shape",
    ],
    [
      "presence with a bad certificate",
      JSON.stringify({ t: "p", r: "room1", me: { ...signed({}), c: { k: "x", e: 0, s: SIG } }, reach: [], mem: [], gone: [] }),
      "bad-shape",
    ],
    [
      "presence with an epoch 0",
      JSON.stringify({ t: "p", r: "room1", me: signed({}), reach: [], mem: [], gone: [], ep: { e: 0, m: [], s: SIG } }),
      "bad-shape",
    ],
    ["relay without target", JSON.stringify({ t: "w", x: "{}" }), "bad-shape"],
    ["proto pollution", '{"t":"m","__proto__":{"x":"y"}}', "bad-shape"],
    ["typing without a flag", JSON.stringify({ t: "y" }), "bad-shape"],
    ["typing with a string", JSON.stringify({ t: "y", on: "yes" }), "bad-shape"],
    ["ping without a number", JSON.stringify({ t: "i" }), "bad-shape"],
    ["ping negative", JSON.stringify({ t: "i", s: -1 }), "bad-shape"],
    ["pong fraction", JSON.stringify({ t: "o", s: 0.5 }), "bad-shape"],
    ["name too long", JSON.stringify({ t: "p", r: "room1", me: signed({ name: "n".repeat(41) }), reach: [], mem: [], gone: [] }), "bad-shape"],
  ])("decodeFrame_%s_Refused", (_name, data, reason) => {
    expect(decodeFrame(data)).toEqual({ ok: false, reason });
  });

  it("decodeFrame_TypingPingPong_Accepted", () => {
    expect(decodeFrame('{"t":"y","on":true}')).toEqual({ ok: true, frame: { t: "y", on: true } });
    expect(decodeFrame('{"t":"i","s":3}')).toEqual({ ok: true, frame: { t: "i", s: 3 } });
    expect(decodeFrame('{"t":"o","s":0,"extra":1}')).toEqual({ ok: true, frame: { t: "o", s: 0 } });
  });

  // A sender cleans its name before it signs it (cleanName); one that is not clean was not made by
  // GhostChat and would fail its signature once cleaned, so it is refused as it stands.
  it("decodeFrame_NameWithBidiOverridesAndZeroWidth_Refused", () => {
    const me = signed({ name: "\u202Eadmin\u200B\u0007" });
    expect(decodeFrame(JSON.stringify({ t: "p", r: "room1", me, reach: [], mem: [], gone: [] }))).toEqual({ ok: false, reason: "bad-shape" });
    const clean = decodeFrame(JSON.stringify({ t: "p", r: "room1", me: signed({ name: "admin" }), reach: [], mem: [], gone: [] }));
    expect(clean.ok && clean.frame.t === "p" && clean.frame.me.i.name).toBe("admin");
  });

  it("signedInput_CoversEveryField", () => {
    const base = signedInput(msg());
    for (const change of [
      { r: "room2" },
      { f: "c" },
      { fi: "inc-z" },
      { o: "c" },
      { oi: "inc-z" },
      { n: 2 },
      { id: "m2" },
      { at: 6 },
      { x: "ho" },
      { ttl: 5000 },
      { bf: true },
    ]) {
      expect(signedInput(msg(change as Partial<MessageFrame>))).not.toBe(base);
    }
  });
});

describe("streams", () => {
  it("OrderedStream_ReleasesInOrderOnce", () => {
    const s = new OrderedStream<string>();
    expect(s.offer(2, "b")).toEqual([]);
    expect(s.offer(1, "a")).toEqual(["a", "b"]);
    expect(s.offer(1, "a")).toEqual([]);
    expect(s.offer(2, "b")).toEqual([]);
    expect(s.delivered).toBe(2);
  });

  it("OrderedStream_FarAhead_NotHeld", () => {
    const s = new OrderedStream<string>();
    expect(s.offer(MAX_REORDER_WINDOW + 5, "far")).toEqual([]);
    for (let i = 1; i <= MAX_REORDER_WINDOW + 5; i++) s.offer(i, `${i}`);
    expect(s.delivered).toBe(MAX_REORDER_WINDOW + 5);
  });

  it("Outbox_AckBeyondSent_ClampedAndReadNeverBeyondDelivered", () => {
    const o = new Outbox("inc");
    o.push("x", 0, "t", null, false);
    o.push("y", 0, "t", null, false);
    expect(o.ack(99, 99)).toEqual({ delivered: ["x", "y"], read: ["x", "y"] });
    expect(o.size).toBe(0);
  });

  it("Outbox_Retarget_RenumbersFromOne", () => {
    const o = new Outbox("old");
    for (const id of ["a", "b", "c"]) o.push(id, 0, "t", null, false);
    o.ack(1, 0);
    o.retarget("new");
    expect(o.pending.map((e) => [e.id, e.n, e.frame])).toEqual([
      ["b", 1, null],
      ["c", 2, null],
    ]);
  });
});

describe("member signatures", () => {
  it("webCryptoAndNodeCrypto_ReadEachOthersKeysAndSignatures", async () => {
    const web = await newSigner();
    const node = syncSigner();
    const data = signedInput(msg());
    expect(await webVerify(node.key, data, node.sign(data))).toBe(true);
    expect(syncVerify(web.key, data, await web.sign(data))).toBe(true);
    expect(await webVerify(web.key, data + " ", await web.sign(data))).toBe(false);
    expect(await webVerify(node.key, data, await web.sign(data))).toBe(false);
    expect(await webVerify(web.key, data, "short")).toBe(false);
    expect(await webVerify("not a key", data, SIG)).toBe(false);
  });
});

/** Three members with real WebCrypto keys (asynchronous); a and c have no direct link, so r relays. */
async function relayed() {
  const net = new SimNet(3);
  const keys = await Promise.all([0, 1, 2].map(async () => tracked(await newSigner(), webVerify)));
  const idle = async () => {
    for (const k of keys) await k.idle();
  };
  net.cut("a", "c");
  const a = new SimMember("a", net, credentials("a", keys[0]!.signer, 0, keys[0]!.verify));
  const r = new SimMember("r", net, credentials("r", keys[1]!.signer, 0, keys[1]!.verify));
  const c = new SimMember("c", net, credentials("c", keys[2]!.signer, 0, keys[2]!.verify));
  const refused: string[] = [];
  c.room.events.on("refused", (x) => refused.push(x.reason));
  a.room.events.on("refused", (x) => refused.push(x.reason));
  await runAsync(net, net.now + 200, idle);
  return { net, a, r, c, refused, idle };
}

describe("relay through a member", () => {
  it("relay_HonestRelay_DeliversSignedByItsAuthor", async () => {
    const { net, a, c, idle } = await relayed();
    const id = a.say("via r")!;
    await runAsync(net, net.now + 200, idle);
    expect(c.received).toEqual([{ id, from: "a", text: "via r", via: "r" }]);
    expect(a.room.receipts(id)!.get("c")).toBe("delivered");
  });

  it("relay_AltersTextOrForgesAck_RefusedAndDeliveredAfterTheLinkHeals", async () => {
    const { net, a, c, refused, idle } = await relayed();
    // r changes every relayed message's text and, for each, makes up an ack "from c" (its signature cannot be valid).
    net.tamper = (from, to, frame) => {
      if (from !== "r") return frame;
      const v = JSON.parse(frame) as Record<string, unknown>;
      if (v.t === "m" && v.f === "a") {
        net.at(net.now + 1, () =>
          a.room.receive("r", JSON.stringify({ t: "a", r: ROOM, f: "c", fi: c.room.inc, o: "a", oi: a.room.inc, n: v.n, rd: v.n, sig: v.sig })),
        );
        return JSON.stringify({ ...v, x: "forged text" });
      }
      return frame;
    };
    const id = a.say("the real text")!;
    await runAsync(net, net.now + 5000, idle);
    expect(c.received).toEqual([]);
    expect(refused.filter((x) => x === "bad-signature").length).toBeGreaterThanOrEqual(2);
    expect(a.room.receipts(id)!.get("c")).toBe("sending"); // the forged ack did not count
    expect(a.room.pendingFor("c")).toBe(1);
    net.tamper = null;
    net.heal("a", "c");
    await runAsync(net, net.now + 500, idle);
    expect(c.received.map((m) => m.text)).toEqual(["the real text"]);
    expect(a.room.receipts(id)!.get("c")).toBe("delivered");
  });

  // Attack (issue 15 item 6): r is a member in good standing (certified key). Before member keys the
  // frame MAC was keyed by the room key every member holds, so r could make up a message "from a".
  // Now it can only sign with its own key, and c checks a's.
  it("relay_MemberMakesUpAMessageInAnotherMembersName_SignedWithItsOwnKey_Refused", async () => {
    const { net, a, r, c, refused, idle } = await relayed();
    const body = { t: "m" as const, r: ROOM, f: "a", fi: a.room.inc, o: "c", oi: c.room.inc, n: 1, id: "fake1", at: 0, x: "I am a", ttl: null, bf: false };
    const sig = await r.signer.sign(signedInput(body));
    c.room.receive("r", JSON.stringify({ ...body, sig }));
    await runAsync(net, net.now + 50, idle);
    expect(c.received).toEqual([]);
    expect(refused).toContain("bad-signature");
  });

  it("relay_RequestForAMemberItCannotReach_Dropped", () => {
    const net = new SimNet(4);
    const a = new SimMember("a", net);
    const r = new SimMember("r", net);
    new SimMember("c", net);
    net.run(net.now + 100);
    net.cut("a", "c");
    net.cut("r", "c");
    net.run(net.now + 100);
    r.room.receive("a", JSON.stringify({ t: "w", o: "c", x: JSON.stringify(msg({ o: "c" })) }));
    expect(r.room.stats.relayed).toBe(0);
    expect(a.room.members().find((m) => m.id === "c")!.state).toBe("reconnecting");
  });
});

describe("malformed frames", () => {
  it("receive_Garbage_RefusedAndTheEngineKeepsWorking", () => {
    const net = new SimNet(5);
    const a = new SimMember("a", net);
    const b = new SimMember("b", net);
    net.run(net.now + 100);
    const reasons: string[] = [];
    b.room.events.on("refused", (x) => reasons.push(x.reason));
    const junk = [
      "",
      "{",
      "null",
      "[]",
      "1e999",
      '"str"',
      "x".repeat(MAX_FRAME_CHARS + 10),
      JSON.stringify({ t: "m" }),
      JSON.stringify({ t: "w", o: "b", x: "{" }),
      JSON.stringify({ t: "w", o: "b", x: JSON.stringify({ t: "w", o: "b", x: "{}" }) }),
      JSON.stringify(msg({ r: "otherroom", o: "b", oi: b.room.inc })),
      JSON.stringify(msg({ o: "zed" })),
      JSON.stringify(msg({ o: "b", oi: "stale-inc" })),
      JSON.stringify(msg({ o: "b", oi: b.room.inc, f: "a", fi: a.room.inc })), // valid shape, wrong signature
      JSON.stringify({ t: "p", r: "room1", me: signed({ id: "mallory", inc: "inc-m", name: "m" }), reach: [], mem: [], gone: [] }), // claims another id than its link
      JSON.stringify({ t: "p", r: "room1", me: signed({ id: "a", inc: a.room.inc, name: "a", v: 99 }), reach: [], mem: [], gone: [] }), // not signed by a's key
    ];
    for (const j of junk) b.room.receive("a", j);
    expect(reasons).toEqual([
      "not-json",
      "not-json",
      "bad-shape",
      "bad-shape",
      "bad-shape",
      "bad-shape",
      "too-large",
      "bad-shape",
      "not-json",
      "bad-shape",
      "wrong-room",
      "not-for-me",
      "stale",
      "bad-signature",
      "bad-shape",
      "bad-signature",
    ]);
    expect(b.room.members().map((m) => m.id)).toEqual(["a"]);
    a.say("still fine");
    net.run(net.now + 100);
    expect(b.received.map((m) => m.text)).toEqual(["still fine"]);
  });

  it("receive_FrameWithoutSignature_OnlyOverTheOriginsOwnDirectLink", () => {
    const net = new SimNet(8);
    const a = new SimMember("a", net);
    const b = new SimMember("b", net);
    const c = new SimMember("c", net);
    net.run(net.now + 200);
    const reasons: string[] = [];
    b.room.events.on("refused", (x) => reasons.push(x.reason));
    const { sig: _sig, ...unsigned } = msg({ f: "a", fi: a.room.inc, o: "b", oi: b.room.inc, n: 1, id: "forged1", x: "claims to be from a" });
    // Over c's link, claiming a as its origin: refused. Wrapped for relaying: refused.
    b.room.receive("c", JSON.stringify(unsigned));
    b.room.receive("c", JSON.stringify({ t: "w", o: "b", x: JSON.stringify(unsigned) }));
    expect(reasons).toEqual(["bad-signature", "bad-signature"]);
    expect(b.received.map((m) => m.text)).toEqual([]);
    // Over a's own link it is a's message (the link is authenticated): accepted.
    b.room.receive("a", JSON.stringify(unsigned));
    expect(b.received.map((m) => m.text)).toEqual(["claims to be from a"]);
    void c;
  });

  it("receive_HostileTimestamps_RefusedOrShownAsArrivalTime_NeverAckedUnshown", () => {
    const net = new SimNet(9);
    const a = new SimMember("a", net);
    const b = new SimMember("b", net);
    net.run(net.now + 200);
    const reasons: string[] = [];
    const shown: { text: string; at: number }[] = [];
    b.room.events.on("refused", (x) => reasons.push(x.reason));
    b.room.events.on("message", (m) => shown.push({ text: m.text, at: m.at }));
    const over = { f: "a", fi: a.room.inc, o: "b", oi: b.room.inc };
    const { sig: _sig, ...unsigned } = msg(over);
    // Over a's own authenticated link (no signature needed): times a Date cannot hold, or not whole milliseconds.
    for (const at of [MAX_TIMESTAMP + 1, 1e300, -1, 0.5, Number.MAX_SAFE_INTEGER]) {
      b.room.receive("a", JSON.stringify({ ...unsigned, n: 1, id: "hostile", at }));
    }
    expect(reasons).toEqual(Array(5).fill("bad-shape"));
    // ... nothing was delivered, so nothing was acked: the sender's stream stays at 0.
    expect(shown).toEqual([]);
    // The latest time a Date holds is accepted, but shown as the time it arrived, which the page can format.
    b.room.receive("a", JSON.stringify({ ...unsigned, n: 1, id: "future", at: MAX_TIMESTAMP, x: "from the future" }));
    expect(shown).toEqual([{ text: "from the future", at: net.now }]);
    expect(() => new Date(shown[0]!.at).toISOString()).not.toThrow();
  });

  it("decodeFrame_PresenceWithAnUnrepresentableStartTime_Refused", () => {
    const me = signed({ since: 1e300 });
    expect(decodeFrame(JSON.stringify({ t: "p", r: "room1", me, reach: [], mem: [], gone: [] }))).toEqual({ ok: false, reason: "bad-shape" });
  });

  it("receive_TypingAndPingFromAMemberWithoutALink_Ignored", () => {
    const net = new SimNet(7);
    const b = new SimMember("b", net);
    const seen: string[] = [];
    b.room.events.on("typing", (e) => seen.push(`typing ${e.from}`));
    b.room.events.on("pong", (e) => seen.push(`pong ${e.from}`));
    b.room.receive("stranger", '{"t":"y","on":true}');
    b.room.receive("stranger", '{"t":"o","s":1}');
    b.room.receive("stranger", '{"t":"i","s":1}');
    expect(seen).toEqual([]);
  });

  it("receive_RandomBytes_NeverThrows", () => {
    const net = new SimNet(6);
    const b = new SimMember("b", net);
    const r = net.rand;
    const alphabet = '{}[]":,tmawprfionx0123456789 -_abc';
    for (let i = 0; i < 3000; i++) {
      let s = "";
      for (let k = Math.floor(r() * 80); k > 0; k--) s += alphabet[Math.floor(r() * alphabet.length)];
      expect(() => b.room.receive("a", s)).not.toThrow();
    }
  });
});
