import { describe, expect, it } from "vitest";
import { IceFailover, MAX_EXCLUDED, iceUrlExcluding, parseIceAnswer, type IceAnswer } from "../src/core/ice";

/** A provider's server as /api/ice names it. */
const server = (provider: string, scheme = "turn", port = 3478): RTCIceServer => ({
  urls: [`${scheme}:${provider}.example:${port}?transport=udp`],
  username: `u-${provider}`,
  credential: `c-${provider}`,
});

/**
 * A fake /api/ice: each provider has one server; answers in priority order without the excluded
 * ones, at most `max`. Records every exclude list it was asked with.
 */
class FakeIce {
  readonly asked: string[][] = [];
  failNext = false;
  constructor(
    private readonly providers: { name: string; scheme?: string }[],
    private readonly options: { max?: number; relayOnly?: boolean; expiresAt?: number | null; maxFileBytes?: number } = {},
  ) {}
  fetch = async (exclude: readonly string[]): Promise<IceAnswer> => {
    this.asked.push([...exclude]);
    if (this.failNext) {
      this.failNext = false;
      throw new Error("HTTP 503");
    }
    const chosen = this.providers.filter((p) => !exclude.includes(p.name)).slice(0, this.options.max ?? 3);
    return {
      iceServers: chosen.map((p) => server(p.name, p.scheme)),
      providers: chosen.map((p) => p.name),
      relayOnly: this.options.relayOnly ?? false,
      stunProbes: [],
      expiresAt: this.options.expiresAt ?? null,
      maxFileBytes: this.options.maxFileBytes ?? null,
    };
  };
}

/** checkTurn that says which providers (by host name) give a relay candidate; counts its calls. */
function checker(working: Set<string>) {
  const calls: string[] = [];
  return {
    calls,
    check: async (s: RTCIceServer) => {
      const url = (Array.isArray(s.urls) ? s.urls[0] : s.urls) ?? "";
      const name = /:([^.:]+)\.example/.exec(url)?.[1] ?? "?";
      calls.push(name);
      return working.has(name);
    },
  };
}

describe("parseIceAnswer", () => {
  it("reads servers, providers, relayOnly and the expiry", () => {
    const a = parseIceAnswer({
      iceServers: [
        { urls: ["turn:t.example:3478?transport=udp", "turn:t.example:3478?transport=tcp"], username: "u", credential: "c" },
        { urls: "stun:s.example:3478" },
      ],
      providers: ["coturn", "public-stun"],
      expiresAt: "2026-12-04T20:00:00+00:00",
      relayOnly: true,
      maxFileBytes: 1048576,
    });
    expect(a).toEqual({
      iceServers: [
        { urls: ["turn:t.example:3478?transport=udp", "turn:t.example:3478?transport=tcp"], username: "u", credential: "c" },
        { urls: ["stun:s.example:3478"] },
      ],
      providers: ["coturn", "public-stun"],
      relayOnly: true,
      stunProbes: [],
      expiresAt: Date.UTC(2026, 11, 4, 20, 0, 0),
      maxFileBytes: 1048576,
    });
  });

  it("maxFileBytes: a whole number of bytes from 1 to 2^46, else not said (null)", () => {
    expect(parseIceAnswer({ iceServers: [] })?.maxFileBytes).toBeNull();
    expect(parseIceAnswer({ iceServers: [], maxFileBytes: 2 ** 46 })?.maxFileBytes).toBe(2 ** 46);
    for (const bad of [0, -1, 1.5, 2 ** 46 + 1, "1048576", null, Number.NaN, { n: 1 }, 1e308])
      expect(parseIceAnswer({ iceServers: [], maxFileBytes: bad })?.maxFileBytes).toBeNull();
  });

  it("refuses what is not an answer and drops malformed parts", () => {
    for (const bad of [null, 7, "x", [], {}, { iceServers: "turn:x" }]) expect(parseIceAnswer(bad)).toBeNull();
    const a = parseIceAnswer({
      iceServers: [{ urls: "javascript:alert(1)" }, { urls: ["turn:ok.example:1"], username: 5 }, null, "turn:x:1"],
      providers: ["evil<script>", "fine"],
      expiresAt: "x".repeat(100_000),
    });
    expect(a?.iceServers).toEqual([{ urls: ["turn:ok.example:1"] }]);
    expect(a?.providers).toEqual(["fine"]);
    expect(a?.expiresAt).toBeNull();
    expect(parseIceAnswer({ iceServers: [], expiresAt: "not a date" })?.expiresAt).toBeNull();
    expect(parseIceAnswer({ iceServers: [], expiresAt: 12 })?.expiresAt).toBeNull();
  });

  it("names unnamed servers by position (a provider list that does not match the servers)", () => {
    const a = parseIceAnswer({ iceServers: [{ urls: "stun:a.example:1" }, { urls: "stun:b.example:1" }], providers: ["one"] });
    expect(a?.providers).toEqual(["one", "server 2"]);
  });
});

describe("iceUrlExcluding", () => {
  it("adds exclude only when there is something to leave out", () => {
    expect(iceUrlExcluding("/api/ice", [])).toBe("/api/ice");
    expect(iceUrlExcluding("/api/ice", ["a", "b.c"])).toBe("/api/ice?exclude=a,b.c");
    expect(iceUrlExcluding("https://h:1/api/ice?x=1", ["a"])).toBe("https://h:1/api/ice?x=1&exclude=a");
  });
});

describe("IceFailover", () => {
  it("load: all TURN providers work — one fetch, nothing left out, providers named per URL", async () => {
    const api = new FakeIce([{ name: "a" }, { name: "b" }, { name: "s", scheme: "stun" }]);
    const c = checker(new Set(["a", "b"]));
    const ice = new IceFailover({ fetch: api.fetch, checkTurn: c.check });
    const live = ice.servers;
    await ice.load({ relayOnly: true });
    expect(api.asked).toEqual([[]]);
    expect(ice.names).toEqual(["a", "b", "s"]);
    expect(ice.left).toEqual([]);
    expect(ice.servers).toBe(live);
    expect(c.calls.sort()).toEqual(["a", "b"]); // STUN-only providers are not checked
    expect(ice.providersByUrl.get("turn:b.example:3478?transport=udp")).toBe("b");
  });

  it("load with relay only: a provider without a relay candidate is left out before the list is used", async () => {
    const api = new FakeIce([{ name: "broken" }, { name: "good" }, { name: "spare" }], { max: 1 });
    const c = checker(new Set(["good", "spare"]));
    const ice = new IceFailover({ fetch: api.fetch, checkTurn: c.check });
    const live = ice.servers;
    const events: string[] = [];
    ice.onChange = (e) => events.push(`${e.kind}:${e.providers.join(",")}:${e.excluded.join(",")}`);
    await ice.load({ relayOnly: true });
    expect(api.asked).toEqual([[], ["broken"]]);
    expect(ice.names).toEqual(["good"]);
    expect(live).toEqual([server("good")]); // the array peers hold now has the new server
    expect(ice.providersByUrl.has("turn:broken.example:3478?transport=udp")).toBe(false);
    expect(events).toEqual(["loaded:good:broken"]);
  });

  it("load honours the server's relay-only hint as if the page asked for it", async () => {
    const api = new FakeIce([{ name: "broken" }, { name: "good" }], { max: 1, relayOnly: true });
    const ice = new IceFailover({ fetch: api.fetch, checkTurn: checker(new Set(["good"])).check });
    await ice.load();
    expect(ice.relayOnly).toBe(true);
    expect(ice.names).toEqual(["good"]);
  });

  it("load keeps the operator's file size limit from the answer", async () => {
    const ice = new IceFailover({ fetch: new FakeIce([{ name: "good" }], { maxFileBytes: 5_000_000 }).fetch });
    expect(ice.maxFileBytes).toBeNull();
    await ice.load();
    expect(ice.maxFileBytes).toBe(5_000_000);
  });

  it("load without relay only returns at once; the check replaces the list when it is done", async () => {
    const api = new FakeIce([{ name: "broken" }, { name: "good" }], { max: 1 });
    let release: (ok: boolean) => void = () => undefined;
    let started: () => void = () => undefined;
    const checking = new Promise<void>((r) => (started = r));
    const ice = new IceFailover({
      fetch: api.fetch,
      checkTurn: (s) => {
        if (!JSON.stringify(s).includes("broken")) return Promise.resolve(true);
        started();
        return new Promise<boolean>((r) => (release = r));
      },
    });
    const loaded = new Promise<void>((r) => (ice.onChange = () => r()));
    await ice.load();
    await checking;
    expect(ice.names).toEqual(["broken"]); // in use while the check runs
    release(false);
    await loaded;
    expect(ice.names).toEqual(["good"]);
    expect(ice.left).toEqual(["broken"]);
  });

  it("load: every provider fails the check — the list stays (a relay that may work beats none), nothing is left out", async () => {
    const api = new FakeIce([{ name: "a" }, { name: "b" }], { max: 1 });
    const ice = new IceFailover({ fetch: api.fetch, checkTurn: checker(new Set()).check });
    await ice.load({ relayOnly: true });
    // a fails → ask without a → b; b fails → ask without a, b → nothing: keep b.
    expect(api.asked).toEqual([[], ["a"], ["a", "b"]]);
    expect(ice.names).toEqual(["b"]);
    expect(ice.left).toEqual(["a"]);
  });

  it("load: a check that throws counts as no relay candidate", async () => {
    const api = new FakeIce([{ name: "a" }, { name: "b" }], { max: 1 });
    const ice = new IceFailover({
      fetch: api.fetch,
      checkTurn: async (s) => {
        if (JSON.stringify(s).includes("a.example")) throw new Error("boom");
        return true;
      },
    });
    await ice.load({ relayOnly: true });
    expect(ice.names).toEqual(["b"]);
  });

  it("load rejects when the first fetch fails (the session then goes on without servers)", async () => {
    const api = new FakeIce([{ name: "a" }]);
    api.failNext = true;
    const ice = new IceFailover({ fetch: api.fetch });
    await expect(ice.load()).rejects.toThrow("HTTP 503");
  });

  it("failover: the provider that stopped giving relay candidates is left out", async () => {
    const api = new FakeIce([{ name: "a" }, { name: "b" }, { name: "c" }], { max: 2 });
    const working = new Set(["a", "b", "c"]);
    const ice = new IceFailover({ fetch: api.fetch, checkTurn: checker(working).check });
    await ice.load({ relayOnly: true });
    expect(ice.names).toEqual(["a", "b"]);
    working.delete("a");
    expect(await ice.failover()).toBe(true);
    expect(api.asked.at(-1)).toEqual(["a"]);
    expect(ice.names).toEqual(["b", "c"]);
  });

  it("failover: every relay still gathers — the path through them failed, so all of them are left out", async () => {
    const api = new FakeIce([{ name: "a" }, { name: "b" }, { name: "c" }], { max: 2 });
    const ice = new IceFailover({ fetch: api.fetch, checkTurn: checker(new Set(["a", "b", "c"])).check });
    await ice.load();
    await Promise.resolve();
    expect(await ice.failover()).toBe(true);
    expect(ice.names).toEqual(["c"]);
    expect(ice.left.sort()).toEqual(["a", "b"]);
  });

  it("failover without a checker blames the TURN providers in use", async () => {
    const api = new FakeIce([{ name: "a" }, { name: "b" }], { max: 1 });
    const ice = new IceFailover({ fetch: api.fetch });
    await ice.load();
    expect(await ice.failover()).toBe(true);
    expect(ice.names).toEqual(["b"]);
  });

  it("failover: nothing else to offer, only STUN left, or the server errs — the list stays and false", async () => {
    const only = new FakeIce([{ name: "a" }]);
    const ice1 = new IceFailover({ fetch: only.fetch });
    await ice1.load();
    expect(await ice1.failover()).toBe(false);
    expect(ice1.names).toEqual(["a"]);
    expect(ice1.left).toEqual([]);

    const stunOnly = new FakeIce([{ name: "a" }, { name: "s", scheme: "stun" }], { max: 1 });
    const ice2 = new IceFailover({ fetch: stunOnly.fetch });
    await ice2.load();
    expect(await ice2.failover()).toBe(false);
    expect(ice2.names).toEqual(["a"]);

    const flaky = new FakeIce([{ name: "a" }, { name: "b" }], { max: 1 });
    const ice3 = new IceFailover({ fetch: flaky.fetch });
    await ice3.load();
    flaky.failNext = true;
    expect(await ice3.failover()).toBe(false);
    expect(ice3.names).toEqual(["a"]);
    expect(await ice3.failover()).toBe(true); // the next try reaches the server
    expect(ice3.names).toEqual(["b"]);
  });

  it("failover with a STUN-only list has nothing to blame", async () => {
    const api = new FakeIce(
      [
        { name: "s", scheme: "stun" },
        { name: "t", scheme: "stun" },
      ],
      { max: 1 },
    );
    const ice = new IceFailover({ fetch: api.fetch });
    await ice.load();
    expect(await ice.failover()).toBe(false);
    expect(api.asked).toEqual([[]]);
  });

  it(`failover never asks to leave out more than ${MAX_EXCLUDED} providers (the server's limit)`, async () => {
    const many = Array.from({ length: MAX_EXCLUDED + 5 }, (_, i) => ({ name: `p${i}` }));
    const api = new FakeIce(many, { max: 1 });
    const ice = new IceFailover({ fetch: api.fetch });
    await ice.load();
    let changes = 0;
    while (await ice.failover()) changes++;
    expect(changes).toBe(MAX_EXCLUDED);
    expect(Math.max(...api.asked.map((a) => a.length))).toBe(MAX_EXCLUDED);
  });

  it("refresh: renewed at three quarters of the credentials' lifetime, with the same providers left out; errors keep the old list", async () => {
    let now = 1_000_000;
    const timers: { fn: () => void; ms: number }[] = [];
    const api = new FakeIce([{ name: "a" }, { name: "b" }], { max: 1, expiresAt: now + 3_600_000 });
    const ice = new IceFailover({ fetch: api.fetch, now: () => now, setTimer: (fn, ms) => timers.push({ fn, ms }), clearTimer: () => undefined });
    await ice.load();
    expect(ice.refreshDelayMs()).toBe(2_700_000);
    expect(timers.at(-1)?.ms).toBe(2_700_000);
    await ice.failover();
    expect(ice.names).toEqual(["b"]);
    now += 2_700_000;
    await ice.refresh();
    expect(api.asked.at(-1)).toEqual(["a"]);
    expect(ice.names).toEqual(["b"]);
    api.failNext = true;
    await ice.refresh();
    expect(ice.names).toEqual(["b"]);
    expect(timers.at(-1)?.ms).toBeGreaterThanOrEqual(30_000); // tries again later, never in a tight loop
  });

  it("refresh: no expiry, no timer; dispose stops a pending one", async () => {
    const timers: unknown[] = [];
    const cleared: unknown[] = [];
    const noExpiry = new IceFailover({ fetch: new FakeIce([{ name: "a" }]).fetch, setTimer: (fn) => timers.push(fn), clearTimer: (h) => cleared.push(h) });
    await noExpiry.load();
    expect(noExpiry.refreshDelayMs()).toBeNull();
    expect(timers).toEqual([]);

    const ice = new IceFailover({
      fetch: new FakeIce([{ name: "a" }], { expiresAt: Date.now() + 600_000 }).fetch,
      setTimer: () => "handle",
      clearTimer: (h) => cleared.push(h),
    });
    await ice.load();
    ice.dispose();
    expect(cleared).toContain("handle");
    expect(await ice.failover()).toBe(false);
  });
});
