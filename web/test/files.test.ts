import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { FileLane } from "../src/core/connection/ports";
import {
  FileTransfers,
  MemoryStore,
  hashFile,
  inThreadHash,
  sanitiseFileName,
  sanitiseType,
  sniffPicture,
  stripJpegMetadata,
  type LaneSource,
  type StreamHash,
  type FileSource,
  type TransferView,
} from "../src/core/files";
import { CHUNK_HEADER, chunkLength, decodeChunk, decodeControl, encodeChunk } from "../src/core/files/wire";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const tick = () => new Promise<void>((r) => setTimeout(r, 0));
async function settle(rounds = 40) {
  for (let i = 0; i < rounds; i++) await tick();
}

/** One direction of a fake data channel: messages arrive a task later, in order; `cut` drops everything after. */
class FakeLane implements FileLane {
  other!: FakeLane;
  private handler: ((d: string | ArrayBuffer) => void) | null = null;
  private early: (string | ArrayBuffer)[] = [];
  private low: (() => void)[] = [];
  closed = false;
  sent: (string | ArrayBuffer)[] = [];
  /** Frames this side receives; a test may rewrite one or drop it (null). */
  tamper: ((d: string | ArrayBuffer) => string | ArrayBuffer | null) | null = null;
  send(data: string | ArrayBuffer): void {
    if (this.closed) throw new Error("closed");
    this.sent.push(data);
    const to = this.other;
    setTimeout(() => {
      if (to.closed) return;
      const d = to.tamper ? to.tamper(data) : data;
      if (d !== null) to.deliver(d);
      for (const l of this.low) l();
    }, 0);
  }
  deliver(d: string | ArrayBuffer): void {
    if (this.handler) this.handler(d);
    else this.early.push(d);
  }
  bufferedAmount(): number {
    return 0;
  }
  onMessage(h: (d: string | ArrayBuffer) => void): void {
    this.handler = h;
    for (const d of this.early.splice(0)) h(d);
  }
  onLow(h: () => void): void {
    this.low.push(h);
  }
}

/** Two members' lane sources; `link()` makes a new pair of lanes (a redial), `cut()` closes them. */
function network(a: string, b: string) {
  const sides = new Map<string, { lane: FakeLane | null; up: Set<(p: string) => void>; down: Set<(p: string) => void> }>([
    [a, { lane: null, up: new Set(), down: new Set() }],
    [b, { lane: null, up: new Set(), down: new Set() }],
  ]);
  const source = (self: string, peer: string): LaneSource => ({
    lane: (p) => (p === peer ? (sides.get(self)!.lane ?? null) : null),
    onUp: (fn) => (sides.get(self)!.up.add(fn), () => sides.get(self)!.up.delete(fn)),
    onDown: (fn) => (sides.get(self)!.down.add(fn), () => sides.get(self)!.down.delete(fn)),
  });
  return {
    source,
    sides,
    link() {
      const la = new FakeLane();
      const lb = new FakeLane();
      la.other = lb;
      lb.other = la;
      sides.get(a)!.lane = la;
      sides.get(b)!.lane = lb;
      for (const fn of sides.get(a)!.up) fn(b);
      for (const fn of sides.get(b)!.up) fn(a);
    },
    cut() {
      for (const [self, s] of sides) {
        if (s.lane) s.lane.closed = true;
        s.lane = null;
        for (const fn of s.down) fn(self === a ? b : a);
      }
    },
  };
}

function blobOf(bytes: Uint8Array, name = "data.bin", type = "application/octet-stream") {
  return Object.assign(new Blob([bytes as BlobPart], { type }), { name });
}

function pair(
  opts: { auto?: number; max?: number; window?: number; chunkSize?: number; hash?: () => StreamHash; hashFile?: (f: FileSource) => Promise<string> } = {},
) {
  const net = network("alice", "bob");
  const mk = (self: string, peer: string) =>
    new FileTransfers({
      lanes: net.source(self, peer),
      store: new MemoryStore(),
      autoAcceptBytes: () => opts.auto ?? 10 * 1024 * 1024,
      maxBytes: () => opts.max ?? 100 * 1024 * 1024,
      window: opts.window ?? 4,
      chunkSize: opts.chunkSize ?? 16 * 1024,
      hash: opts.hash,
      hashFile: opts.hashFile,
    });
  const alice = mk("alice", "bob");
  const bob = mk("bob", "alice");
  const seen = { alice: [] as TransferView[], bob: [] as TransferView[] };
  alice.events.on("changed", (v) => seen.alice.push(v));
  bob.events.on("changed", (v) => seen.bob.push(v));
  const refused: string[] = [];
  bob.events.on("refused", (e) => refused.push(e.reason));
  net.link();
  const last = (who: "alice" | "bob") => seen[who][seen[who].length - 1]!;
  return { net, alice, bob, seen, last, refused };
}

async function text(blob: Blob): Promise<Uint8Array> {
  return new Uint8Array(await blob.arrayBuffer());
}

describe("file names", () => {
  it("sanitiseFileName_PathsControlBidiReserved_OneSafeName", () => {
    expect(sanitiseFileName("../../etc/passwd")).toBe("_.._etc_passwd");
    expect(sanitiseFileName("C:\\Windows\\evil.exe")).toBe("C__Windows_evil.exe");
    expect(sanitiseFileName("invoice\u202Efdp.exe")).toBe("invoicefdp.exe");
    expect(sanitiseFileName("a\u0000b\u0007c\nd.txt")).toBe("abcd.txt");
    expect(sanitiseFileName("zero\u200Bwidth.png")).toBe("zerowidth.png");
    expect(sanitiseFileName("CON")).toBe("_CON");
    expect(sanitiseFileName("lpt1.txt")).toBe("_lpt1.txt");
    expect(sanitiseFileName(".hidden")).toBe("hidden");
    expect(sanitiseFileName("trailing. . ")).toBe("trailing");
    expect(sanitiseFileName("...")).toBe("file");
    expect(sanitiseFileName("")).toBe("file");
    expect(sanitiseFileName('a<b>c:"d|e?f*g')).toBe("a_b_c__d_e_f_g");
  });

  it("sanitiseFileName_TooLong_CutKeepingExtension", () => {
    const n = sanitiseFileName("x".repeat(500) + ".jpeg");
    expect([...n].length).toBe(120);
    expect(n.endsWith(".jpeg")).toBe(true);
    expect([...sanitiseFileName("😀".repeat(300))].length).toBe(120);
  });

  it("sanitiseType_NotAMediaType_OctetStream", () => {
    expect(sanitiseType("Image/PNG")).toBe("image/png");
    expect(sanitiseType("text/html; charset=utf-8")).toBe("application/octet-stream");
    expect(sanitiseType("")).toBe("application/octet-stream");
    expect(sanitiseType("../x")).toBe("application/octet-stream");
  });

  it("sniffPicture_RasterSignatures_SvgAndHtmlNot", () => {
    expect(sniffPicture(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe("image/png");
    expect(sniffPicture(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))).toBe("image/jpeg");
    expect(sniffPicture(new TextEncoder().encode("GIF89a..."))).toBe("image/gif");
    expect(sniffPicture(new TextEncoder().encode("RIFF\0\0\0\0WEBPVP8 "))).toBe("image/webp");
    expect(sniffPicture(new TextEncoder().encode("\0\0\0\x1cftypavif"))).toBe("image/avif");
    expect(sniffPicture(new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'))).toBeNull();
    expect(sniffPicture(new TextEncoder().encode("<html><img src=x onerror=alert(1)>"))).toBeNull();
  });
});

/** A small baseline JPEG as a camera writes it: SOI, APP0 JFIF, APP1 Exif with a GPS IFD, APP1 XMP, APP2 ICC, DQT, SOS, data, EOI. */
function cameraJpeg(): { file: Uint8Array; gps: string } {
  const seg = (marker: number, body: Uint8Array) => {
    const out = new Uint8Array(4 + body.length);
    out.set([0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff]);
    out.set(body, 4);
    return out;
  };
  const enc = (s: string) => new TextEncoder().encode(s);
  const gps = "GPS 48.8584N 2.2945E";
  const parts = [
    new Uint8Array([0xff, 0xd8]),
    seg(0xe0, enc("JFIF\0\x01\x02\0\0\x01\0\x01\0\0")),
    seg(0xe1, enc(`Exif\0\0MM\0*\0\0\0\x08 ${gps} Canon EOS`)),
    seg(0xe1, enc("http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>exif:GPSLatitude</x:xmpmeta>")),
    seg(0xed, enc("Photoshop 3.0\x008BIM IPTC city")),
    seg(0xe2, enc("ICC_PROFILE\0\x01\x01profile")),
    seg(0xdb, new Uint8Array(65)),
    new Uint8Array([0xff, 0xda, 0, 8, 1, 1, 0, 0, 0x3f, 0, 0x12, 0x34, 0xff, 0x00, 0x56, 0xff, 0xd9]),
  ];
  const file = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) file.set(p, (at += p.length) - p.length);
  return { file, gps };
}

describe("JPEG metadata", () => {
  it("stripJpegMetadata_ExifXmpIptc_RemovedPictureKept", () => {
    const { file, gps } = cameraJpeg();
    const r = stripJpegMetadata(file)!;
    expect(r.removed).toBe(3);
    const out = new TextDecoder("latin1").decode(r.bytes);
    expect(out).not.toContain(gps);
    expect(out).not.toContain("Exif");
    expect(out).not.toContain("xmpmeta");
    expect(out).not.toContain("IPTC");
    expect(out).toContain("JFIF");
    expect(out).toContain("ICC_PROFILE");
    // The scan, from SOS to EOI, unchanged.
    const sos = file.indexOf(0xda, 2) - 1;
    expect([...r.bytes.subarray(r.bytes.length - (file.length - sos))]).toEqual([...file.subarray(sos)]);
  });

  it("stripJpegMetadata_NoMetadata_SameBytes_NotJpegOrTruncated_Null", () => {
    const { file } = cameraJpeg();
    const once = stripJpegMetadata(file)!.bytes;
    const twice = stripJpegMetadata(once)!;
    expect(twice.removed).toBe(0);
    expect(twice.bytes).toBe(once);
    expect(stripJpegMetadata(new TextEncoder().encode("not a jpeg"))).toBeNull();
    expect(stripJpegMetadata(file.subarray(0, 30))).toBeNull();
    const badLength = file.slice();
    badLength[4] = 0xff; // APP0's length past the end
    expect(stripJpegMetadata(badLength)).toBeNull();
  });
});

describe("file wire format", () => {
  it("decodeControl_Malformed_Refused", () => {
    expect(decodeControl("{").ok).toBe(false);
    expect(decodeControl("x".repeat(3000))).toEqual({ ok: false, reason: "too-large" });
    const offer = { t: "fo", id: "AAAAAAAAAAAAAAAA", name: "a", size: 10, type: "text/plain", sha: "0".repeat(64), cs: 16384, w: 64 };
    expect(decodeControl(JSON.stringify(offer)).ok).toBe(true);
    for (const bad of [
      { ...offer, id: "../../x" },
      { ...offer, size: -1 },
      { ...offer, size: 1.5 },
      { ...offer, size: 2 ** 60 },
      { ...offer, sha: "z".repeat(64) },
      { ...offer, cs: 1 },
      { ...offer, cs: 1 << 20 },
      { ...offer, w: 0 },
      { ...offer, w: 5000 },
      { ...offer, name: 5 },
      { ...offer, name: "n".repeat(600) },
      { t: "fa", id: offer.id, from: -1 },
      { t: "fk", id: offer.id, n: "3" },
      { t: "fx", id: offer.id, why: "because" },
      { t: "zz", id: offer.id },
      [offer],
    ])
      expect(decodeControl(JSON.stringify(bad))).toEqual({ ok: false, reason: "bad-shape" });
  });

  it("decodeChunk_HeaderChecked_IndexAndPayloadRoundTrip", () => {
    const payload = randomBytes(100);
    const c = decodeChunk(encodeChunk("AAAAAAAAAAAAAAAA", 70000, payload));
    expect(c).toMatchObject({ ok: true, id: "AAAAAAAAAAAAAAAA", index: 70000 });
    expect(c.ok && Buffer.from(c.payload).equals(payload)).toBe(true);
    expect(decodeChunk(new ArrayBuffer(5)).ok).toBe(false);
    expect(decodeChunk(new ArrayBuffer(CHUNK_HEADER + 64 * 1024 + 1)).ok).toBe(false);
    const wrongVersion = new Uint8Array(encodeChunk("AAAAAAAAAAAAAAAA", 0, payload));
    wrongVersion[0] = 9;
    expect(decodeChunk(wrongVersion.buffer).ok).toBe(false);
    const badId = new Uint8Array(encodeChunk("AAAAAAAAAAAAAAAA", 0, payload));
    badId[3] = "/".charCodeAt(0);
    expect(decodeChunk(badId.buffer).ok).toBe(false);
  });

  it("chunkLength_LastShort_PastEndRefused", () => {
    expect(chunkLength(100, 40, 0)).toBe(40);
    expect(chunkLength(100, 40, 2)).toBe(20);
    expect(chunkLength(100, 40, 3)).toBe(-1);
    expect(chunkLength(80, 40, 2)).toBe(-1);
    expect(chunkLength(100, 40, -1)).toBe(-1);
  });
});

describe("file transfers", () => {
  it("hashFile_InSlices_SameAsWholeSha256", async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    expect(await hashFile(blobOf(bytes))).toBe(sha(bytes));
  });

  it("inThreadHash_BytesGivenBeforeTheModuleLoaded_ThenReusedBuffers_RightDigest", async () => {
    // The hash module loads on first use: updates made at once are kept (copied) until it has, and
    // later ones are hashed as they come, so a caller may reuse its buffer after each update.
    const parts = [randomBytes(70_000), randomBytes(1), randomBytes(300_000), randomBytes(5)];
    const h = inThreadHash();
    const scratch = new Uint8Array(300_000);
    for (const [i, p] of parts.entries()) {
      if (i === 2) await settle(20);
      const view = scratch.subarray(0, p.length);
      view.set(p);
      h.update(view);
      scratch.fill(0xee);
    }
    expect(await h.digest()).toBe(sha(Buffer.concat(parts)));
    expect(await inThreadHash().digest()).toBe(sha(new Uint8Array(0)));
  });

  it("send_SmallFile_ArrivesWithTheRightHashAndBothSidesDone", async () => {
    const { alice, last } = pair();
    const bytes = randomBytes(100_000);
    await alice.send(blobOf(bytes, "report.pdf", "application/pdf"), ["bob"]);
    await settle(200);
    expect(last("bob")).toMatchObject({ dir: "in", state: "done", name: "report.pdf", type: "application/pdf", size: 100_000, bytes: 100_000 });
    expect(sha(await text(last("bob").blob!))).toBe(sha(bytes));
    expect(last("alice")).toMatchObject({ dir: "out", state: "done", bytes: 100_000 });
  });

  it("send_EmptyFile_Done", async () => {
    const { alice, last } = pair();
    await alice.send(blobOf(new Uint8Array(0), "empty.txt", "text/plain"), ["bob"]);
    await settle();
    expect(last("bob")).toMatchObject({ state: "done", size: 0 });
    expect(last("alice").state).toBe("done");
  });

  it("send_WindowBoundsChunksInFlight", async () => {
    const { alice, net } = pair({ window: 4 });
    const bobLane = () => net.sides.get("bob")!.lane!;
    // Bob's acknowledgements never reach Alice: she stops 4 chunks ahead.
    net.sides.get("alice")!.lane!.tamper = (d) => (typeof d === "string" && d.includes('"fk"') ? null : d);
    await alice.send(blobOf(randomBytes(40 * 16 * 1024)), ["bob"]);
    await settle(100);
    const chunks = net.sides.get("alice")!.lane!.sent.filter((d) => typeof d !== "string");
    expect(chunks.length).toBe(4);
    expect(bobLane()).toBeTruthy();
  });

  it("offer_AboveAutoLimit_AskedThenAccepted_AboveMax_RefusedTooLarge", async () => {
    const { alice, bob, last } = pair({ auto: 10_000, max: 200_000 });
    const bytes = randomBytes(50_000);
    const id = await alice.send(blobOf(bytes), ["bob"]);
    await settle();
    expect(last("bob").state).toBe("asking");
    expect(last("alice").state).toBe("offered");
    bob.accept("alice", id);
    await settle(200);
    expect(last("bob").state).toBe("done");
    await alice.send(blobOf(randomBytes(300_000)), ["bob"]);
    await settle();
    expect(last("bob")).toMatchObject({ state: "failed", reason: "too-large" });
    expect(last("alice")).toMatchObject({ state: "failed", reason: "too-large" });
  });

  it("offers_MoreThan16OpenFromOneMember_TheRestDeclined", async () => {
    const { alice, seen } = pair({ auto: 0 });
    for (let i = 0; i < 18; i++) await alice.send(blobOf(randomBytes(100), `f${i}.bin`), ["bob"]);
    await settle();
    const last = new Map(seen.bob.map((v) => [v.id, v.state]));
    expect([...last.values()].filter((s) => s === "asking").length).toBe(16);
    expect([...last.values()].filter((s) => s === "cancelled").length).toBe(2);
  });

  it("cancel_BySenderOrReceiver_BothSidesCancelled", async () => {
    for (const who of ["alice", "bob"] as const) {
      const p = pair({ auto: 0 });
      const id = await p.alice.send(blobOf(randomBytes(50_000)), ["bob"]);
      await settle();
      if (who === "alice") p.alice.cancel(id);
      else p.bob.cancel(id, "alice");
      await settle();
      expect(p.last("alice").state).toBe("cancelled");
      expect(p.last("bob").state).toBe("cancelled");
    }
  });

  it("peerGone_MidTransfer_BothSidesEndGone_PartialDiscarded", async () => {
    const { alice, bob, net, last } = pair({ window: 4 });
    let delivered = 0;
    net.sides.get("bob")!.lane!.tamper = (d) => {
      if (typeof d !== "string" && ++delivered === 10) queueMicrotask(() => net.cut());
      return d;
    };
    await alice.send(blobOf(randomBytes(60 * 16 * 1024)), ["bob"]);
    await settle(200);
    expect(last("bob").state).toBe("paused");
    alice.peerGone("bob");
    bob.peerGone("alice");
    await settle();
    expect(last("alice")).toMatchObject({ state: "failed", reason: "gone" });
    expect(last("bob")).toMatchObject({ state: "failed", reason: "gone" });
    expect(last("bob").blob).toBeUndefined();
  });

  it("redial_NewLane_ResumesFromLastVerifiedChunk_NoChunkSentTwiceAfterIt", async () => {
    const { alice, net, last } = pair({ window: 4 });
    const bytes = randomBytes(60 * 16 * 1024 + 5);
    let delivered = 0;
    net.sides.get("bob")!.lane!.tamper = (d) => {
      if (typeof d !== "string" && ++delivered === 20) queueMicrotask(() => net.cut());
      return d;
    };
    await alice.send(blobOf(bytes), ["bob"]);
    await settle(200);
    expect(last("bob").state).toBe("paused");
    const verified = last("bob").bytes / (16 * 1024);
    expect(verified).toBeGreaterThan(0);
    net.link();
    await settle(400);
    expect(last("bob").state).toBe("done");
    expect(sha(await text(last("bob").blob!))).toBe(sha(bytes));
    expect(last("alice").state).toBe("done");
    // The new lane started at the resume point, not at chunk 0.
    const first = net.sides.get("alice")!.lane!.sent.find((d) => typeof d !== "string") as ArrayBuffer;
    expect((decodeChunk(first) as { index: number }).index).toBe(verified);
  });

  it("redial_WhileTheSenderIsReadingAChunk_StillGoesOn", async () => {
    // The sender's disk is slow: the link is made anew while a chunk read is pending.
    const { alice, net, last } = pair({ window: 4 });
    // 4 MiB: four reads to hash it, then one read per MiB of chunks; the 6th read is the second block of chunks.
    const bytes = randomBytes(4 * 1024 * 1024);
    const blob = blobOf(bytes);
    let reads = 0;
    const slow = {
      name: "slow.bin",
      size: blob.size,
      type: blob.type,
      slice: (a: number, b: number) => ({
        arrayBuffer: async () => {
          if (++reads === 6) {
            net.cut();
            net.link();
          }
          await new Promise((r) => setTimeout(r, reads === 6 ? 30 : 1));
          return blob.slice(a, b).arrayBuffer();
        },
      }),
    };
    await alice.send(slow, ["bob"]);
    await settle(600);
    expect(last("bob").state).toBe("done");
    expect(sha(await text(last("bob").blob!))).toBe(sha(bytes));
  });

  it("iceRestart_SameLaneUp_NoOfferAgain", async () => {
    const { alice, net, last } = pair();
    const bytes = randomBytes(200_000);
    await alice.send(blobOf(bytes), ["bob"]);
    // A stall and recovery on the same connection: the up handlers run again with the same lane.
    for (const fn of net.sides.get("alice")!.up) fn("bob");
    await settle(300);
    expect(last("bob").state).toBe("done");
    expect(net.sides.get("alice")!.lane!.sent.filter((d) => typeof d === "string" && d.includes('"fo"')).length).toBe(1);
  });

  it("badChunks_OutOfRangeDuplicateWrongLengthForeign_TransferFailedOthersUnaffected", async () => {
    const cases: [string, (d: ArrayBuffer) => ArrayBuffer][] = [
      ["out of range", (d) => rewriteIndex(d, 9999)],
      ["duplicate", (d) => rewriteIndex(d, 0)],
      ["wrong length", (d) => d.slice(0, d.byteLength - 1)],
      ["oversized", () => new ArrayBuffer(CHUNK_HEADER + 70_000)],
    ];
    for (const [, mutate] of cases) {
      const { alice, net, last, seen, refused } = pair({ window: 64 });
      let n = 0;
      let victim = "";
      net.sides.get("bob")!.lane!.tamper = (d) => {
        if (typeof d === "string") return d;
        const c = decodeChunk(d);
        return c.ok && c.id === victim && ++n === 3 ? mutate(d) : d;
      };
      const good = randomBytes(30_000);
      // A second transfer alongside, from the same member, must finish untouched.
      const other = alice.send(blobOf(good, "other.bin"), ["bob"]);
      victim = await alice.send(blobOf(randomBytes(100_000), "victim.bin"), ["bob"]);
      await other;
      await settle(300);
      const v = seen.bob.filter((x) => x.id === victim).pop()!;
      expect(v).toMatchObject({ state: "failed" });
      expect(refused.length).toBeGreaterThan(0);
      const o = seen.bob.filter((x) => x.name === "other.bin").pop()!;
      expect(o.state).toBe("done");
      expect(sha(await text(o.blob!))).toBe(sha(good));
      expect(seen.alice.filter((x) => x.id === victim).pop()!.state).toBe("failed");
      expect(last("bob")).toBeTruthy();
    }
  });

  it("hashMismatch_BytesNotWhatTheOfferSaid_FailedNotDone", async () => {
    const { alice, net, last } = pair();
    net.sides.get("bob")!.lane!.tamper = (d) => {
      if (typeof d === "string") return d;
      const b = new Uint8Array(d.slice(0));
      b[CHUNK_HEADER] = b[CHUNK_HEADER]! ^ 1;
      return b.buffer;
    };
    await alice.send(blobOf(randomBytes(40_000)), ["bob"]);
    await settle(200);
    expect(last("bob")).toMatchObject({ state: "failed", reason: "hash-mismatch" });
    expect(last("bob").blob).toBeUndefined();
    expect(last("alice")).toMatchObject({ state: "failed", reason: "hash-mismatch" });
  });

  it("hashFile_Injected_TheSenderOffersItsDigest_AWrongOneFailsAtTheReceiver", async () => {
    // As the page does: the sender's whole-file hash comes from a worker; the offer carries its answer.
    const bytes = randomBytes(70_000);
    let asked = 0;
    const good = pair({
      hashFile: async (f) => {
        asked++;
        return hashFile(f);
      },
    });
    await good.alice.send(blobOf(bytes), ["bob"]);
    await settle(200);
    expect(asked).toBe(1);
    expect(good.last("bob")).toMatchObject({ state: "done", bytes: 70_000 });
    const bad = pair({ hashFile: () => Promise.resolve("ab".repeat(32)) });
    await bad.alice.send(blobOf(bytes), ["bob"]);
    await settle(200);
    expect(bad.last("bob")).toMatchObject({ state: "failed", reason: "hash-mismatch" });
  });

  it("hash_InjectedAnsweringLater_DoneWithTheRightHash_AWrongDigestFails", async () => {
    // As the page's worker does: bytes copied as they come, the digest answered in a later task.
    const later = (wrong: boolean) => (): StreamHash => {
      const h = inThreadHash();
      return {
        update: (b) => h.update(b.slice()),
        digest: async () => {
          await settle(5);
          return wrong ? "00".repeat(32) : h.digest();
        },
      };
    };
    const good = pair({ hash: later(false) });
    const bytes = randomBytes(100_000);
    await good.alice.send(blobOf(bytes), ["bob"]);
    await settle(200);
    expect(good.last("bob")).toMatchObject({ state: "done", bytes: 100_000 });
    expect(sha(await text(good.last("bob").blob!))).toBe(sha(bytes));
    const bad = pair({ hash: later(true) });
    await bad.alice.send(blobOf(bytes), ["bob"]);
    await settle(200);
    expect(bad.last("bob")).toMatchObject({ state: "failed", reason: "hash-mismatch" });
  });

  it("chunkForAnotherMembersTransfer_Refused_NoWrite", async () => {
    // Carol knows the id of Alice's transfer to Bob and sends Bob a chunk under it: Bob keys
    // transfers by their sender, so the chunk names nothing of Carol's.
    const net = network("carol", "bob");
    const bob = new FileTransfers({ lanes: net.source("bob", "carol"), store: new MemoryStore(), autoAcceptBytes: () => 1e9, maxBytes: () => 1e9 });
    const refused: string[] = [];
    bob.events.on("refused", (e) => refused.push(e.reason));
    net.link();
    net.sides.get("carol")!.lane!.send(encodeChunk("AAAAAAAAAAAAAAAA", 0, new Uint8Array(10)));
    net.sides.get("carol")!.lane!.send("not json");
    await settle();
    expect(refused).toEqual(["unknown-transfer", "not-json"]);
    expect(bob.views()).toEqual([]);
  });

  it("receive_RandomFramesOnTheLane_NeverThrows_OnlyRefusals_ATransferAlongsideFinishes", async () => {
    const { alice, net, seen, refused } = pair();
    const good = randomBytes(80_000);
    await alice.send(blobOf(good, "good.bin"), ["bob"]);
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const lane = net.sides.get("alice")!.lane!;
    for (let i = 0; i < 300; i++) {
      const n = Math.floor(rnd() * 200);
      const bytes = Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
      if (i % 3 === 0) bytes[0] = 1; // a chunk header's version, so the id check is reached
      if (i % 2 === 0) lane.send(bytes.buffer);
      else
        lane.send(
          i % 4 === 1 ? String.fromCharCode(...bytes) : JSON.stringify({ t: ["fo", "fa", "fk", "fd", "fx"][i % 5], id: "A".repeat(16), n: -i, from: "x" }),
        );
    }
    await settle(300);
    expect(refused.length).toBeGreaterThan(250);
    expect(seen.bob.filter((v) => v.name === "good.bin").pop()).toMatchObject({ state: "done" });
  });

  it("lateJoiner_LinkUpAfterTheSend_GetsNoOffer", async () => {
    const ab = network("alice", "bob");
    const ac = network("alice", "carol");
    const lanes: LaneSource = {
      lane: (p) => (p === "bob" ? ab.source("alice", "bob").lane(p) : ac.source("alice", "carol").lane(p)),
      onUp: (fn) => (ab.source("alice", "bob").onUp(fn), ac.source("alice", "carol").onUp(fn), () => undefined),
      onDown: () => () => undefined,
    };
    const alice = new FileTransfers({ lanes, store: new MemoryStore(), autoAcceptBytes: () => 1e9, maxBytes: () => 1e9 });
    const carol = new FileTransfers({ lanes: ac.source("carol", "alice"), store: new MemoryStore(), autoAcceptBytes: () => 1e9, maxBytes: () => 1e9 });
    const carolSaw: TransferView[] = [];
    carol.events.on("changed", (v) => carolSaw.push(v));
    ab.link();
    await alice.send(blobOf(randomBytes(20_000)), ["bob"]);
    ac.link();
    await settle(100);
    expect(carolSaw).toEqual([]);
    expect(ac.sides.get("alice")!.lane!.sent).toEqual([]);
  });

  it("group_OneFileTwoMembers_BothReceiveIt", async () => {
    // Alice's lanes to Bob and to Carol.
    const ab = network("alice", "bob");
    const ac = network("alice", "carol");
    const up = new Set<(p: string) => void>();
    const lanes: LaneSource = {
      lane: (p) => (p === "bob" ? ab.source("alice", "bob").lane(p) : ac.source("alice", "carol").lane(p)),
      onUp: (fn) => (up.add(fn), ab.source("alice", "bob").onUp(fn), ac.source("alice", "carol").onUp(fn), () => up.delete(fn)),
      onDown: () => () => undefined,
    };
    const alice = new FileTransfers({ lanes, store: new MemoryStore(), autoAcceptBytes: () => 1e9, maxBytes: () => 1e9, window: 4 });
    const got: TransferView[] = [];
    for (const [net, self] of [
      [ab, "bob"],
      [ac, "carol"],
    ] as const) {
      const r = new FileTransfers({ lanes: net.source(self, "alice"), store: new MemoryStore(), autoAcceptBytes: () => 1e9, maxBytes: () => 1e9 });
      r.events.on("changed", (v) => v.state === "done" && got.push(v));
    }
    ab.link();
    ac.link();
    const bytes = randomBytes(150_000);
    await alice.send(blobOf(bytes), ["bob", "carol"]);
    await settle(400);
    expect(got.length).toBe(2);
    for (const v of got) expect(sha(await text(v.blob!))).toBe(sha(bytes));
    expect(alice.views()[0]).toMatchObject({ state: "done", bytes: 300_000, total: 300_000 });
  });
});

function rewriteIndex(d: ArrayBuffer, index: number): ArrayBuffer {
  const copy = d.slice(0);
  new DataView(copy).setUint32(17, index, false);
  return copy;
}
