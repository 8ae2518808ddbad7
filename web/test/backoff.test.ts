import { describe, expect, it } from "vitest";
import { backoffDelays, retry, RetriesExhaustedError, withTimeout } from "../src/core/connection/backoff";

describe("backoff", () => {
  it("backoffDelays_Default_ThreeAttemptsTwoGrowingDelays", () => {
    expect(backoffDelays({ random: () => 1 })).toEqual([500, 1000]);
    expect(backoffDelays({ random: () => 0 })).toEqual([400, 800]);
  });

  it("backoffDelays_Capped", () => {
    expect(backoffDelays({ attempts: 6, baseMs: 1000, maxMs: 3000, jitter: 0 })).toEqual([1000, 2000, 3000, 3000, 3000]);
  });

  it("retry_SucceedsOnThirdAttempt_ReportsEachStep", async () => {
    const slept: number[] = [];
    const events: string[] = [];
    const result = await retry(
      async (n) => {
        if (n < 3) throw new Error(`fail ${n}`);
        return "ok";
      },
      {
        jitter: 0,
        sleep: async (ms) => void slept.push(ms),
        onAttempt: (a, t) => events.push(`attempt ${a}/${t}`),
        onRetry: (a, d) => events.push(`retry ${a} in ${d}`),
      },
    );
    expect(result).toBe("ok");
    expect(slept).toEqual([500, 1000]);
    expect(events).toEqual(["attempt 1/3", "retry 1 in 500", "attempt 2/3", "retry 2 in 1000", "attempt 3/3"]);
  });

  it("retry_AllFail_ThrowsWithLastError", async () => {
    let calls = 0;
    const err = await retry(
      async () => {
        calls++;
        throw new Error("nope");
      },
      { sleep: async () => {} },
    ).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect(err).toBeInstanceOf(RetriesExhaustedError);
    expect((err as RetriesExhaustedError).attempts).toBe(3);
    expect(((err as RetriesExhaustedError).lastError as Error).message).toBe("nope");
  });

  it("retry_ErrorNotRetryable_ThrowsAfterFirstAttempt", async () => {
    let calls = 0;
    const err = await retry(
      async () => {
        calls++;
        throw new Error("fatal");
      },
      { sleep: async () => {}, shouldRetry: (e) => (e as Error).message !== "fatal" },
    ).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect((err as RetriesExhaustedError).attempts).toBe(1);
  });

  it("retry_Aborted_StopsBeforeNextAttempt", async () => {
    const ac = new AbortController();
    let calls = 0;
    const p = retry(
      async () => {
        calls++;
        ac.abort(new Error("left"));
        throw new Error("x");
      },
      { signal: ac.signal, sleep: async () => {} },
    );
    await expect(p).rejects.toThrow("left");
    expect(calls).toBe(1);
  });

  it("withTimeout_Slow_Rejects", async () => {
    await expect(withTimeout(new Promise(() => {}), 10, "thing")).rejects.toThrow(/thing timed out/);
    await expect(withTimeout(Promise.resolve(3), 1000, "thing")).resolves.toBe(3);
  });
});
