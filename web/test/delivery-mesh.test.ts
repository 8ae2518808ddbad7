import { describe, expect, it } from "vitest";
import type { InboundStream, StreamFactory } from "../src/core/delivery/streams";
import { SimMember, SimNet } from "./mesh-sim";

/**
 * Property test of the mesh delivery engine over a simulated network (seeded): members exchange
 * messages while frames are dropped, duplicated and reordered, links are cut and healed, one pair
 * may stay cut for good (so only a relay can carry between them), members join late, leave, or
 * crash and come back as a new instance. Once everything heals, for every pair of live members:
 * every message addressed to a member arrived there, exactly once, in the sender's order, unaltered,
 * and the sender saw it acknowledged.
 */

interface Scenario {
  seed: number;
  streams?: StreamFactory;
}

interface Outcome {
  violations: string[];
  frames: number;
  relayed: number;
  /** What the scenario did, for replaying a failing seed. */
  log: string[];
}

const T = 15_000;
const WARMUP = 500;

export function runScenario({ seed, streams }: Scenario): Outcome {
  const net = new SimNet(seed);
  const r = net.rand;
  const pick = <X>(xs: readonly X[]): X => xs[Math.floor(r() * xs.length)]!;
  net.faults = { drop: r() < 0.5 ? r() * 0.3 : 0, duplicate: r() * 0.2, maxDelay: 1 + Math.floor(r() * 40) };
  const n = 3 + Math.floor(r() * 3);
  const initial = ["a", "b", "c", "d", "e"].slice(0, n);
  const all: SimMember[] = [];
  const current = new Map<string, SimMember>();
  const crashed = new Set<string>();
  const departed = new Set<string>();
  const spawn = (id: string) => {
    const m = new SimMember(id, net, { streams });
    all.push(m);
    current.set(id, m);
    return m;
  };
  for (const id of initial) spawn(id);
  net.run(WARMUP);

  // Messages at random times from random live members.
  const count = 10 + Math.floor(r() * 30);
  const violations: string[] = [];
  const log: string[] = [`members ${initial.join(",")} faults ${JSON.stringify(net.faults)}`];
  const note = (s: string) => log.push(`${net.now}: ${s}`);
  for (let i = 0; i < count; i++) {
    const at = WARMUP + Math.floor(r() * (T - WARMUP));
    const who = pick(initial.concat(["j"]));
    net.at(at, () => {
      const m = current.get(who);
      if (!m || m.gone) return;
      m.say(`hello ${i} from ${who}`);
      // Every initial member that never crashed or left must be addressed.
      const last = m.sent[m.sent.length - 1]!;
      for (const other of initial) {
        if (other === who || !initial.includes(who) || crashed.has(other) || crashed.has(who) || departed.has(other)) continue;
        if (!last.to.includes(other)) violations.push(`seed ${seed}: ${who}'s ${last.id} not addressed to ${other}`);
      }
    });
  }

  // Temporary cuts and whole-member partitions that heal.
  for (let k = Math.floor(r() * 4); k > 0; k--) {
    const a = pick(initial);
    const b = pick(initial.filter((x) => x !== a));
    const start = WARMUP + Math.floor(r() * T);
    net.at(start, () => (note(`cut ${a}-${b}`), net.cut(a, b)));
    net.at(start + 100 + Math.floor(r() * 8000), () => (note(`heal ${a}-${b}`), net.heal(a, b)));
  }
  if (r() < 0.3) {
    const x = pick(initial);
    const start = WARMUP + Math.floor(r() * T);
    const end = start + 500 + Math.floor(r() * 6000);
    net.at(start, () => note(`${x} isolated`));
    net.at(end, () => note(`${x} rejoined the network`));
    for (const y of initial.concat(["j"]))
      if (y !== x) {
        net.at(start, () => net.cut(x, y));
        net.at(end, () => net.heal(x, y));
      }
  }
  // One pair cut for good: everything between them must go through a relay.
  let permanent: [string, string] | null = null;
  if (r() < 0.4) {
    const a = pick(initial);
    permanent = [a, pick(initial.filter((x) => x !== a))];
    const [p, q] = permanent;
    net.at(WARMUP + Math.floor(r() * 3000), () => (note(`cut for good ${p}-${q}`), net.cut(p, q)));
  }
  // A late joiner.
  if (r() < 0.3) net.at(1000 + Math.floor(r() * T), () => (note("j joins"), spawn("j")));
  // A member leaves (at most one, never the last two).
  if (r() < 0.2) {
    // With a pair cut for good, a member of that pair leaves, so a relay between the others remains.
    const x = permanent ? permanent[0] : pick(initial);
    net.at(WARMUP + Math.floor(r() * T), () => {
      const m = current.get(x);
      if (!m || m.gone || crashed.has(x)) return;
      departed.add(x);
      note(`${x} leaves`);
      m.room.leave();
      m.gone = true;
      net.at(net.now + 50, () => net.kill(x));
    });
  }
  // A member crashes and comes back as a new instance with the same id (a reload).
  if (r() < 0.15) {
    const x = pick(initial);
    const at = WARMUP + Math.floor(r() * T);
    net.at(at, () => {
      const m = current.get(x);
      if (!m || m.gone || departed.has(x)) return;
      crashed.add(x);
      note(`${x} crashes`);
      m.room.stop();
      m.gone = true;
      net.kill(x);
      net.at(net.now + Math.floor(r() * 3000), () => (note(`${x} is back`), spawn(x)));
    });
  }

  net.run(T + WARMUP);
  net.healAll();
  if (permanent) net.cut(permanent[0], permanent[1]);
  net.run(T + 90_000);

  // ---- properties ----
  const bySender = new Map<SimMember, Map<string, number>>();
  const sentText = new Map<string, { text: string; from: string }>();
  for (const s of all) {
    bySender.set(s, new Map(s.sent.map((m, i) => [m.id, i])));
    for (const m of s.sent) sentText.set(m.id, { text: m.text, from: s.id });
  }
  for (const inst of all) {
    const seen = new Set<string>();
    const lastIndex = new Map<string, number>();
    for (const got of inst.received) {
      const orig = sentText.get(got.id);
      if (!orig || orig.text !== got.text || orig.from !== got.from) violations.push(`seed ${seed}: ${inst.id} got altered or unknown ${got.id}`);
      if (seen.has(got.id)) violations.push(`seed ${seed}: ${inst.id} got ${got.id} twice`);
      seen.add(got.id);
      const sender = all.find((s) => s.id === got.from && bySender.get(s)!.has(got.id));
      const index = sender ? bySender.get(sender)!.get(got.id)! : -1;
      const key = sender ? `${all.indexOf(sender)}` : "?";
      if (index <= (lastIndex.get(key) ?? -1)) violations.push(`seed ${seed}: ${inst.id} got ${got.id} out of order`);
      lastIndex.set(key, index);
    }
  }
  const live = all.filter((m) => !m.gone);
  for (const s of live) {
    for (const m of s.sent) {
      for (const to of m.to) {
        const target = current.get(to);
        if (!target || target.gone) continue;
        if (!all.some((inst) => inst.id === to && inst.received.some((g) => g.id === m.id))) violations.push(`seed ${seed}: ${m.id} never reached ${to}`);
        const receipt = s.room.receipts(m.id)?.get(to);
        if (receipt !== "delivered" && receipt !== "read") violations.push(`seed ${seed}: ${m.id} to ${to} is ${receipt} at the sender`);
      }
    }
  }
  const relayed = all.reduce((sum, m) => sum + m.room.stats.relayed, 0);
  return { violations, frames: net.framesSent, relayed, log };
}

function runMany(from: number, to: number, streams?: StreamFactory): { violations: string[]; relayed: number } {
  const violations: string[] = [];
  let relayed = 0;
  for (let seed = from; seed < to; seed++) {
    const o = runScenario({ seed, streams });
    violations.push(...o.violations);
    relayed += o.relayed;
  }
  return { violations, relayed };
}

describe("mesh delivery over a simulated network", () => {
  it.each([
    [1, 400],
    [400, 800],
    [800, 1200],
    [1200, 1600],
    [1600, 2000],
  ])(
    "seeds %i..%i: every message arrives exactly once, in per-sender order, acknowledged, once the network heals",
    (from, to) => {
      const { violations, relayed } = runMany(from, to);
      expect(violations.slice(0, 10)).toEqual([]);
      expect(relayed).toBeGreaterThan(0); // the runs did exercise relaying
    },
    120_000,
  );
});

/** Releases duplicates again: the property must catch a broken de-duplication. */
const noDedupe: StreamFactory = <X>() => {
  let delivered = 0;
  return {
    get delivered() {
      return delivered;
    },
    offer(n: number, item: X): X[] {
      delivered = Math.max(delivered, n);
      return [item];
    },
  } satisfies InboundStream<X>;
};

/** De-duplicates but releases in arrival order: the property must catch broken ordering. */
const noOrder: StreamFactory = <X>() => {
  const seen = new Set<number>();
  let next = 1;
  return {
    get delivered() {
      return next - 1;
    },
    offer(n: number, item: X): X[] {
      if (seen.has(n)) return [];
      seen.add(n);
      while (seen.has(next)) next++;
      return [item];
    },
  } satisfies InboundStream<X>;
};

describe("the property test can fail", () => {
  it("selfCheck_BrokenDeduplication_IsCaughtAsDuplicates", () => {
    const { violations } = runMany(1, 60, noDedupe);
    expect(violations.some((v) => v.includes("twice"))).toBe(true);
  }, 60_000);

  it("selfCheck_BrokenOrdering_IsCaughtAsOutOfOrder", () => {
    const { violations } = runMany(1, 60, noOrder);
    expect(violations.some((v) => v.includes("out of order"))).toBe(true);
  }, 60_000);
});
