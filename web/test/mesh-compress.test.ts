import { randomBytes } from "node:crypto";
import { deflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { streamCodec, type Codec } from "../src/core/compress";
import { decodeFrame, MAX_FRAME_CHARS } from "../src/core/delivery/frames";
import { DEFLATE_MIN_CHARS } from "../src/core/room/compress";
import { SimMember, SimNet } from "./mesh-sim";

/** The codec, counting what it has under way, so the simulation can wait for it (no timing involved). */
function trackedCodec(codec: Codec = streamCodec): { codec: Codec; idle(): Promise<void> } {
  let pending = 0;
  const track = <X>(p: Promise<X>): Promise<X> => {
    pending++;
    return p.finally(() => pending--);
  };
  return {
    codec: { deflate: (b) => track(codec.deflate(b)), inflate: (b, l) => track(codec.inflate(b, l)) },
    async idle() {
      do await new Promise((r) => setTimeout(r, 1));
      while (pending > 0);
    },
  };
}

/** Runs the simulation, letting compression finish between steps. */
async function run(net: SimNet, ms: number, idle: () => Promise<void>) {
  const until = net.now + ms;
  while (net.now < until) {
    await idle();
    net.run(net.now + 5);
  }
  await idle();
}

const LONG = Array.from({ length: 24 }, (_, i) => `Line ${i}: the meeting moves to Thursday, bring the slides and the budget.`).join("\n");

function room(codecs: { a: Codec | null; b: Codec | null }) {
  const net = new SimNet(11);
  const frames: { from: string; frame: string }[] = [];
  net.tamper = (from, _to, frame) => (frames.push({ from, frame }), frame);
  const a = new SimMember("a", net, { codec: codecs.a });
  const b = new SimMember("b", net, { codec: codecs.b });
  const refused: string[] = [];
  b.room.events.on("refused", (r) => refused.push(r.reason));
  return { net, a, b, frames, refused };
}

const deflatedFrom = (frames: { from: string; frame: string }[], from: string) => frames.filter((f) => f.from === from && f.frame.startsWith('{"t":"z"'));

describe("long messages deflated", () => {
  it("bothInflate_LongMessage_GoesDeflatedShorter_ArrivesTheSame", async () => {
    const t = trackedCodec();
    const { net, a, b, frames } = room({ a: t.codec, b: t.codec });
    await run(net, 200, t.idle);
    expect(LONG.length).toBeGreaterThan(DEFLATE_MIN_CHARS);
    const id = a.say(LONG)!;
    await run(net, 200, t.idle);
    expect(b.received.map((r) => r.text)).toEqual([LONG]);
    expect(a.room.receipts(id)!.get("b")).toBe("delivered");
    const z = deflatedFrom(frames, "a");
    expect(z.length).toBe(1);
    expect(z[0]!.frame.length).toBeLessThan(LONG.length / 2);
  });

  it("shortMessage_AsItIs", async () => {
    const t = trackedCodec();
    const { net, a, b, frames } = room({ a: t.codec, b: t.codec });
    await run(net, 200, t.idle);
    a.say("see you at 5");
    await run(net, 200, t.idle);
    expect(b.received.map((r) => r.text)).toEqual(["see you at 5"]);
    expect(deflatedFrom(frames, "a")).toEqual([]);
  });

  it("smallerOnly_TextThatDoesNotDeflateBelowItsBase64_AsItIs", async () => {
    const t = trackedCodec();
    const { net, a, b, frames } = room({ a: t.codec, b: t.codec });
    await run(net, 200, t.idle);
    const noise = randomBytes(1500).toString("base64").slice(0, 1900);
    a.say(noise);
    await run(net, 200, t.idle);
    expect(b.received.map((r) => r.text)).toEqual([noise]);
    expect(deflatedFrom(frames, "a")).toEqual([]);
  });

  it("negotiated_AMemberThatDoesNotSayItInflates_GetsFramesAsTheyAre_BothWays", async () => {
    const t = trackedCodec();
    const { net, a, b, frames } = room({ a: t.codec, b: null });
    await run(net, 200, t.idle);
    expect(frames.filter((f) => f.from === "b" && f.frame.startsWith('{"t":"p"')).every((f) => !("z" in JSON.parse(f.frame)))).toBe(true);
    expect(frames.some((f) => f.from === "a" && f.frame.startsWith('{"t":"p"') && JSON.parse(f.frame).z === 1)).toBe(true);
    a.say(LONG);
    b.say(LONG + " (reply)");
    await run(net, 200, t.idle);
    expect(b.received.map((r) => r.text)).toEqual([LONG]);
    expect(a.received.map((r) => r.text)).toEqual([LONG + " (reply)"]);
    expect(deflatedFrom(frames, "a")).toEqual([]);
    expect(deflatedFrom(frames, "b")).toEqual([]);
  });

  it.each([
    ["a bomb", `{"t":"z","z":"${deflateRawSync(Buffer.alloc(10 * 1024 * 1024, 0x61)).toString("base64")}"}`],
    ["not DEFLATE", `{"t":"z","z":"${Buffer.alloc(300, 0xff).toString("base64")}"}`],
    ["not base64", '{"t":"z","z":"!!!!"}'],
    ["not UTF-8", `{"t":"z","z":"${deflateRawSync(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])).toString("base64")}"}`],
    ["an extra key", `{"t":"z","z":"${deflateRawSync(Buffer.from("{}")).toString("base64")}","x":1}`],
    ["over the frame limit inflated", `{"t":"z","z":"${deflateRawSync(Buffer.from(`"${"y".repeat(MAX_FRAME_CHARS)}"`)).toString("base64")}"}`],
  ])("malformed_%s_RefusedBadDeflate_TheMessageStillArrivesOnce", async (_name, bad) => {
    const t = trackedCodec();
    const { net, a, b, refused } = room({ a: t.codec, b: t.codec });
    await run(net, 200, t.idle);
    let first = true;
    net.tamper = (from, _to, frame) => (from === "a" && frame.startsWith('{"t":"z"') && first ? ((first = false), bad) : frame);
    a.say(LONG);
    await run(net, 3000, t.idle); // the outbox sends it again after 2 s
    expect(refused).toContain("bad-deflate");
    expect(b.received.map((r) => r.text)).toEqual([LONG]);
  });

  it("presence_zOtherThanOne_Refused", () => {
    const p = (z: unknown) =>
      JSON.stringify({
        t: "p",
        r: "room1",
        me: {
          i: { id: "a", inc: "inc-a", name: "a", since: 0, st: "online", v: 0 },
          c: { k: "B" + "A".repeat(86), e: 0, s: "A".repeat(86) },
          s: "A".repeat(86),
        },
        reach: [],
        mem: [],
        gone: [],
        z,
      });
    expect(decodeFrame(p(1))).toMatchObject({ ok: true, frame: { z: 1 } });
    expect(decodeFrame(p(2))).toEqual({ ok: false, reason: "bad-shape" });
    expect(decodeFrame(p("yes"))).toEqual({ ok: false, reason: "bad-shape" });
  });
});
