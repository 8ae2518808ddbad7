import { describe, expect, it } from "vitest";
import { ADAPT_MAX_WINDOW, ADAPT_MIN_WINDOW, SendWindow, TARGET_QUEUE_MS, chooseChunkSize } from "../src/core/files/adapt";
import { MAX_CHUNK, MIN_CHUNK } from "../src/core/files/wire";

/**
 * A simulated link: a bottleneck of `rate` bytes/s (a FIFO queue), `delay` ms each way, and a
 * receiver that acknowledges every 4 chunks as they arrive (as the real one does with the offer's
 * w = 16). The sender keeps `window.window` chunks in flight. Simulated time only: no timers.
 */
function simulate(
  win: SendWindow | { window: number; sent(): void; acked(): void },
  link: { rate: (t: number) => number; delay: number },
  opts: { chunk?: number; chunks: number },
) {
  const cs = opts.chunk ?? 64 * 1024;
  let now = 0;
  let next = 0;
  let acked = 0;
  let departs = 0;
  const acks: { at: number; n: number }[] = [];
  const samples: { at: number; rtt: number; window: number }[] = [];
  const sentAt: number[] = [];
  while (acked < opts.chunks) {
    while (next < opts.chunks && next - acked < win.window) {
      sentAt[next] = now;
      win.sent(next, cs, now);
      departs = Math.max(departs, now) + (cs / link.rate(now)) * 1000;
      const arrives = departs + link.delay;
      if ((next + 1) % 4 === 0 || next + 1 === opts.chunks) acks.push({ at: arrives + link.delay, n: next + 1 });
      next++;
    }
    const a = acks.shift()!;
    now = Math.max(now, a.at);
    acked = a.n;
    win.acked(a.n, now);
    samples.push({ at: now, rtt: now - sentAt[a.n - 1]!, window: win.window });
  }
  const rateOver = (from: number, to: number) => {
    const inRange = samples.filter((s) => s.at >= from && s.at <= to);
    const first = inRange[0];
    const last = inRange[inRange.length - 1];
    if (!first || !last || last.at === first.at) return 0;
    // Chunks acked between the two samples (4 per ack) over the time between them.
    return ((inRange.length - 1) * 4 * cs * 1000) / (last.at - first.at);
  };
  return { samples, end: now, rateOver };
}

const MB = 1024 * 1024;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe("file send window", () => {
  it("longFatLink_WindowGrowsUntilTheLinkIsFull", () => {
    // 100 MB/s with a 100 ms round trip: 10 MB in flight needed, the start window holds 2 MB.
    const w = new SendWindow();
    const { samples, end, rateOver } = simulate(w, { rate: () => 100 * MB, delay: 50 }, { chunks: 8000 });
    expect(Math.max(...samples.map((s) => s.window))).toBeGreaterThan(150);
    expect(rateOver(end / 2, end)).toBeGreaterThan(0.8 * 100 * MB);
  });

  it("slowLink_QueueKeptNearTheTarget_LinkStillFull", () => {
    // 1 MB/s, 20 ms each way (a relayed path). A fixed window of 64 chunks of 64 KiB queues 4 s.
    const w = new SendWindow();
    const { samples, end, rateOver } = simulate(w, { rate: () => 1 * MB, delay: 20 }, { chunks: 1500 });
    const late = samples.filter((s) => s.at > end / 2);
    // Each chunk alone takes 64 ms on this link: the least the queue can be is the window's floor.
    const floor = ((ADAPT_MIN_WINDOW * 64 * 1024) / MB) * 1000;
    expect(median(late.map((s) => s.rtt))).toBeLessThan(40 + floor + 2 * TARGET_QUEUE_MS);
    expect(rateOver(end / 2, end)).toBeGreaterThan(0.9 * MB);
    const fixed = simulate({ window: 64, sent: () => undefined, acked: () => undefined }, { rate: () => 1 * MB, delay: 20 }, { chunks: 1500 });
    expect(median(fixed.samples.filter((s) => s.at > fixed.end / 2).map((s) => s.rtt))).toBeGreaterThan(3000);
  });

  it("linkSlowsDown_WindowShrinks_RoundTripComesBack_ThenGrowsWhenItSpeedsUp", () => {
    // 20 MB/s with 5 ms each way; 20 s → 2 MB/s; 40 s → 20 MB/s again.
    const rate = (t: number) => (t >= 20_000 && t < 40_000 ? 2 * MB : 20 * MB);
    const w = new SendWindow();
    const { samples, rateOver } = simulate(w, { rate, delay: 5 }, { chunks: 20 * 320 + 20 * 32 + 20 * 320 });
    const during = samples.filter((s) => s.at > 25_000 && s.at < 40_000);
    const before = samples.filter((s) => s.at > 10_000 && s.at < 20_000);
    expect(median(during.map((s) => s.window))).toBeLessThan(median(before.map((s) => s.window)));
    // Once adapted, the slow link's queue is short: at most the floor window (8 × 64 KiB = 250 ms at 2 MB/s) and the target.
    expect(median(during.map((s) => s.rtt))).toBeLessThan(10 + 250 + 2 * TARGET_QUEUE_MS);
    expect(rateOver(25_000, 40_000)).toBeGreaterThan(0.9 * 2 * MB);
    const after = samples.filter((s) => s.at > 40_000);
    expect(Math.max(...after.map((s) => s.window))).toBeGreaterThan(median(during.map((s) => s.window)));
    expect(rateOver(45_000, Infinity)).toBeGreaterThan(0.8 * 20 * MB);
  });

  it("window_AlwaysWithinItsBounds", () => {
    const w = new SendWindow({ min: 8, max: 40, start: 30 });
    const { samples } = simulate(w, { rate: (t) => (Math.floor(t / 3000) % 2 ? 0.5 : 50) * MB, delay: 10 }, { chunks: 3000 });
    expect(Math.min(...samples.map((s) => s.window))).toBeGreaterThanOrEqual(8);
    expect(Math.max(...samples.map((s) => s.window))).toBeLessThanOrEqual(40);
    expect(new SendWindow({ start: 10_000 }).window).toBe(ADAPT_MAX_WINDOW);
    expect(new SendWindow({ start: 1 }).window).toBe(ADAPT_MIN_WINDOW);
  });

  it("restart_ForgetsWhatWasInFlight_EstimatesKept", () => {
    const w = new SendWindow();
    for (let i = 0; i < 32; i++) w.sent(i, 65536, i);
    w.acked(32, 100);
    expect(w.rate).toBeGreaterThan(0);
    for (let i = 32; i < 40; i++) w.sent(i, 65536, 200);
    w.restart();
    w.acked(40, 300); // acks for what was sent on the old lane: nothing in flight to match
    expect(w.rtt).toBe(100 - 31);
  });
});

describe("file chunk size", () => {
  it("chooseChunkSize_UnknownFast_64KiB_SlowLinks_Smaller_NeverOutsideTheWireBounds", () => {
    expect(chooseChunkSize(undefined, MIN_CHUNK, MAX_CHUNK)).toBe(MAX_CHUNK);
    expect(chooseChunkSize(50 * MB, MIN_CHUNK, MAX_CHUNK)).toBe(MAX_CHUNK);
    expect(chooseChunkSize(4 * MB, MIN_CHUNK, MAX_CHUNK)).toBe(32 * 1024);
    expect(chooseChunkSize(0.5 * MB, MIN_CHUNK, MAX_CHUNK)).toBe(MIN_CHUNK);
    expect(chooseChunkSize(NaN, MIN_CHUNK, MAX_CHUNK)).toBe(MAX_CHUNK);
    expect(chooseChunkSize(1, MIN_CHUNK, MAX_CHUNK)).toBe(MIN_CHUNK);
  });
});
