#!/usr/bin/env node
// Group-room benchmark: an 8-member full mesh of headless Chromium pages through the real GhostChat
// server over loopback. Measures (1) broadcast latency: one member sends, the time until each of the
// 7 others shows it (p50/p95 over every delivery); (2) throughput: every member sends a burst at
// once, delivered messages per second until all have arrived everywhere; (3) time to heal: a link
// dies (its data channel is closed), the time until it is up again (redial + member handshake) and
// until a message sent while it was down has arrived over it or a relay.
//
//   cd web && npm run build && node ../bench/browser/mesh.mjs [members=8] [latencyMessages=40] [burstPerMember=100] [heals=5]
//
// Needs the server built (dotnet build src/GhostChat.Server -c Release) and web/node_modules.
// Uses the e2e test build's hooks (web/dist-e2e: `npm run build:e2e`; the shipped bundle has none). No reference implementation exists for a mesh of PeerJS
// pages with delivery guarantees; the comparable figure is the 1:1 round trip in bench/browser/run.mjs.
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, "../../web");
const harness = await import(path.join(webDir, "e2e/harness.mjs"));

const MEMBERS = Number(process.argv[2] ?? 8);
const LATENCY = Number(process.argv[3] ?? 40);
const BURST = Number(process.argv[4] ?? 100);
const HEALS = Number(process.argv[5] ?? 5);

function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return { p50: q(0.5), p95: q(0.95), min: s[0], max: s[s.length - 1], n: s.length };
}
const f = (v) => `${v.toFixed(1)} ms`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function until(p, fn, arg, timeout = 180_000) {
  return p.page.waitForFunction(fn, arg, { polling: 20, timeout });
}

const server = await harness.startServer({}, undefined, { web: harness.E2E_DIST });
const browser = await harness.launchChromium();
try {
  const pages = [];
  const host = await harness.chromiumPage(browser, { width: 800, height: 600 });
  await host.goto(server.url + "/");
  await host.page.click("#new-group");
  await until(host, () => document.querySelector("#invite-link").value.includes("#join="));
  const link = await host.eval(() => document.querySelector("#invite-link").value);
  pages.push(host);
  for (let i = 1; i < MEMBERS; i++) {
    const p = await harness.chromiumPage(browser, { width: 800, height: 600 });
    await p.goto(link);
    await until(p, () => !!window.__ghostchatMesh && document.body.dataset.view === "chat");
    pages.push(p);
  }
  for (const p of pages) await until(p, (n) => window.__ghostchatMesh.links().length === n, MEMBERS - 1);
  const ids = await Promise.all(pages.map((p) => p.eval(() => window.__ghostchatMesh.id())));
  console.log(`mesh of ${MEMBERS} Chromium pages up (${MEMBERS * (MEMBERS - 1) / 2} links)`);

  // 1. Broadcast latency: one message at a time, senders in turn.
  const latencies = [];
  for (let k = 0; k < LATENCY; k++) {
    const s = k % MEMBERS;
    const text = `lat ${k}`;
    const sentAt = await pages[s].eval((t) => { const at = window.__ghostchatMesh.now(); window.__ghostchatMesh.send(t); return at; }, text);
    for (const [i, p] of pages.entries()) {
      if (i === s) continue;
      await until(p, (t) => window.__ghostchatMesh.arrivals().some((a) => a.text === t), text);
      latencies.push((await p.eval((t) => window.__ghostchatMesh.arrivals().find((a) => a.text === t).at, text)) - sentAt);
    }
    await sleep(50);
  }
  const lat = stats(latencies);
  console.log(`broadcast latency (send → shown at each of ${MEMBERS - 1}): p50 ${f(lat.p50)}, p95 ${f(lat.p95)}, min ${f(lat.min)}, max ${f(lat.max)} over ${lat.n} deliveries`);

  // 2. Throughput: everyone sends BURST at once.
  const before = await Promise.all(pages.map((p) => p.eval(() => window.__ghostchatMesh.arrivals().length)));
  const t0 = await pages[0].eval(() => window.__ghostchatMesh.now());
  await Promise.all(pages.map((p, i) => p.eval(([i, n]) => { for (let k = 0; k < n; k++) window.__ghostchatMesh.send(`burst ${i}/${k}`); }, [i, BURST])));
  const expected = (MEMBERS - 1) * BURST;
  let last = 0;
  for (const [i, p] of pages.entries()) {
    await until(p, ([b, n]) => window.__ghostchatMesh.arrivals().length >= b + n, [before[i], expected]);
    last = Math.max(last, await p.eval(([b, n]) => window.__ghostchatMesh.arrivals()[b + n - 1].at, [before[i], expected]));
  }
  const seconds = (last - t0) / 1000;
  console.log(`throughput: ${MEMBERS} × ${BURST} messages broadcast, ${MEMBERS * expected} deliveries in ${seconds.toFixed(2)} s = ${(MEMBERS * expected / seconds).toFixed(0)} deliveries/s (${(MEMBERS * BURST / seconds).toFixed(0)} messages/s broadcast)`);
  for (const p of pages) await until(p, () => window.__ghostchatMesh.pending() === 0);

  // 3. Time to heal after a link dies.
  const heals = [];
  const catchUps = [];
  for (let h = 0; h < HEALS; h++) {
    const a = h % MEMBERS;
    const b = (h + 3) % MEMBERS;
    const start = await pages[a].eval((peer) => { const at = window.__ghostchatMesh.now(); window.__ghostchatMesh.fail(peer); window.__ghostchatMesh.send(`during cut ${at}`); return at; }, ids[b]);
    await until(pages[a], (peer) => window.__ghostchatMesh.links().includes(peer), ids[b]);
    await until(pages[b], (peer) => window.__ghostchatMesh.links().includes(peer), ids[a]);
    const up = Math.max(...(await Promise.all([pages[a].eval(() => window.__ghostchatMesh.now()), pages[b].eval(() => window.__ghostchatMesh.now())])));
    heals.push(up - start);
    await until(pages[b], (t) => window.__ghostchatMesh.arrivals().some((x) => x.text === t), `during cut ${start}`);
    catchUps.push((await pages[b].eval((t) => window.__ghostchatMesh.arrivals().find((x) => x.text === t).at, `during cut ${start}`)) - start);
    await sleep(500);
  }
  const heal = stats(heals);
  const catchUp = stats(catchUps);
  console.log(`time to heal a dead link (closed → authenticated link up again): p50 ${f(heal.p50)}, max ${f(heal.max)} over ${heal.n}`);
  console.log(`message sent as the link died → shown at the other end: p50 ${f(catchUp.p50)}, max ${f(catchUp.max)} over ${catchUp.n}`);
} finally {
  await browser.close();
  await server.stop();
}
