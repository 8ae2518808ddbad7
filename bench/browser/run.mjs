#!/usr/bin/env node
// Browser benchmark: invite opened → chat ready, and message round trip, in headless Chromium over
// loopback through the real GhostChat server; the same with a bare PeerJS page through the same
// server, so our overhead shows as a ratio. Also the JS the app ships, gzipped.
//
//   cd web && npm run build && node ../bench/browser/run.mjs [runs=20] [messages=20]
//   node ../bench/browser/run.mjs js     (only the JS sizes)
//
// Needs the server built (dotnet build src/GhostChat.Server -c Release) and web/node_modules.
import { createServer } from "node:http";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { createRequire } from "node:module";

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, "../../web");
const requireWeb = createRequire(path.join(webDir, "package.json"));
const { chromium } = requireWeb("playwright-core");
const harness = await import(path.join(webDir, "e2e/harness.mjs"));

// `run.mjs js` prints only the JS sizes (no browser).
const JS_ONLY = process.argv[2] === "js";
const RUNS = Number(process.argv[2] ?? 20);
const MESSAGES = Number(process.argv[3] ?? 20);

function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  return { median: q(0.5), p95: q(0.95), min: s[0], max: s[s.length - 1], n: s.length };
}
const ms = (v) => `${v.toFixed(1)} ms`;

/** Raw and gzipped (level 9) bytes of some built files. */
function sizes(dist, files) {
  let raw = 0, gz = 0;
  for (const f of files) {
    const b = readFileSync(path.join(dist, f));
    raw += b.length;
    gz += gzipSync(b, { level: 9 }).length;
  }
  return { files, raw, gz };
}

/**
 * The JS the chat page loads (index.html's scripts and module preloads, and the service worker) and,
 * apart, every script of the build (the diagnostics and /stats pages load their own).
 */
function jsShipped() {
  const dist = path.join(webDir, "dist");
  const html = readFileSync(path.join(dist, "index.html"), "utf8");
  const linked = [...html.matchAll(/(?:src|href)="\/([^"]+\.js)"/g)].map((m) => m[1]);
  const all = [...readdirSync(path.join(dist, "assets")).filter((f) => f.endsWith(".js")).map((f) => `assets/${f}`), "sw.js"];
  return { page: sizes(dist, [...new Set([...linked, "sw.js"])]), all: sizes(dist, all) };
}

/** Static server for the bare page (peerjs.min.js straight from the package). */
async function startBareServer() {
  const peerjsMin = readFileSync(requireWeb.resolve("peerjs/dist/peerjs.min.js"));
  const files = { "/index.html": [readFileSync(path.join(here, "bare/index.html")), "text/html"], "/bare.js": [readFileSync(path.join(here, "bare/bare.js")), "text/javascript"], "/peerjs.min.js": [peerjsMin, "text/javascript"] };
  const srv = createServer((req, res) => {
    const f = files[new URL(req.url, "http://x").pathname];
    if (!f) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": f[1], "cache-control": "no-store" }).end(f[0]);
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${srv.address().port}`, close: () => new Promise((r) => srv.close(r)) };
}

async function newPage(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  return { context, page };
}

/** One GhostChat run: host makes a room; guest opens the link; times read in the guest page. */
async function runOurs(browser, serverUrl) {
  const host = await newPage(browser);
  const guest = await newPage(browser);
  await host.page.goto(serverUrl + "/");
  await host.page.click("#new-room");
  await host.page.waitForFunction(() => document.querySelector("#invite-link").value.includes("#join="));
  const link = await host.page.inputValue("#invite-link");
  await guest.page.goto(link);
  await guest.page.waitForFunction(() => performance.getEntriesByName("ghostchat:chat-ready").length > 0, undefined, { timeout: 60_000 });
  const ready = await guest.page.evaluate(() => performance.getEntriesByName("ghostchat:chat-ready")[0].startTime);
  if (process.env.BENCH_PHASES) console.error(await guest.page.evaluate(() => performance.getEntriesByType("mark").map((m) => `${m.name} ${m.startTime.toFixed(0)}`).join(", ") + ` | domInteractive ${performance.getEntriesByType("navigation")[0].domInteractive.toFixed(0)}`));
  const rtts = await guest.page.evaluate(async (n) => {
    const out = [];
    const composer = document.querySelector("#composer");
    const list = document.querySelector("#messages");
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      composer.value = `ping ${i}`;
      // What the Enter key does (the form's native submit path costs ~2 ms more in Chromium).
      composer.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
      window.__submitCost = (window.__submitCost ?? 0) + (performance.now() - t0);
      const li = list.lastElementChild;
      await new Promise((resolve) => {
        if (li.dataset.state !== "sending") return resolve();
        const mo = new MutationObserver(() => { if (li.dataset.state !== "sending") { mo.disconnect(); resolve(); } });
        mo.observe(li, { attributes: true, attributeFilter: ["data-state"] });
      });
      out.push(performance.now() - t0);
    }
    return out;
  }, MESSAGES);
  if (process.env.BENCH_PHASES) console.error(`submit cost (sync part of sending, ${MESSAGES} messages): ${(await guest.page.evaluate(() => window.__submitCost)).toFixed(1)} ms`);
  await host.context.close();
  await guest.context.close();
  return { ready, rtts };
}

/** One bare PeerJS run through the same server. */
async function runBare(browser, bareUrl, serverPort, render) {
  const host = await newPage(browser);
  const guest = await newPage(browser);
  await host.page.goto(`${bareUrl}/index.html?server=${serverPort}&render=${render ? 1 : 0}`);
  await host.page.waitForFunction(() => window.bare?.id);
  const hostId = await host.page.evaluate(() => window.bare.id);
  await guest.page.goto(`${bareUrl}/index.html?server=${serverPort}&render=${render ? 1 : 0}&host=${encodeURIComponent(hostId)}`);
  await guest.page.waitForFunction(() => performance.getEntriesByName("bare:chat-ready").length > 0, undefined, { timeout: 60_000 });
  const ready = await guest.page.evaluate(() => performance.getEntriesByName("bare:chat-ready")[0].startTime);
  const rtts = await guest.page.evaluate(async (n) => {
    const out = [];
    const conn = window.bare.conn;
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await new Promise((resolve) => {
        const onData = (d) => { if (d.id === `m${i}`) { conn.off("data", onData); resolve(); } };
        conn.on("data", onData);
        conn.send({ t: "msg", id: `m${i}`, text: `ping ${i}`, sentAt: Date.now(), ttlMs: null });
        window.bare.show(`ping ${i}`);
      });
      out.push(performance.now() - t0);
    }
    return out;
  }, MESSAGES);
  await host.context.close();
  await guest.context.close();
  return { ready, rtts };
}

if (JS_ONLY) {
  const js = jsShipped();
  console.log(`JS the chat page loads: ${(js.page.gz / 1024).toFixed(1)} KB gzipped (${(js.page.raw / 1024).toFixed(1)} KB raw): ${js.page.files.join(", ")}`);
  console.log(`JS of the whole build (diagnostics and /stats pages too): ${(js.all.gz / 1024).toFixed(1)} KB gzipped (${(js.all.raw / 1024).toFixed(1)} KB raw)`);
  process.exit(0);
}
const server = await harness.startServer({ GhostChat__Signaling__Limits__ConnectsPerSecondPerIp: "1000", GhostChat__Signaling__Limits__ConnectBurstPerIp: "1000" });
const bare = await startBareServer();
const browser = await chromium.launch({ executablePath: harness.CHROMIUM, headless: true, args: harness.CHROMIUM_ARGS });
const ours = { ready: [], rtt: [] };
const base = { ready: [], rtt: [] };
const baseRender = { ready: [], rtt: [] };
try {
  // Warm-up (not counted): first launches pay for cold caches in the browser and the server's JIT.
  await runOurs(browser, server.url);
  await runBare(browser, bare.url, server.port, false);
  for (let i = 0; i < RUNS; i++) {
    const a = await runOurs(browser, server.url);
    ours.ready.push(a.ready);
    ours.rtt.push(...a.rtts);
    const b = await runBare(browser, bare.url, server.port, false);
    base.ready.push(b.ready);
    base.rtt.push(...b.rtts);
    const c = await runBare(browser, bare.url, server.port, true);
    baseRender.ready.push(c.ready);
    baseRender.rtt.push(...c.rtts);
    process.stderr.write(`run ${i + 1}/${RUNS}: ours ${a.ready.toFixed(0)} ms, bare ${b.ready.toFixed(0)} ms\n`);
  }
} finally {
  await browser.close();
  await bare.close();
  await server.stop();
}

const js = jsShipped();
const r = { ours: stats(ours.ready), bare: stats(base.ready) };
const t = { ours: stats(ours.rtt), bare: stats(base.rtt) };
const tr = stats(baseRender.rtt);
const lines = [
  `Browser benchmark: headless Chromium over loopback, ${RUNS} runs (+1 warm-up), ${MESSAGES} sequential messages per run`,
  `| measure | GhostChat median | GhostChat p95 | bare PeerJS median | bare PeerJS p95 | ratio (median) | ratio (p95) |`,
  `|---|---|---|---|---|---|---|`,
  `| invite opened → chat ready | ${ms(r.ours.median)} | ${ms(r.ours.p95)} | ${ms(r.bare.median)} | ${ms(r.bare.p95)} | ${(r.ours.median / r.bare.median).toFixed(2)}× | ${(r.ours.p95 / r.bare.p95).toFixed(2)}× |`,
  `| message round trip (send → ack), bare page sends only | ${ms(t.ours.median)} | ${ms(t.ours.p95)} | ${ms(t.bare.median)} | ${ms(t.bare.p95)} | ${(t.ours.median / t.bare.median).toFixed(2)}× | ${(t.ours.p95 / t.bare.p95).toFixed(2)}× |`,
  `| message round trip (send → ack), bare page also lists each message | ${ms(t.ours.median)} | ${ms(t.ours.p95)} | ${ms(tr.median)} | ${ms(tr.p95)} | ${(t.ours.median / tr.median).toFixed(2)}× | ${(t.ours.p95 / tr.p95).toFixed(2)}× |`,
  ``,
  `JS the chat page loads: ${(js.page.gz / 1024).toFixed(1)} KB gzipped (${(js.page.raw / 1024).toFixed(1)} KB raw): ${js.page.files.join(", ")}`,
  `JS of the whole build (diagnostics and /stats pages too): ${(js.all.gz / 1024).toFixed(1)} KB gzipped (${(js.all.raw / 1024).toFixed(1)} KB raw)`,
];
console.log(lines.join("\n"));
