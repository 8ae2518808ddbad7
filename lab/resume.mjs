// lab/resume: time to resume after a cut, measured as recovery.test.mjs measures it, N times.
// A lab with one side per person and the real server; per run a new room with new pages (with
// --same-room: one room for every run), then: everyone writes (one message every --every-ms each),
// every path between the browsers and to TURN is dropped in the routers for --cut-ms (signaling stays
// up), restored, and the run waits until everything written arrived. Prints per run and then median/p95 of: restore → first outstanding message delivered,
// restore → all delivered. A run where something was lost, duplicated or out of order, or where a
// page said someone left, is reported and counted as failed (its times are left out).
//
//   lab/resume [--runs N] [--kind group|room] [--browsers chromium,firefox,chromium]
//              [--sides cone,cone,symmetric] [--cut-ms 25000] [--every-ms 1500] [--same-room] [--json FILE]
//              [--server-env GhostChat__Turn__MaxAllocationsPerUser=100 …]   (extra server settings)
// With --server-env Logging__LogLevel__GhostChat.Turn.Server=Debug it also counts the relay's refusals
// for its allocation quota (486). After each run it prints the relay's open allocations (the server's /metrics), and with a new room
// per run also 3 s after that run's pages closed: what is left then was not released.
import { writeFileSync } from "node:fs";
import { createLab, labUnavailableReason, leftoverNamespaces, SCENARIOS } from "./netlab.mjs";
import { openRoom } from "./pair.mjs";
import { percentile } from "./matrix.mjs";
import { Chat, cutRound, people, secs } from "./recovery.mjs";

function parseArgs(argv) {
  const args = { runs: 5, kind: "group", browsers: ["chromium", "firefox", "chromium"], sides: null, cutMs: 25_000, everyMs: 1500, json: null, sameRoom: false,
    // /metrics answers only GhostChat:Ops:DetailFrom: the lab's client sides reach it from these networks.
    serverEnv: { GhostChat__Ops__DetailFrom__0: "198.51.100.0/24", GhostChat__Ops__DetailFrom__1: "192.0.2.0/24" } };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === "--runs") args.runs = Number(next());
    else if (a === "--kind") args.kind = next();
    else if (a === "--browsers") args.browsers = String(next()).split(",");
    else if (a === "--sides") args.sides = String(next()).split(",");
    else if (a === "--cut-ms") args.cutMs = Number(next());
    else if (a === "--every-ms") args.everyMs = Number(next());
    else if (a === "--json") args.json = next();
    else if (a === "--same-room") args.sameRoom = true;
    else if (a === "--server-env") {
      const [k, ...v] = String(next()).split("=");
      args.serverEnv[k] = v.join("=");
    }
    else if (a === "--help" || a === "-h") {
      console.log("usage: lab/resume [--runs N] [--kind group|room] [--browsers chromium,firefox,…] [--sides cone,…] [--cut-ms MS] [--every-ms MS] [--same-room] [--server-env KEY=VALUE]… [--json FILE]");
      process.exit(0);
    } else throw new Error(`unknown argument '${a}' (see --help)`);
  }
  if (args.kind === "room" && !process.argv.includes("--browsers")) args.browsers = ["chromium", "firefox"];
  args.sides ??= args.browsers.map((_, i) => (i === 2 ? "symmetric" : "cone"));
  if (!Number.isInteger(args.runs) || args.runs < 1 || args.runs > 200) throw new Error("--runs must be 1..200");
  if (!["group", "room"].includes(args.kind)) throw new Error("--kind is group or room");
  if (args.kind === "room" && args.browsers.length !== 2) throw new Error("a 1:1 room has two people");
  if (args.browsers.length < 2 || args.browsers.some((b) => !["chromium", "firefox"].includes(b))) throw new Error("--browsers: two or more of chromium, firefox");
  if (args.sides.length !== args.browsers.length || args.sides.some((s) => !SCENARIOS[s])) throw new Error(`--sides: one per browser, of ${Object.keys(SCENARIOS).join(", ")}`);
  if (!(args.cutMs >= 1000) || !(args.everyMs >= 200)) throw new Error("--cut-ms ≥ 1000, --every-ms ≥ 200");
  return args;
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`lab/resume: ${e.message}`);
    process.exit(2);
  }
  const reason = labUnavailableReason();
  if (reason) {
    console.error(`lab/resume: ${reason}`);
    process.exit(2);
  }
  const lab = await createLab(args.sides);
  const names = "ABCDEFGHIJKL";
  const runs = [];
  let code = 0;
  try {
    const { url } = await lab.startServer(args.serverEnv);
    // The relay's open allocations, from the server's /metrics (read from side 1's namespace).
    const allocations = () => {
      try {
        const text = lab.exec("c1", process.execPath, ["-e", `fetch(${JSON.stringify(url + "/metrics")}).then((r) => r.text()).then((t) => console.log(t))`]);
        return Number(/^ghostchat_turn_allocations_active\S*\s+(\d+)/m.exec(text)?.[1] ?? NaN);
      } catch {
        return NaN;
      }
    };
    let ps = null;
    const open = async () => {
      ps = await people(lab, args.browsers.map((b, i) => [i + 1, b, names[i]]));
      await openRoom(ps[0].page, ps.slice(1).map((p) => p.page), url, args.kind);
    };
    const close = async () => {
      await Promise.all((ps ?? []).map((p) => p.close().catch(() => undefined)));
      ps = null;
    };
    console.log(`lab/resume: ${args.kind === "group" ? "group room" : "1:1 room"}, ${args.browsers.map((b, i) => `${names[i]}=${b}@${args.sides[i]}`).join(" ")}; ${args.runs} cuts of ${secs(args.cutMs)}${args.sameRoom ? " in one room" : ", a new room each"}, one message every ${secs(args.everyMs)} each`);
    for (let run = 1; run <= args.runs; run++) {
      if (!ps) await open();
      // Names per run ("A3") keep each run's messages apart in the same pages.
      const chat = new Chat(ps.map((p) => ({ ...p, name: `${p.name}${run}` })), { kind: args.kind });
      await chat.settle(120_000);
      const r = await cutRound(lab, chat, { cutMs: args.cutMs, everyMs: args.everyMs });
      const problems = [...chat.problems(r), ...r.through, ...chat.missingReconnecting(r.snap)];
      const ok = problems.length === 0;
      const relays = allocations();
      // With --server-env Logging__LogLevel__GhostChat.Turn.Server=Debug the relay logs each refusal.
      const quota = (lab.server.output().match(/Request refused with 486/g) ?? []).length;
      runs.push({ run, ok, outstanding: r.resume.outstanding, firstMs: r.resume.firstMs, allMs: r.resume.allMs, turnAllocations: relays, quotaRefusals: quota, problems });
      console.log(`run ${run}: ${ok ? "ok" : "FAILED"}; TURN allocations open ${relays}; ${r.resume.outstanding} outstanding at the restore; first delivered ${secs(r.resume.firstMs)}, all ${secs(r.resume.allMs)} after it${ok ? "" : `\n  ${[...chat.summary(r.snap), ...problems.slice(0, 10)].join("\n  ")}`}`);
      if (quota > 0) console.log(`  the relay refused ${quota} allocations so far with 486 (Allocation Quota Reached)`);
      if (!args.sameRoom) {
        await close();
        await new Promise((r) => setTimeout(r, 3000));
        // Closed pages release their allocations (network up): what stays was lost in the cut.
        const stale = allocations();
        runs.at(-1).turnAllocationsAfterClose = stale;
        console.log(`  TURN allocations open 3 s after the pages closed: ${stale}`);
      }
    }
    const good = runs.filter((r) => r.ok);
    const first = good.map((r) => r.firstMs).sort((a, b) => a - b);
    const all = good.map((r) => r.allMs).sort((a, b) => a - b);
    console.log(`\n${good.length}/${runs.length} runs delivered everything exactly once, in order, with reconnecting shown and nobody left.`);
    if (good.length > 0) {
      console.log(`restore → first outstanding message delivered: median ${secs(percentile(first, 50))}, p95 ${secs(percentile(first, 95))}, max ${secs(first.at(-1))}`);
      console.log(`restore → all delivered:                      median ${secs(percentile(all, 50))}, p95 ${secs(percentile(all, 95))}, max ${secs(all.at(-1))}`);
    }
    if (args.json) writeFileSync(args.json, JSON.stringify({ args, runs }, null, 2));
    if (good.length < runs.length) code = 1;
  } catch (e) {
    console.error(`lab/resume: ${e.stack ?? e.message}`);
    code = 1;
  } finally {
    await lab.destroy();
    const left = leftoverNamespaces(lab.prefix);
    if (left.length > 0) {
      console.error(`lab/resume: namespaces left behind: ${left.join(" ")}`);
      code = 1;
    }
  }
  process.exit(code);
}

main();
