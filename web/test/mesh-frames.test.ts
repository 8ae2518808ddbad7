import { describe, expect, it } from "vitest";
import { decodeFrame, macInput, MAX_FRAME_CHARS, MAX_TIMESTAMP, type MessageFrame } from "../src/core/delivery/frames";
import { createRoomMac } from "../src/core/delivery/mac";
import { OrderedStream, Outbox, MAX_REORDER_WINDOW } from "../src/core/delivery/streams";
import { ROOM, ROOM_KEY, runAsync, SimMember, SimNet, syncRoomMac, tracked } from "./mesh-sim";

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
  mac: "A".repeat(43),
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
    ["bad mac", JSON.stringify(msg({ mac: "!!" })), "bad-shape"],
    [
      "ack read beyond delivered",
      JSON.stringify({ t: "a", r: "room1", f: "b", fi: "inc-b", o: "a", oi: "inc-a", n: 1, rd: 2, mac: "A".repeat(43) }),
      "bad-shape",
    ],
    [
      "presence with a bad member",
      JSON.stringify({ t: "p", r: "room1", me: { id: "a", inc: "inc-a", name: "a", since: 0, st: "online", v: 0 }, reach: [], mem: [{ id: "b" }], gone: [] }),
      "bad-shape",
    ],
    [
      "presence with too many members",
      JSON.stringify({
        t: "p",
        r: "room1",
        me: { id: "a", inc: "inc-a", name: "a", since: 0, st: "online", v: 0 },
        reach: [],
        mem: Array(100).fill({ id: "b", inc: "inc-b", name: "b", since: 0, st: "online", v: 0 }),
        gone: [],
      }),
      "bad-shape",
    ],
    [
      "presence with a bad state",
      JSON.stringify({ t: "p", r: "room1", me: { id: "a", inc: "inc-a", name: "a", since: 0, st: "gone", v: 0 }, reach: [], mem: [], gone: [] }),
      "bad-shape",
    ],
    ["relay without target", JSON.stringify({ t: "w", x: "{}" }), "bad-shape"],
    ["proto pollution", '{"t":"m","__proto__":{"x":"y"}}', "bad-shape"],
    ["typing without a flag", JSON.stringify({ t: "y" }), "bad-shape"],
    ["typing with a string", JSON.stringify({ t: "y", on: "yes" }), "bad-shape"],
    ["ping without a number", JSON.stringify({ t: "i" }), "bad-shape"],
    ["ping negative", JSON.stringify({ t: "i", s: -1 }), "bad-shape"],
    ["pong fraction", JSON.stringify({ t: "o", s: 0.5 }), "bad-shape"],
    [
      "name too long",
      JSON.stringify({ t: "p", r: "room1", me: { id: "a", inc: "inc-a", name: "n".repeat(41), since: 0, st: "online", v: 0 }, reach: [], mem: [], gone: [] }),
      "bad-shape",
    ],
  ])("decodeFrame_%s_Refused", (_name, data, reason) => {
    expect(decodeFrame(data)).toEqual({ ok: false, reason });
  });

  it("decodeFrame_TypingPingPong_Accepted", () => {
    expect(decodeFrame('{"t":"y","on":true}')).toEqual({ ok: true, frame: { t: "y", on: true } });
    expect(decodeFrame('{"t":"i","s":3}')).toEqual({ ok: true, frame: { t: "i", s: 3 } });
    expect(decodeFrame('{"t":"o","s":0,"extra":1}')).toEqual({ ok: true, frame: { t: "o", s: 0 } });
  });

  it("decodeFrame_NameWithBidiOverridesAndZeroWidth_CleanedOnReceipt", () => {
    const me = { id: "a", inc: "inc-a", name: "\u202Eadmin\u200B\u0007", since: 0, st: "online", v: 0 };
    const d = decodeFrame(JSON.stringify({ t: "p", r: "room1", me, reach: [], mem: [], gone: [] }));
    expect(d.ok && d.frame.t === "p" && d.frame.me.name).toBe("admin");
  });

  it("macInput_CoversEveryField", () => {
    const base = macInput(msg());
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
      expect(macInput(msg(change as Partial<MessageFrame>))).not.toBe(base);
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

describe("room MAC", () => {
  it("createRoomMac_SameTagsAsTheSimulationsMac", async () => {
    const web = await createRoomMac(ROOM_KEY, ROOM);
    const sync = syncRoomMac(ROOM_KEY, ROOM);
    const data = macInput(msg());
    const tag = await web.sign(data);
    expect(tag).toBe(sync.sign(data));
    expect(await web.verify(data, tag)).toBe(true);
    expect(await web.verify(data + " ", tag)).toBe(false);
    expect(await web.verify(data, "short")).toBe(false);
  });

  it("createRoomMac_OtherRoomOrKey_DifferentTag", async () => {
    const data = macInput(msg());
    const a = await (await createRoomMac(ROOM_KEY, ROOM)).sign(data);
    expect(await (await createRoomMac(ROOM_KEY, "room2")).sign(data)).not.toBe(a);
    expect(
      await (
        await createRoomMac(
          ROOM_KEY.map((b) => b ^ 1),
          ROOM,
        )
      ).sign(data),
    ).not.toBe(a);
  });

  it("createRoomMac_ShortKey_Throws", async () => {
    await expect(createRoomMac(new Uint8Array(8), ROOM)).rejects.toThrow(/short/);
  });
});

/** Three members with the real WebCrypto MAC; a and c have no direct link, so r relays. */
async function relayed() {
  const net = new SimNet(3);
  const macs = await Promise.all([0, 1, 2].map(async () => tracked(await createRoomMac(ROOM_KEY, ROOM))));
  const idle = async () => {
    for (const m of macs) await m.idle();
  };
  net.cut("a", "c");
  const a = new SimMember("a", net, { mac: macs[0] });
  const r = new SimMember("r", net, { mac: macs[1] });
  const c = new SimMember("c", net, { mac: macs[2] });
  const refused: string[] = [];
  c.room.events.on("refused", (x) => refused.push(x.reason));
  a.room.events.on("refused", (x) => refused.push(x.reason));
  await runAsync(net, net.now + 200, idle);
  return { net, a, r, c, refused, idle };
}

describe("relay through a member", () => {
  it("relay_HonestRelay_DeliversWithTheRealMac", async () => {
    const { net, a, c, idle } = await relayed();
    const id = a.say("via r")!;
    await runAsync(net, net.now + 200, idle);
    expect(c.received).toEqual([{ id, from: "a", text: "via r", via: "r" }]);
    expect(a.room.receipts(id)!.get("c")).toBe("delivered");
  });

  it("relay_AltersTextOrForgesAck_RefusedAndDeliveredAfterTheLinkHeals", async () => {
    const { net, a, c, refused, idle } = await relayed();
    // r changes every relayed message's text and, for each, makes up an ack "from c" (its MAC cannot be valid).
    net.tamper = (from, to, frame) => {
      if (from !== "r") return frame;
      const v = JSON.parse(frame) as Record<string, unknown>;
      if (v.t === "m" && v.f === "a") {
        net.at(net.now + 1, () =>
          a.room.receive("r", JSON.stringify({ t: "a", r: ROOM, f: "c", fi: c.room.inc, o: "a", oi: a.room.inc, n: v.n, rd: v.n, mac: v.mac })),
        );
        return JSON.stringify({ ...v, x: "forged text" });
      }
      return frame;
    };
    const id = a.say("the real text")!;
    await runAsync(net, net.now + 5000, idle);
    expect(c.received).toEqual([]);
    expect(refused.filter((x) => x === "bad-mac").length).toBeGreaterThanOrEqual(2);
    expect(a.room.receipts(id)!.get("c")).toBe("sending"); // the forged ack did not count
    expect(a.room.pendingFor("c")).toBe(1);
    net.tamper = null;
    net.heal("a", "c");
    await runAsync(net, net.now + 500, idle);
    expect(c.received.map((m) => m.text)).toEqual(["the real text"]);
    expect(a.room.receipts(id)!.get("c")).toBe("delivered");
  });

  it("relay_MessageMadeUpUnderAnotherKey_Refused", async () => {
    const { net, a, c, refused, idle } = await relayed();
    const other = await createRoomMac(
      ROOM_KEY.map((b) => b ^ 0xff),
      ROOM,
    );
    const body = { t: "m" as const, r: ROOM, f: "a", fi: a.room.inc, o: "c", oi: c.room.inc, n: 1, id: "fake1", at: 0, x: "I am a", ttl: null, bf: false };
    const mac = await other.sign(macInput(body));
    c.room.receive("r", JSON.stringify({ ...body, mac }));
    await runAsync(net, net.now + 50, idle);
    expect(c.received).toEqual([]);
    expect(refused).toContain("bad-mac");
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
      JSON.stringify(msg({ o: "b", oi: b.room.inc, f: "a", fi: a.room.inc })), // valid shape, wrong MAC
      JSON.stringify({ t: "p", r: "room1", me: { id: "mallory", inc: "inc-m", name: "m", since: 0, st: "online", v: 0 }, reach: [], mem: [], gone: [] }), // claims another id than its link
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
      "bad-mac",
      "bad-shape",
    ]);
    expect(b.room.members().map((m) => m.id)).toEqual(["a"]);
    a.say("still fine");
    net.run(net.now + 100);
    expect(b.received.map((m) => m.text)).toEqual(["still fine"]);
  });

  it("receive_FrameWithoutMac_OnlyOverTheOriginsOwnDirectLink", () => {
    const net = new SimNet(8);
    const a = new SimMember("a", net);
    const b = new SimMember("b", net);
    const c = new SimMember("c", net);
    net.run(net.now + 200);
    const reasons: string[] = [];
    b.room.events.on("refused", (x) => reasons.push(x.reason));
    const { mac: _mac, ...unsigned } = msg({ f: "a", fi: a.room.inc, o: "b", oi: b.room.inc, n: 1, id: "forged1", x: "claims to be from a" });
    // Over c's link, claiming a as its origin: refused. Wrapped for relaying: refused.
    b.room.receive("c", JSON.stringify(unsigned));
    b.room.receive("c", JSON.stringify({ t: "w", o: "b", x: JSON.stringify(unsigned) }));
    expect(reasons).toEqual(["bad-mac", "bad-mac"]);
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
    const { mac: _mac, ...unsigned } = msg(over);
    // Over a's own authenticated link (no MAC needed): times a Date cannot hold, or not whole milliseconds.
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
    const me = { id: "a", inc: "inc-a", name: "a", since: 1e300, st: "online", v: 0 };
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
