#!/usr/bin/env node
// Call benchmark, headless Chromium with fake devices through the real GhostChat server over
// loopback. (1) Call set-up: one person is in the call, the other clicks "Join with video"; the time
// from that click to the first video frame decoded on the first person's side (getUserMedia, the
// renegotiation over the data channel, the first key frame), p50/p95 over `runs` fresh pairs (a new
// pair each run: a second call on the same link needs no renegotiation and would flatter the figure;
// the measure itself is bench/browser/call-setup.mjs, shared with the lab's lab/calls-bench.mjs).
// (2) CPU of a 4-person video mesh at the default camera size (640×360): CPU-seconds per second of
// every browser process, over `seconds`, divided by the number of pages.
//
//   cd web && npm run build:e2e && node ../bench/browser/calls.mjs [runs=15] [people=4] [seconds=20]
//
// Needs the server built (dotnet build src/GhostChat.Server -c Release) and web/node_modules; uses the
// e2e build's hooks (web/dist-e2e). Clocks: both pages run in one browser on one machine, and each
// stamps with performance.timeOrigin + performance.now().
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { callSetupMs, setupStats as stats } from "./call-setup.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, "../../web");
const harness = await import(path.join(webDir, "e2e/harness.mjs"));

const RUNS = Number(process.argv[2] ?? 15);
const PEOPLE = Number(process.argv[3] ?? 4);
const SECONDS = Number(process.argv[4] ?? 20);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const until = (p, fn, arg, timeout = 120_000) => p.page.waitForFunction(fn, arg, { polling: 10, timeout });

/** Polls an asynchronous condition from here (Playwright's waitForFunction takes a promise as truthy at once). */
async function poll(p, fn, arg, every = 10, timeout = 120_000) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await p.eval(fn, arg);
    if (value) return value;
    if (Date.now() > end) throw new Error("condition not met");
    await sleep(every);
  }
}

/** CPU ticks (user + system) of every process descended from this one, but `exclude`. */
function descendantsTicks(exclude) {
  const parent = new Map();
  const ticks = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parent.set(Number(d), Number(rest[1]));
      ticks.set(Number(d), Number(rest[11]) + Number(rest[12]));
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  for (const [pid, t] of ticks) {
    if (pid === exclude) continue;
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === exclude) break;
      if (p === process.pid) {
        total += t;
        break;
      }
    }
  }
  return total;
}

const server = await harness.startServer({}, undefined, { web: harness.E2E_DIST });
const browser = await harness.launchChromium(harness.FAKE_MEDIA_ARGS);
try {
  // 1. Click → first decoded frame.
  const setups = [];
  for (let run = 0; run < RUNS; run++) {
    const host = await harness.chromiumPage(browser, { width: 800, height: 600 });
    const guest = await harness.chromiumPage(browser, { width: 800, height: 600 });
    await harness.connectPair(host, guest, server.url);
    const ms = await callSetupMs(host.page, guest.page);
    setups.push(ms);
    console.log(`run ${run + 1}: ${ms.toFixed(0)} ms`);
    await host.context.close();
    await guest.context.close();
  }
  const s = stats(setups);
  console.log(`call set-up, click → first decoded frame on the other side: p50 ${s.p50.toFixed(0)} ms, p95 ${s.p95.toFixed(0)} ms (min ${s.min.toFixed(0)}, max ${s.max.toFixed(0)}, n ${s.n})`);

  // 2. CPU of a video mesh.
  const pages = [];
  const host = await harness.chromiumPage(browser, { width: 800, height: 600 });
  const link = await harness.createRoom(host, server.url, "group");
  pages.push(host);
  for (let i = 1; i < PEOPLE; i++) {
    const p = await harness.chromiumPage(browser, { width: 800, height: 600 });
    await p.goto(link);
    await until(p, () => !!window.__ghostchatMesh && document.body.dataset.view === "chat");
    pages.push(p);
  }
  for (const p of pages) await until(p, (n) => window.__ghostchatMesh.links().length === n, PEOPLE - 1);
  for (const p of pages) await p.page.click("#call-video");
  for (const p of pages) {
    await until(p, (n) => document.querySelector("#call")?.dataset.members === String(n), PEOPLE - 1);
    for (const id of await p.eval(() => window.__ghostchatMesh.links()))
      await poll(p, (id) => window.__ghostchatMesh.rtp(id).then((r) => r.some((s) => s.type === "inbound-rtp" && s.kind === "video" && s.framesDecoded > 30)), id, 200);
  }
  await sleep(5000); // past the adaptation's warm-up
  const hz = 100; // USER_HZ on Linux
  const t0 = descendantsTicks(server.pid);
  const w0 = performance.now();
  await sleep(SECONDS * 1000);
  const cpu = (descendantsTicks(server.pid) - t0) / hz / ((performance.now() - w0) / 1000);
  const fps = [];
  for (const p of pages)
    for (const id of await p.eval(() => window.__ghostchatMesh.links()))
      fps.push(await p.eval((id) => window.__ghostchatMesh.rtp(id).then((r) => r.find((s) => s.type === "inbound-rtp" && s.kind === "video")?.framesPerSecond ?? 0), id));
  console.log(
    `${PEOPLE}-person video mesh: browser CPU ${cpu.toFixed(2)} cores in all, ${(cpu / PEOPLE).toFixed(2)} per person; received frame rate p50 ${stats(fps).p50} fps (${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)})`,
  );
} finally {
  await browser.close();
  await server.stop();
}
