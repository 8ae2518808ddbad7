// lab/calls-bench: call set-up time in the network lab, click → first decoded frame on the other
// side (bench/browser/call-setup.mjs, the same measure as the loopback benchmark bench/browser/calls.mjs),
// with a one-way delay between the two browsers. The host's side is a port-preserving NAT whose router
// holds every packet `--delay` ms each way (nfq-delay, as the `slow` scenario), the guest's a cone NAT
// without delay: between the two browsers the delay is `--delay` ms one way. Each run is a fresh 1:1
// room with new pages (a second call on the same link needs no renegotiation). Serves the e2e build
// (web/dist-e2e: the app plus window.__ghostchatMesh, to read getStats). Prints each run, then
// p50/p95/min/max, the path and the round trip the quality indicator measured.
//
//   lab/calls-bench [--runs N] [--delay MS] [--json FILE]      (root; build the server Release and web/dist-e2e first)
import { existsSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { callSetupMs, setupStats } from "../bench/browser/call-setup.mjs";
import { createRoom, newPage, waitChatReady, waitPath } from "./browser.mjs";
import { createLab, labUnavailableReason, ROOT, scenario } from "./netlab.mjs";

const E2E_DIST = path.join(ROOT, "web/dist-e2e");
const FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"];

function parseArgs(argv) {
  const args = { runs: 10, delay: 50, json: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--runs") args.runs = Number(argv[++i]);
    else if (a === "--delay") args.delay = Number(argv[++i]);
    else if (a === "--json") args.json = argv[++i];
    else if (a === "--help" || a === "-h") {
      console.log("usage: lab/calls-bench [--runs N] [--delay MS] [--json FILE]");
      process.exit(0);
    } else throw new Error(`unknown argument '${a}' (see --help)`);
  }
  if (!Number.isInteger(args.runs) || args.runs < 1 || args.runs > 200) throw new Error("--runs must be 1..200");
  if (!Number.isInteger(args.delay) || args.delay < 0 || args.delay > 1000) throw new Error("--delay must be 0..1000 (ms)");
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const reason = labUnavailableReason();
  if (reason) {
    console.error(`lab/calls-bench: ${reason}`);
    process.exit(2);
  }
  if (!existsSync(path.join(E2E_DIST, "index.html"))) throw new Error(`e2e build missing: ${E2E_DIST} (cd web && npm run build:e2e)`);
  const lab = await createLab([{ ...scenario("cone"), delayMs: args.delay }, "cone"]);
  const runs = [];
  try {
    const { url } = await lab.startServer({ GhostChat__Web__RootPath: E2E_DIST });
    const [hb, gb] = [await lab.launchChromium(1, FAKE_MEDIA), await lab.launchChromium(2, FAKE_MEDIA)];
    for (let i = 0; i < args.runs; i++) {
      const host = await newPage(hb);
      const guest = await newPage(gb);
      try {
        const link = await createRoom(host.page, url);
        await guest.page.goto(link);
        await Promise.all([waitChatReady(host.page), waitChatReady(guest.page)]);
        const ms = await callSetupMs(host.page, guest.page);
        const p = await waitPath(guest.page);
        runs.push({ ms, path: p.path, rtt: p.rtt });
        console.log(`run ${i + 1}: ${ms.toFixed(0)} ms (path ${p.path}, round trip ${p.rtt === null ? "?" : Math.round(p.rtt)} ms)`);
      } finally {
        await host.context.close().catch(() => undefined);
        await guest.context.close().catch(() => undefined);
      }
    }
  } finally {
    await lab.destroy();
  }
  const s = setupStats(runs.map((r) => r.ms));
  const rtts = runs.map((r) => r.rtt).filter((x) => x !== null);
  console.log(
    `call set-up at ${args.delay} ms one way, click → first decoded frame on the other side: p50 ${s.p50.toFixed(0)} ms, p95 ${s.p95.toFixed(0)} ms (min ${s.min.toFixed(0)}, max ${s.max.toFixed(0)}, n ${s.n}); round trip p50 ${rtts.length ? Math.round(setupStats(rtts).p50) : "?"} ms; paths ${[...new Set(runs.map((r) => r.path))].join(", ")} (${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)})`,
  );
  if (args.json) writeFileSync(args.json, JSON.stringify({ delayMs: args.delay, runs, ...s }, null, 2));
}

main().catch((e) => {
  console.error(`lab/calls-bench: ${e.message}`);
  process.exit(1);
});
