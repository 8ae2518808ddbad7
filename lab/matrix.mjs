// lab/matrix: N connection attempts per NAT pair in the network lab, with real Chromium on each
// side and the real server on the public side. Prints success rate, median and p95 time from
// "invite opened" to "chat ready" (the app's own performance marks), and the paths taken.
//
//   lab/matrix [--attempts N] [--pairs host:guest,host:guest …] [--json FILE]
import { writeFileSync } from "node:fs";
import { createLab, labUnavailableReason, SCENARIOS } from "./netlab.mjs";
import { createRoom, newPage, waitChatReady, waitPath } from "./browser.mjs";

const DEFAULT_PAIRS = [
  "cone:cone", "open:symmetric", "cone:symmetric", "symmetric:symmetric",
  "cone:udp-blocked", "symmetric:tcp443-only", "lossy:lossy", "cone:slow", "slow:slow-lossy",
];

function parseArgs(argv) {
  const args = { attempts: 5, pairs: DEFAULT_PAIRS, json: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--attempts") args.attempts = Number(argv[++i]);
    else if (a === "--pairs") args.pairs = String(argv[++i]).split(",").filter(Boolean);
    else if (a === "--json") args.json = argv[++i];
    else if (a === "--help" || a === "-h") {
      console.log(`usage: lab/matrix [--attempts N] [--pairs host:guest,…] [--json FILE]\nscenarios: ${Object.keys(SCENARIOS).join(", ")}`);
      process.exit(0);
    } else throw new Error(`unknown argument '${a}' (see --help)`);
  }
  if (!Number.isInteger(args.attempts) || args.attempts < 1 || args.attempts > 1000) throw new Error("--attempts must be 1..1000");
  for (const p of args.pairs) {
    const [h, g] = p.split(":");
    if (!SCENARIOS[h] || !SCENARIOS[g]) throw new Error(`bad pair '${p}': scenarios are ${Object.keys(SCENARIOS).join(", ")}`);
  }
  return args;
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

async function attempt(hostBrowser, guestBrowser, url) {
  const host = await newPage(hostBrowser);
  const guest = await newPage(guestBrowser);
  try {
    const link = await createRoom(host.page, url);
    await guest.page.goto(link);
    await Promise.all([waitChatReady(host.page, 45_000), waitChatReady(guest.page, 45_000)]);
    // Navigation start of the invite → the app's chat-ready mark, measured by the guest's browser.
    const ms = await guest.page.evaluate(() => performance.getEntriesByName("ghostchat:chat-ready")[0]?.startTime ?? null);
    const [hp, gp] = await Promise.all([waitPath(host.page, 15_000), waitPath(guest.page, 15_000)]);
    return { ok: true, ms: ms === null ? null : Math.round(ms), path: `${hp.path}/${gp.path}` };
  } catch (e) {
    return { ok: false, ms: null, path: "—", error: String(e.message ?? e).split("\n")[0] };
  } finally {
    await host.context.close().catch(() => undefined);
    await guest.context.close().catch(() => undefined);
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const reason = labUnavailableReason();
  if (reason) {
    console.error(`lab/matrix: ${reason}`);
    process.exit(2);
  }
  const rows = [];
  for (const pair of args.pairs) {
    const [h, g] = pair.split(":");
    const lab = await createLab([h, g]);
    try {
      const { url } = await lab.startServer();
      const [hb, gb] = [await lab.launchChromium(1), await lab.launchChromium(2)];
      const results = [];
      for (let i = 0; i < args.attempts; i++) {
        const r = await attempt(hb, gb, url);
        results.push(r);
        process.stderr.write(`${pair} #${i + 1}: ${r.ok ? `${r.ms} ms ${r.path}` : `FAILED ${r.error}`}\n`);
      }
      const times = results.filter((r) => r.ok && r.ms !== null).map((r) => r.ms).sort((a, b) => a - b);
      const paths = {};
      for (const r of results.filter((x) => x.ok)) paths[r.path] = (paths[r.path] ?? 0) + 1;
      rows.push({
        pair: `${h} ↔ ${g}`,
        attempts: results.length,
        success: results.filter((r) => r.ok).length,
        median: percentile(times, 50),
        p95: percentile(times, 95),
        paths,
        relayReachable: SCENARIOS[h].relayReachable && SCENARIOS[g].relayReachable,
      });
    } finally {
      await lab.destroy();
    }
  }
  const header = "| host ↔ guest | attempts | success | median ms | p95 ms | path (host/guest: count) |\n|---|---:|---:|---:|---:|---|";
  const lines = rows.map((r) => `| ${r.pair} | ${r.attempts} | ${((100 * r.success) / r.attempts).toFixed(0)} % | ${r.median ?? "—"} | ${r.p95 ?? "—"} | ${Object.entries(r.paths).map(([p, n]) => `${p}: ${n}`).join(", ") || "—"} |`);
  console.log([header, ...lines].join("\n"));
  const total = rows.reduce((a, r) => a + r.attempts, 0);
  const ok = rows.reduce((a, r) => a + r.success, 0);
  console.log(`\n${ok}/${total} connected (${((100 * ok) / total).toFixed(1)} %); every pair here has a reachable relay.`);
  if (args.json) writeFileSync(args.json, JSON.stringify(rows, null, 2));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => {
    console.error(`lab/matrix: ${e.message}`);
    process.exit(1);
  });
}
