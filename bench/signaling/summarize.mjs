// Reads the per-run JSON files bench/signaling.sh wrote (runN-{reference,ghostchat}-{throughput,
// latency,idle}.json, each the output of `ghostchat bench signaling --json`) and prints, for both
// servers, the median of every figure over the runs, every run's value, and the ratios against the
// goals of issue 19. Usage: node summarize.mjs DIR RUNS RATE MACHINE PINNED [COMMIT] [LOAD] [WHEN] [SHAPE]
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';

const [dir, runsText, rate, machine, pinned, commit = 'unknown', load = '', when = '', shape = ''] = process.argv.slice(2);
const runs = Number(runsText);

function read(run, kind, phase) {
  const file = path.join(dir, `run${run}-${kind}-${phase}.json`);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
}

function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const metrics = [
  { label: 'relay throughput at saturation (msg/s)', phase: 'throughput', pick: (r) => r.throughput?.messagesPerSecond, better: 'higher', goal: 3, digits: 0 },
  { label: 'server CPU at saturation (% of one core)', phase: 'throughput', pick: (r) => r.throughput?.serverCpuPercent, better: 'info', digits: 0 },
  { label: 'server CPU per relayed message (µs)', phase: 'throughput', pick: (r) => r.throughput?.serverCpuMicrosecondsPerMessage, better: 'lower', goal: 0.25, digits: 1 },
  { label: `relay latency p50 at ${rate} msg/s (ms)`, phase: 'latency', pick: (r) => r.latency?.p50Ms, better: 'lower', digits: 3 },
  { label: `relay latency p99 at ${rate} msg/s (ms)`, phase: 'latency', pick: (r) => r.latency?.p99Ms, better: 'lower', goal: 0.05, digits: 3 },
  { label: 'memory per idle registered peer (KiB)', phase: 'idle', pick: (r) => (r.idle?.bytesPerPeer ?? NaN) / 1024, better: 'lower', goal: 0.5, digits: 2 },
  { label: 'new connections per second', phase: 'idle', pick: (r) => r.idle?.connectionsPerSecond, better: 'higher', digits: 0 },
];

const fmt = (x, d) => (x == null || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));
const rows = [];
let allGoals = true;
const notMeasured = []; // phases left out (PHASES=): their rows are not printed and their goals not judged
for (const m of metrics) {
  const per = {};
  for (const kind of ['reference', 'ghostchat']) {
    per[kind] = Array.from({ length: runs }, (_, i) => read(i + 1, kind, m.phase)).map((r) => (r ? m.pick(r) : null));
  }
  if (per.reference.every((x) => x == null) && per.ghostchat.every((x) => x == null)) {
    if (!notMeasured.includes(m.phase)) notMeasured.push(m.phase);
    continue;
  }
  const ref = median(per.reference);
  const ours = median(per.ghostchat);
  const ratio = ref && ours != null ? ours / ref : null;
  let verdict = '';
  if (m.goal != null && ratio != null) {
    const met = m.better === 'higher' ? ratio >= m.goal : ratio <= m.goal;
    allGoals &&= met;
    verdict = `${met ? 'met' : 'NOT met'} (goal ${m.better === 'higher' ? '≥' : '≤'} ${m.goal}×)`;
  }
  rows.push({
    metric: m.label,
    reference: fmt(ref, m.digits),
    ghostchat: fmt(ours, m.digits),
    ratio: ratio == null ? 'n/a' : `${ratio.toFixed(2)}×`,
    verdict,
    runsRef: per.reference.map((x) => fmt(x, m.digits)).join(' / '),
    runsOurs: per.ghostchat.map((x) => fmt(x, m.digits)).join(' / '),
  });
}

// Lost messages or peers make a run's figures worthless: say so loudly.
const problems = [];
for (let run = 1; run <= runs; run++) {
  for (const kind of ['reference', 'ghostchat']) {
    const t = read(run, kind, 'throughput')?.throughput;
    const l = read(run, kind, 'latency')?.latency;
    const i = read(run, kind, 'idle')?.idle;
    if (t && t.sendErrors > 0) problems.push(`run ${run} ${kind}: ${t.sendErrors} send errors at saturation`);
    if (l && l.received < l.sent) problems.push(`run ${run} ${kind}: latency phase lost ${l.sent - l.received} of ${l.sent}`);
    if (l && l.generatorLagged) problems.push(`run ${run} ${kind}: the generator fell >100 ms behind its schedule (send lag p99 ${l.sendLagP99Ms} ms)`);
    if (i && (i.failed > 0 || i.stillOpen < i.registered)) problems.push(`run ${run} ${kind}: ${i.failed} idle peers failed, ${i.registered - i.stillOpen} dropped`);
  }
}

const header = ['metric', 'peer@1.0.2', 'GhostChat', 'GhostChat / peer', 'goal'];
const table = [header, header.map(() => '---'), ...rows.map((r) => [r.metric, r.reference, r.ghostchat, r.ratio, r.verdict])];
console.log(`\nSignaling benchmark (bench/signaling.sh): GhostChat at ${commit}; ${when}; ${shape}; medians of ${runs} run(s); ${machine}; servers ${pinned === '1' ? 'pinned to CPU 0, generator to CPU 1' : 'not pinned'}; load average ${load}\n`);
for (const line of table) console.log(`| ${line.join(' | ')} |`);
console.log('\nPer run (peer@1.0.2 | GhostChat):');
for (const r of rows) console.log(`  ${r.metric}: ${r.runsRef} | ${r.runsOurs}`);
if (problems.length) {
  console.log('\nWarnings:');
  for (const p of problems) console.log(`  - ${p}`);
}
if (notMeasured.length) {
  console.log(`\nNot measured in this run (PHASES): ${notMeasured.join(', ')}`);
  console.log(`Goals of the measured phases met: ${allGoals ? 'yes' : 'no'}`);
} else {
  console.log(`\nAll goals met: ${allGoals ? 'yes' : 'no'}`);
}
