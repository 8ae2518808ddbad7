import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { InflateError, deflateIfSmaller, fflateCodec, hasPlatformDeflate, inflateExactly, streamCodec, type Codec } from "../src/core/compress";

const text = new TextEncoder().encode("The quick brown fox jumps over the lazy dog. ".repeat(400));

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "accepted";
  } catch (e) {
    return e instanceof InflateError ? e.reason : `threw ${String(e)}`;
  }
}

describe.each([
  ["platform streams", streamCodec],
  ["fflate", fflateCodec],
] as [string, Codec][])("compress (%s)", (_name, codec) => {
  it("deflate_Text_InflatesBackToTheSameBytes", async () => {
    const z = await codec.deflate(text);
    expect(z.length).toBeLessThan(text.length / 10);
    expect(await inflateExactly(codec, z, text.length)).toEqual(text);
  });

  it("deflateIfSmaller_RandomBytes_Null_Text_Smaller", async () => {
    expect(await deflateIfSmaller(codec, new Uint8Array(randomBytes(64 * 1024)))).toBeNull();
    expect((await deflateIfSmaller(codec, text))!.length).toBeLessThan(text.length);
  });

  it("inflate_Bomb_RefusedTooLarge_StopsEarly", async () => {
    // 50 MiB of zeros deflate to about 50 KB: inflating it against a 64 KiB limit must stop there.
    const bomb = await codec.deflate(new Uint8Array(50 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(64 * 1024);
    expect(await refusal(codec.inflate(bomb, 64 * 1024))).toBe("too-large");
  });

  it("inflateExactly_OneByteMoreOrLessThanDeclared_Refused", async () => {
    const z = await codec.deflate(text);
    expect(await refusal(inflateExactly(codec, z, text.length - 1))).toBe("too-large");
    expect(await refusal(inflateExactly(codec, z, text.length + 1))).toBe("bad-data");
  });

  it("inflate_GarbageTruncatedEmpty_RefusedBadData", async () => {
    const z = await codec.deflate(text);
    expect(await refusal(codec.inflate(new Uint8Array(100).fill(0xff), 1 << 20))).toBe("bad-data");
    expect(await refusal(codec.inflate(z.subarray(0, z.length - 5), 1 << 20))).toBe("bad-data");
    expect(await refusal(codec.inflate(new Uint8Array(0), 1 << 20))).toBe("bad-data");
    for (let i = 0; i < 50; i++) {
      const r = await refusal(codec.inflate(new Uint8Array(randomBytes(1 + ((i * 37) % 300))), 4096));
      expect(["bad-data", "too-large", "accepted"]).toContain(r);
    }
  });
});

describe("compress codecs", () => {
  it("platformAndFflate_SameFormat_EachInflatesTheOthers", async () => {
    expect(hasPlatformDeflate()).toBe(true); // Node 20 has CompressionStream("deflate-raw")
    expect(await fflateCodec.inflate(await streamCodec.deflate(text), text.length)).toEqual(text);
    expect(await streamCodec.inflate(await fflateCodec.deflate(text), text.length)).toEqual(text);
  });
});
