#!/usr/bin/env node
// File benchmark: a file sent through GhostChat between headless browser pages on loopback, through
// the real server (the shipped bundle), against a bare pair of pages blasting one RTCDataChannel with
// the same message size and the same backpressure, in the same run; and the chat message round trip
// (send → acknowledged) while the file moves, against idle.
//
//   cd web && npm run build && node ../bench/browser/files.mjs [MB=100] [pings=20] [options]
//
//   --pair S,R     sender and receiver browsers, chromium or firefox (default chromium,chromium); the
//                  bare pair uses the same two browsers
//   --relay        also the same transfer relay-only through the server's embedded TURN (the receiver
//                  turns "Hide my IP" on before joining), after the direct one, in the same run
//   --memory       the receiving tab's memory while the file moves (Chromium; no bare pair): the receiver
//                  runs in a browser of its own; its renderer processes' RSS and PSS read from
//                  /proc/<pid>/smaps_rollup (PIDs from CDP SystemInfo.getProcessInfo) and the page's
//                  JS heap (CDP Runtime.getHeapUsage), every 250 ms; the sending tab's too
//   --text         the file is a server log (text lines, `bench.log`), which GhostChat sends deflated
//                  (throughput counts the file's bytes); the bare pair still sends random bytes
//   --group N      a group room of N (the host sends one file to N-1 members, all Chromium): each
//                  member's throughput and how evenly the sender served them, against a 1:1 transfer
//                  of the same file in the same run (no bare pair)
//
// Needs the server built (dotnet build src/GhostChat.Server -c Release) and web/node_modules.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  writeSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const harness = await import(path.resolve(here, "../../web/e2e/harness.mjs"));

function parseArgs(argv) {
  const a = {
    mb: 100,
    pings: 20,
    pair: ["chromium", "chromium"],
    relay: false,
    memory: false,
    group: 0,
    text: false,
  };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    if (x === "--pair") a.pair = String(argv[++i]).split(",");
    else if (x === "--relay") a.relay = true;
    else if (x === "--memory") a.memory = true;
    else if (x === "--text") a.text = true;
    else if (x === "--group") a.group = Number(argv[++i]);
    else if (x.startsWith("--")) throw new Error(`unknown option ${x}`);
    else positional.push(Number(x));
  }
  if (positional[0] !== undefined) a.mb = positional[0];
  if (positional[1] !== undefined) a.pings = positional[1];
  if (!(a.mb > 0) || !(a.pings >= 0)) throw new Error("MB > 0, pings ≥ 0");
  if (
    a.pair.length !== 2 ||
    a.pair.some((b) => !["chromium", "firefox"].includes(b))
  )
    throw new Error("--pair: two of chromium, firefox");
  if (a.memory && a.pair.some((b) => b !== "chromium"))
    throw new Error(
      "--memory reads Chromium processes: --pair chromium,chromium",
    );
  if (a.group && !(Number.isInteger(a.group) && a.group >= 3 && a.group <= 6))
    throw new Error("--group N: 3..6");
  return a;
}
const args = parseArgs(process.argv.slice(2));
const MB = args.mb;
const SIZE = Math.round(MB * 1024 * 1024);

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const rate = (s) => `${(MB / s).toFixed(1)} MB/s`;

// ---- browsers ---------------------------------------------------------------------------------

const browsers = [];
/**
 * Chromium with a persistent (on-disk) profile, as a person's browser is: Playwright's newContext()
 * contexts are off the record, and Chromium keeps an off-the-record profile's Origin Private File
 * System in memory (in the browser process). Its processes are found in /proc by its profile dir.
 */
async function launchPersistent() {
  const { chromium } = createRequire(
    path.resolve(here, "../../web/package.json"),
  )("playwright-core");
  const dir = mkdtempSync(path.join(tmpdir(), "gc-bench-profile-"));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: harness.CHROMIUM,
    headless: true,
    args: harness.CHROMIUM_ARGS,
  });
  browsers.push(ctx);
  return { kind: "chromium", persistent: ctx, dir };
}

/** The processes of the Chromium whose profile is `dir` (its browser process and every descendant), with their kind. */
function profileProcesses(dir) {
  const info = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      // Chromium's child processes rewrite their command line (one string with spaces): read it joined.
      const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8")
        .split("\0")
        .join(" ");
      const ppid = Number(
        readFileSync(`/proc/${d}/stat`, "utf8")
          .replace(/^.*\) /, "")
          .split(" ")[1],
      );
      info.set(Number(d), { cmd, ppid });
    } catch {
      // gone meanwhile
    }
  }
  const root = [...info].find(
    ([, x]) =>
      x.cmd.includes(`--user-data-dir=${dir}`) && !x.cmd.includes("--type="),
  )?.[0];
  const mine = new Set(root ? [root] : []);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, x] of info)
      if (!mine.has(pid) && mine.has(x.ppid)) {
        mine.add(pid);
        grew = true;
      }
  }
  return [...mine].map((id) => ({
    id,
    type: /--type=(\S+)/.exec(info.get(id).cmd)?.[1] ?? "browser",
  }));
}

async function launch(kind) {
  const b =
    kind === "firefox"
      ? await harness.launchFirefox()
      : await harness.launchChromium();
  browsers.push(b);
  return { kind, b };
}

/** A new page (wrapped as the e2e tests wrap them) in its own context (Chromium) or tab (Firefox). */
async function open(br) {
  if (br.persistent)
    return {
      ...harness.wrapPage(await br.persistent.newPage(), "playwright"),
      context: br.persistent,
    };
  if (br.kind === "firefox") return harness.firefoxPage(br.b);
  return harness.chromiumPage(br.b);
}
async function closePage(p) {
  if (p.context) await p.context.close();
  else await p.page.close();
}

async function pick(p, file) {
  if (p.kind === "playwright") return p.page.setInputFiles("#file-input", file);
  await (await p.page.$("#file-input")).uploadFile(file);
}

// ---- the bare pair ----------------------------------------------------------------------------

/** The bare pair: offer/answer passed by this script, one ordered channel, 64 KiB + 21-byte messages. */
async function bare(sb, rb) {
  const a = await open(sb);
  const b = await open(rb);
  const gathered = `new Promise((r) => { if (pc.iceGatheringState === "complete") r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r(); })`;
  const offer = await a.page.evaluate(`(async () => {
    const pc = (window.pc = new RTCPeerConnection());
    window.dc = pc.createDataChannel("bare", { ordered: true });
    await pc.setLocalDescription(await pc.createOffer());
    await ${gathered};
    return JSON.stringify(pc.localDescription);
  })()`);
  const answer = await b.page.evaluate(
    `(async (offer) => {
      const pc = (window.pc = new RTCPeerConnection());
      window.done = new Promise((resolve) => {
        pc.ondatachannel = (e) => {
          let got = 0;
          e.channel.binaryType = "arraybuffer";
          e.channel.onmessage = (m) => { got += m.data.byteLength; if (got >= ${SIZE}) resolve(performance.timeOrigin + performance.now()); };
        };
      });
      await pc.setRemoteDescription(offer);
      await pc.setLocalDescription(await pc.createAnswer());
      await ${gathered};
      return JSON.stringify(pc.localDescription);
    })(${offer})`,
  );
  const start = await a.page.evaluate(`(async (answer) => {
    await pc.setRemoteDescription(answer);
    if (dc.readyState !== "open") await new Promise((r) => (dc.onopen = r));
    dc.bufferedAmountLowThreshold = 256 * 1024;
    const chunk = new Uint8Array(64 * 1024 + 21);
    crypto.getRandomValues(chunk.subarray(0, 65536));
    const t0 = performance.timeOrigin + performance.now();
    let sent = 0;
    const pump = () => {
      while (sent < ${SIZE} && dc.bufferedAmount < 1024 * 1024) { dc.send(chunk); sent += chunk.byteLength; }
    };
    dc.onbufferedamountlow = pump;
    pump();
    return t0;
  })(${answer})`);
  const end = await b.page.evaluate("window.done");
  await closePage(a);
  await closePage(b);
  return (end - start) / 1000;
}

// ---- GhostChat --------------------------------------------------------------------------------

/** "Accept files automatically up to 1 GB" (in the folded member panel). */
function autoAccept(p) {
  return p.eval(() => {
    const s = document.querySelector("#auto-accept");
    s.value = String(1024 * 2 ** 20);
    s.dispatchEvent(new Event("change"));
  });
}

/** Notes, in the page, when the incoming card reached each state and its progress bar over time. */
function recordIncoming(p) {
  return p.eval(() => {
    window.__times = {};
    window.__progress = [];
    new MutationObserver(() => {
      const li = document.querySelector('li.file-card[data-direction="in"]');
      if (!li) return;
      const now = performance.timeOrigin + performance.now();
      if (!window.__times[li.dataset.state])
        window.__times[li.dataset.state] = now;
      const bar = li.querySelector("progress");
      if (bar && window.__progress.at(-1)?.[1] !== bar.value)
        window.__progress.push([now, bar.value]);
    }).observe(document.querySelector("#messages"), {
      subtree: true,
      childList: true,
      attributes: true,
    });
  });
}

async function doneTimes(p) {
  await p.waitFor(
    () => window.__times.done || window.__times.failed,
    undefined,
    1_800_000,
  );
  const t = await p.eval(() => ({
    times: window.__times,
    progress: window.__progress,
  }));
  if (!t.times.done) throw new Error("the transfer failed");
  return t;
}

/** Chat round trips from `p`: `n` idle, or as many as fit while its outgoing file card is moving. */
function pings(p, n, whileMoving) {
  return p.eval(
    async ([n, whileMoving]) => {
      const out = [];
      const composer = document.querySelector("#composer");
      const list = document.querySelector("#messages");
      const moving = () =>
        document.querySelector('li.file-card[data-direction="out"]')?.dataset
          .state === "moving";
      for (let i = 0; i < n && (!whileMoving || moving()); i++) {
        const t0 = performance.now();
        composer.value = `ping ${i}`;
        composer.dispatchEvent(
          new KeyboardEvent("keydown", {
            key: "Enter",
            bubbles: true,
            cancelable: true,
          }),
        );
        const li = [
          ...list.querySelectorAll('li[data-direction="out"]:not(.file-card)'),
        ].at(-1);
        await new Promise((resolve) => {
          if (li.dataset.state !== "sending") return resolve();
          const mo = new MutationObserver(
            () =>
              li.dataset.state !== "sending" && (mo.disconnect(), resolve()),
          );
          mo.observe(li, { attributes: true, attributeFilter: ["data-state"] });
        });
        if (!whileMoving || moving()) out.push(performance.now() - t0);
      }
      return out;
    },
    [n, whileMoving],
  );
}

/** The quality indicator's path in a 1:1 room ("direct-udp", "relay-udp", "relay-remote" …). */
const pathOf = (p) =>
  p.eval(
    () =>
      document.querySelector("#view-chat .chat-tools .quality")?.dataset.path ??
      "",
  );

/**
 * Memory of a Chromium's renderer processes (PIDs from CDP SystemInfo.getProcessInfo; RSS and PSS
 * from /proc/<pid>/smaps_rollup, in MiB) and of one page's JS heap (CDP Runtime.getHeapUsage),
 * sampled every 250 ms until stop(); returns the peaks and the figures at the start.
 */
async function memorySampler(br, p) {
  const browserCdp = br.persistent ? null : await br.b.newBrowserCDPSession();
  const pageCdp = await p.context.newCDPSession(p.page);
  const kib = (text, field) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0) /
    1024;
  const read = async () => {
    const processInfo = browserCdp
      ? (await browserCdp.send("SystemInfo.getProcessInfo")).processInfo
      : profileProcesses(br.dir);
    const renderers = [];
    const byType = {};
    let all = 0;
    for (const proc of processInfo) {
      let text;
      try {
        text = readFileSync(`/proc/${proc.id}/smaps_rollup`, "utf8");
      } catch {
        continue; // gone meanwhile
      }
      all += kib(text, "Pss");
      byType[proc.type] = (byType[proc.type] ?? 0) + kib(text, "Pss");
      if (proc.type === "renderer")
        renderers.push({
          pid: proc.id,
          rss: kib(text, "Rss"),
          pss: kib(text, "Pss"),
        });
    }
    const heap = await pageCdp.send("Runtime.getHeapUsage");
    return { renderers, allPss: all, byType, heap: heap.usedSize / 2 ** 20 };
  };
  const first = await read();
  const peak = {
    rss: 0,
    pss: 0,
    rendererPssSum: 0,
    allPss: 0,
    heap: 0,
    pid: 0,
    byType: {},
  };
  let running = true;
  const loop = (async () => {
    while (running) {
      const s = await read().catch(() => null);
      if (s) {
        for (const r of s.renderers) {
          if (r.pss > peak.pss) Object.assign(peak, { pss: r.pss, pid: r.pid });
          peak.rss = Math.max(peak.rss, r.rss);
        }
        peak.rendererPssSum = Math.max(
          peak.rendererPssSum,
          s.renderers.reduce((x, r) => x + r.pss, 0),
        );
        peak.allPss = Math.max(peak.allPss, s.allPss);
        // Each kind of process's PSS (browser, renderer, gpu, utility …) at its own peak.
        for (const [type, v] of Object.entries(s.byType))
          peak.byType[type] = Math.max(peak.byType[type] ?? 0, v);
        peak.heap = Math.max(peak.heap, s.heap);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    first,
    read,
    collect: () => pageCdp.send("HeapProfiler.collectGarbage"),
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

/**
 * One file from a sender page to a receiver page in a new 1:1 room. `relay`: the receiver turns
 * "Hide my IP" on first (relay-only). `memory`: sample both tabs' memory during the transfer.
 */
async function ours(
  sb,
  rb,
  url,
  file,
  { relay = false, memory = false, pingCount = args.pings } = {},
) {
  const host = await open(sb);
  const guest = await open(rb);
  const link = await harness.createRoom(host, url);
  if (relay) {
    await guest.goto(url + "/");
    await guest.waitFor(() => document.body.dataset.view === "home");
    await guest.click("#hide-ip");
  }
  await guest.goto(link);
  await Promise.all([
    harness.waitConnected(host),
    harness.waitConnected(guest),
  ]);
  await guest.waitFor(
    () =>
      /^(direct|relay)/.test(
        document.querySelector("#view-chat .chat-tools .quality")?.dataset
          .path ?? "",
      ),
    undefined,
    60_000,
  );
  const paths = { sender: await pathOf(host), receiver: await pathOf(guest) };
  if (relay && !paths.receiver.startsWith("relay-"))
    throw new Error(
      `relay-only asked, the receiver's path is ${paths.receiver}`,
    );
  await autoAccept(guest);
  const idle = await pings(host, pingCount, false);
  await recordIncoming(guest);
  const samplers = memory
    ? [await memorySampler(rb, guest), await memorySampler(sb, host)]
    : [];
  const picked = Date.now();
  await pick(host, file);
  await host.waitFor(
    () =>
      document.querySelector('li.file-card[data-direction="out"]')?.dataset
        .state === "moving",
    undefined,
    1_800_000,
  );
  const busy = pingCount > 0 ? await pings(host, 100_000, true) : [];
  const { times: t } = await doneTimes(guest);
  const mem = [];
  for (const s of samplers) mem.push({ first: s.first, peak: await s.stop() });
  // Once done: is what the browser held for the file let go? (read again 10 s later, pages still open)
  if (memory) {
    mem[0].atDone = await samplers[0].read();
    await new Promise((r) => setTimeout(r, 10_000));
    mem[0].later = await samplers[0].read();
    // Then a full garbage collection in the receiving page (CDP HeapProfiler.collectGarbage): what the
    // browser process lets go of then was held for objects of the page that were not yet collected.
    await samplers[0].collect();
    await new Promise((r) => setTimeout(r, 3000));
    mem[0].collected = await samplers[0].read();
  }
  await closePage(host);
  await closePage(guest);
  return {
    seconds: (t.done - t.moving) / 1000,
    total: (t.done - picked) / 1000,
    idle,
    busy,
    paths,
    mem,
  };
}

/** One file from the host of a group room of `n` to its n-1 members (all Chromium). */
async function group(br, url, file, n) {
  const host = await open(br);
  const link = await harness.createRoom(host, url, "group");
  const members = [];
  for (let i = 1; i < n; i++) {
    const m = await open(br);
    await m.goto(link);
    await m.waitFor(
      () =>
        document.body.dataset.view === "chat" &&
        document.querySelector("#composer")?.disabled === false,
      undefined,
      60_000,
    );
    members.push(m);
  }
  await host.waitFor(
    (k) =>
      document.querySelectorAll(
        '#members li.member[data-state="online"][data-path="direct"]',
      ).length === k,
    n - 1,
    120_000,
  );
  for (const m of members) {
    await autoAccept(m);
    await recordIncoming(m);
  }
  await pick(host, file);
  const got = [];
  for (const m of members) got.push(await doneTimes(m));
  await host.waitFor(
    () =>
      document.querySelector('li.file-card[data-direction="out"]')?.dataset
        .state === "done",
    undefined,
    120_000,
  );
  for (const p of [host, ...members]) await closePage(p);
  const start = Math.min(...got.map((g) => g.times.moving));
  const per = got.map((g) => ({
    seconds: (g.times.done - g.times.moving) / 1000,
    fromFirst: (g.times.done - start) / 1000,
    progress: g.progress,
  }));
  // Where every other member stood when the first one was done (their progress bars, redrawn every 250 ms).
  const firstDone = Math.min(...got.map((g) => g.times.done));
  const at = (g) =>
    g.times.done <= firstDone
      ? SIZE
      : (g.progress.filter(([t]) => t <= firstDone).at(-1)?.[1] ?? 0);
  const shareAtFirstDone = got.map((g) => at(g) / SIZE);
  const rates = per.map((x) => MB / x.seconds);
  const jain =
    rates.reduce((a, b) => a + b, 0) ** 2 /
    (rates.length * rates.reduce((a, b) => a + b * b, 0));
  return {
    per,
    rates,
    jain,
    shareAtFirstDone,
    lastDone: Math.max(...per.map((x) => x.fromFirst)),
  };
}

// ---- the run ----------------------------------------------------------------------------------

const dir = mkdtempSync(path.join(tmpdir(), "gc-bench-files-"));
const file = path.join(dir, args.text ? "bench.log" : "bench.bin");
/** About a MiB of log lines from line `from` on (each 64 KiB deflates to about 11 % by Node's zlib). */
function logText(from) {
  const lines = [];
  for (let i = from, n = 0; n < 2 ** 20; i++) {
    const line = `2026-12-05T10:${String((i >> 10) % 60).padStart(2, "0")}:${String(i % 60).padStart(2, "0")}Z INFO request ${i} GET /api/ice served in ${(i * 7919) % 997} ms\n`;
    lines.push(line);
    n += line.length;
  }
  return { bytes: Buffer.from(lines.join("")), next: from + lines.length };
}
{
  // Written a MiB at a time (a 1 GB file would not fit one Buffer comfortably).
  const fd = openSync(file, "w");
  let line = 0;
  for (let at = 0; at < SIZE; at += 2 ** 20) {
    const size = Math.min(2 ** 20, SIZE - at);
    if (!args.text) writeSync(fd, randomBytes(size));
    else {
      const t = logText(line);
      line = t.next;
      writeSync(fd, t.bytes.subarray(0, size));
    }
  }
  closeSync(fd);
}
// TURN only when asked: on loopback the relay must be allowed to reach 127.0.0.0/8 (production denies it).
const turnEnv = async () => ({
  GhostChat__Turn__Enabled: "true",
  GhostChat__Turn__ListenAddresses__0: "127.0.0.1",
  GhostChat__Turn__UdpPort: String(await harness.freePort()),
  GhostChat__Turn__TcpPort: String(await harness.freePort()),
  GhostChat__Turn__AllowedPeers__0: "127.0.0.0/8",
});
const server = await harness.startServer(args.relay ? await turnEnv() : {});
try {
  const load = () =>
    readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(", ");
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
    cwd: here,
    encoding: "utf8",
  }).trim();
  console.log(
    `# commit ${commit}, ${new Date().toISOString().slice(0, 16)} UTC; load (1, 5, 15 min) before: ${load()}`,
  );
  const [sName, rName] = args.pair;
  const sb = await launch(sName);
  // --memory: the receiver in a browser of its own, so its renderer processes are the receiving tab's.
  const rb = args.memory
    ? await launchPersistent()
    : sName !== rName
      ? await launch(rName)
      : sb;
  const pairName = `${sName[0].toUpperCase()}${sName.slice(1)} → ${rName[0].toUpperCase()}${rName.slice(1)}`;
  if (args.group) {
    const one = await ours(sb, sb, server.url, file, { pingCount: 0 });
    const g = await group(sb, server.url, file, args.group);
    console.log(
      `| what (${MB} MB, Chromium, loopback, group of ${args.group}) | figure |`,
    );
    console.log("|---|---|");
    console.log(
      `| 1:1 in the same run, accepted → hash checked | ${rate(one.seconds)} |`,
    );
    g.per.forEach((x, i) =>
      console.log(
        `| member ${i + 1}: accepted → hash checked | ${rate(x.seconds)} (${x.seconds.toFixed(1)} s; done ${x.fromFirst.toFixed(1)} s after the first member started) |`,
      ),
    );
    const upload = ((args.group - 1) * MB) / g.lastDone;
    console.log(
      `| sender's upload: ${args.group - 1} × ${MB} MB / (first member started → last done) | ${upload.toFixed(1)} MB/s (${((upload / (MB / one.seconds)) * 100).toFixed(0)} % of 1:1) |`,
    );
    console.log(
      `| Jain's fairness index over members' throughput (1 = equal) | ${g.jain.toFixed(3)} |`,
    );
    console.log(
      `| where each member stood when the first was done | ${g.shareAtFirstDone.map((s) => `${(s * 100).toFixed(0)} %`).join(", ")} |`,
    );
  } else {
    // --memory: no bare pair (the figure asked is the receiving tab's memory; a 1 GB blast costs a minute).
    const b = args.memory ? null : await bare(sb, rb);
    const o = await ours(sb, rb, server.url, file, { memory: args.memory });
    console.log(
      `| what (${MB} MB, ${pairName}, loopback) | GhostChat | bare data channel | ratio |`,
    );
    console.log("|---|---|---|---|");
    console.log(
      `| throughput, first accepted byte → hash checked (path ${o.paths.receiver}) | ${rate(o.seconds)} | ${b ? rate(b) : "—"} | ${b ? ((b / o.seconds) * 100).toFixed(0) + " %" : "—"} |`,
    );
    if (args.relay) {
      const r = await ours(sb, rb, server.url, file, { relay: true });
      console.log(
        `| relay-only through the embedded TURN (receiver's path ${r.paths.receiver}, sender's ${r.paths.sender}) | ${rate(r.seconds)} | — | ${((o.seconds / r.seconds) * 100).toFixed(0)} % of direct |`,
      );
      console.log(
        `| chat round trip during, relay-only, median (idle → during, n=${r.idle.length}/${r.busy.length}) | ${median(r.idle).toFixed(1)} ms → ${r.busy.length ? median(r.busy).toFixed(1) : "—"} ms | — | — |`,
      );
    }
    console.log(
      `| picked → done (includes the sender's hashing) | ${o.total.toFixed(1)} s | — | — |`,
    );
    if (o.idle.length)
      console.log(
        `| chat round trip, median (idle → during the transfer, n=${o.idle.length}/${o.busy.length}) | ${median(o.idle).toFixed(1)} ms → ${o.busy.length ? median(o.busy).toFixed(1) : "—"} ms | — | ${o.busy.length ? (median(o.busy) / median(o.idle)).toFixed(2) + "×" : "—"} |`,
      );
    if (args.memory) {
      const [rx, tx] = o.mem;
      const f = (x) => `${x.toFixed(0)} MiB`;
      console.log(
        `| receiving tab: renderer PSS, before → peak (RSS before → peak) | ${f(Math.max(...rx.first.renderers.map((r) => r.pss)))} → ${f(rx.peak.pss)} (${f(Math.max(...rx.first.renderers.map((r) => r.rss)))} → ${f(rx.peak.rss)}) | — | — |`,
      );
      console.log(
        `| receiving tab: JS heap used, before → peak | ${f(rx.first.heap)} → ${f(rx.peak.heap)} | — | — |`,
      );
      console.log(
        `| receiving browser: every process's PSS, before → peak | ${f(rx.first.allPss)} → ${f(rx.peak.allPss)} (peak by kind: ${Object.entries(
          rx.peak.byType,
        )
          .map(([k, v]) => `${k} ${f(v)} (was ${f(rx.first.byType[k] ?? 0)})`)
          .join(", ")}) | — | — |`,
      );
      const kinds = (x) =>
        `browser ${f(x.byType.browser ?? 0)}, renderers ${f(x.byType.renderer ?? 0)}, all ${f(x.allPss)}`;
      console.log(
        `| receiving browser's PSS when the file was done → 10 s later → after a GC in the page | ${kinds(rx.atDone)} → ${kinds(rx.later)} → ${kinds(rx.collected)} | — | — |`,
      );
      console.log(
        `| sending tab: renderer PSS, before → peak; JS heap peak | ${f(Math.max(...tx.first.renderers.map((r) => r.pss)))} → ${f(tx.peak.pss)}; ${f(tx.peak.heap)} | — | — |`,
      );
    }
  }
  console.log(`# load (1, 5, 15 min) after: ${load()}`);
} finally {
  for (const b of browsers) await b.close().catch(() => undefined);
  await server.stop();
}
