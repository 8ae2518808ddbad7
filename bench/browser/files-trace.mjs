#!/usr/bin/env node
// Where a chat message waits while a file moves (files.mjs's GhostChat half, instrumented from
// outside the bundle): an init script injected by Playwright wraps every RTCDataChannel of both
// pages and records, on one clock (performance.timeOrigin + now, same machine), each send on a
// channel other than the file lane (with the file lane's bufferedAmount at that moment) and each
// message event; a MessageChannel probe every 10 ms measures how long a task waits on each main
// thread. With `profile`, both pages are also CPU-profiled (CDP Profiler) during the transfer and
// the top self-time functions printed.
//
//   cd web && npm run build && node ../bench/browser/files-trace.mjs [MB=200] [profile]
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chatPings } from "./files.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const harness = await import(path.resolve(here, "../../web/e2e/harness.mjs"));
const MB = Number(process.argv[2] ?? 200);
const PROFILE = process.argv.includes("profile");
const SIZE = MB * 1024 * 1024;

const INIT = () => {
  const now = () => performance.timeOrigin + performance.now();
  const T = (window.__trace = {
    sends: [],
    recvs: [],
    lag: [],
    lanes: [],
    fsend: [],
    frecv: [],
  });
  const lane = () => T.lanes.find((d) => d.readyState === "open");
  const watch = (dc) => {
    if (dc.label === "gc-files") {
      T.lanes.push(dc);
      dc.addEventListener(
        "message",
        (e) => typeof e.data !== "string" && T.frecv.push(now()),
      );
      return;
    }
    dc.addEventListener("message", (e) => {
      const n =
        typeof e.data === "string"
          ? e.data.length
          : (e.data.byteLength ?? e.data.size);
      T.recvs.push({ t: now(), n });
    });
  };
  const send = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (d) {
    if (this.label === "gc-files" && typeof d !== "string") T.fsend.push(now());
    if (this.label !== "gc-files") {
      const n = typeof d === "string" ? d.length : (d.byteLength ?? d.size);
      T.sends.push({
        t: now(),
        n,
        fileBuffered: lane()?.bufferedAmount ?? -1,
        chatBuffered: this.bufferedAmount,
      });
    }
    return send.call(this, d);
  };
  const create = RTCPeerConnection.prototype.createDataChannel;
  RTCPeerConnection.prototype.createDataChannel = function (...a) {
    const dc = create.apply(this, a);
    watch(dc);
    return dc;
  };
  const Orig = window.RTCPeerConnection;
  window.RTCPeerConnection = function (...a) {
    const pc = new Orig(...a);
    pc.addEventListener("datachannel", (e) => watch(e.channel));
    return pc;
  };
  window.RTCPeerConnection.prototype = Orig.prototype;
  Object.setPrototypeOf(window.RTCPeerConnection, Orig);
  const mc = new MessageChannel();
  let posted = 0;
  mc.port1.onmessage = () => {
    T.lag.push({ t: posted, d: now() - posted });
    setTimeout(() => ((posted = now()), mc.port2.postMessage(0)), 10);
  };
  posted = now();
  mc.port2.postMessage(0);
};

async function profileStart(page) {
  const s = await page.context().newCDPSession(page);
  await s.send("Profiler.enable");
  await s.send("Profiler.setSamplingInterval", { interval: 200 });
  await s.send("Profiler.start");
  return s;
}
async function profileStop(s, who) {
  const { profile } = await s.send("Profiler.stop");
  const self = new Map();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const dt = profile.timeDeltas;
  const count = new Map();
  profile.samples.forEach((id, i) =>
    count.set(id, (count.get(id) ?? 0) + (dt[i + 1] ?? 0)),
  );
  let total = 0;
  for (const [id, us] of count) {
    const n = byId.get(id);
    const f = n.callFrame;
    const k = `${f.functionName || "(anon)"} ${f.url.split("/").pop()}:${f.lineNumber}:${f.columnNumber}`;
    self.set(k, (self.get(k) ?? 0) + us);
    total += us;
  }
  const idle = [...self]
    .filter(([k]) => k.startsWith("(idle)"))
    .reduce((a, [, v]) => a + v, 0);
  console.log(
    `\n${who}: profile ${(total / 1e6).toFixed(1)} s, idle ${((idle / total) * 100).toFixed(0)} %; top self time:`,
  );
  for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 14))
    console.log(`  ${((us / total) * 100).toFixed(1).padStart(5)} %  ${k}`);
}

const q = (v, p) =>
  v.length
    ? [...v].sort((a, b) => a - b)[
        Math.min(v.length - 1, Math.floor(v.length * p))
      ]
    : NaN;
const dir = mkdtempSync(path.join(tmpdir(), "gc-bench-files-"));
const file = path.join(dir, "bench.bin");
writeFileSync(file, randomBytes(SIZE));
const server = await harness.startServer();
const browser = await harness.launchChromium();
try {
  const mk = async () => {
    const c = await browser.newContext();
    await c.addInitScript(INIT);
    return harness.wrapPage(await c.newPage(), "playwright");
  };
  const host = await mk();
  const guest = await mk();
  await harness.connectPair(host, guest, server.url);
  await guest.page.evaluate(() => {
    const s = document.querySelector("#auto-accept");
    s.value = String(1024 * 2 ** 20);
    s.dispatchEvent(new Event("change"));
  });
  const pings = (n, whileMoving) => chatPings(host, n, whileMoving, 20);
  const idle = await pings(20, false);
  await host.page.setInputFiles("#file-input", file);
  await host.page.waitForFunction(
    () =>
      document.querySelector('li.file-card[data-direction="out"]')?.dataset
        .state === "moving",
    undefined,
    { timeout: 600_000 },
  );
  // Profiled from the moment the file moves (the sender's hashing before the offer is left out).
  const profs = PROFILE
    ? [await profileStart(host.page), await profileStart(guest.page)]
    : [];
  const busyFrom = Date.now();
  const busy = await pings(10_000, true);
  const busyTo = Date.now();
  await guest.page.waitForFunction(
    () =>
      document.querySelector('li.file-card[data-direction="in"]')?.dataset
        .state === "done" ||
      document.querySelector('li.file-card[data-direction="in"]')?.dataset
        .state === "failed",
    undefined,
    { timeout: 600_000 },
  );
  if (PROFILE) {
    await profileStop(profs[0], "sender");
    await profileStop(profs[1], "receiver");
  }
  const H = await host.page.evaluate(() => ({
    sends: __trace.sends,
    recvs: __trace.recvs,
    lag: __trace.lag,
    fsend: __trace.fsend,
  }));
  const G = await guest.page.evaluate(() => ({
    sends: __trace.sends,
    recvs: __trace.recvs,
    lag: __trace.lag,
    frecv: __trace.frecv,
  }));
  const split = (pp) => {
    const rows = [];
    for (const p of pp) {
      const s = H.sends.find((x) => x.t >= p.t0 && x.t <= p.t1);
      const r = s && G.recvs.find((x) => x.t >= s.t);
      const a = r && G.sends.find((x) => x.t >= r.t);
      const b = a && H.recvs.find((x) => x.t >= a.t && x.t <= p.t1 + 1);
      if (!s || !r || !a || !b) continue;
      rows.push({
        encode: s.t - p.t0,
        wire1: r.t - s.t,
        handle: a.t - r.t,
        wire2: b.t - a.t,
        settle: p.t1 - b.t,
        rtt: p.t1 - p.t0,
        fileBuffered: s.fileBuffered,
      });
    }
    return rows;
  };
  const show = (name, rows) => {
    const cols = [
      "rtt",
      "encode",
      "wire1",
      "handle",
      "wire2",
      "settle",
      "fileBuffered",
    ];
    console.log(
      `\n${name} (n=${rows.length}), ms (fileBuffered in KiB): median / p90`,
    );
    for (const c of cols) {
      const v = rows.map((r) => (c === "fileBuffered" ? r[c] / 1024 : r[c]));
      console.log(
        `  ${c.padEnd(13)} ${q(v, 0.5).toFixed(1).padStart(7)} / ${q(v, 0.9).toFixed(1)}`,
      );
    }
  };
  show("idle", split(idle));
  show("during the transfer", split(busy));
  const t0 = busy[0]?.t0 ?? 0;
  const t1 = busy.at(-1)?.t1 ?? 0;
  for (const [who, T] of [
    ["sender", H],
    ["receiver", G],
  ]) {
    const v = T.lag.filter((x) => x.t >= t0 && x.t <= t1).map((x) => x.d);
    console.log(
      `${who} main-thread task wait during the transfer (n=${v.length}): median ${q(v, 0.5).toFixed(1)} ms, p90 ${q(v, 0.9).toFixed(1)} ms, max ${q(v, 1).toFixed(1)} ms`,
    );
  }
  {
    const lat = [];
    for (let i = 0; i < Math.min(H.fsend.length, G.frecv.length); i++)
      if (H.fsend[i] >= t0 && H.fsend[i] <= t1)
        lat.push(G.frecv[i] - H.fsend[i]);
    console.log(
      `file chunk one-way (lane send → receiver message event) during the pings (n=${lat.length}): median ${q(lat, 0.5).toFixed(1)} ms, p90 ${q(lat, 0.9).toFixed(1)} ms; chunks sent ${H.fsend.length}, received ${G.frecv.length}`,
    );
    // Chunks the lane had sent and the receiving page had not yet taken, at each chat send.
    const rows = [];
    for (const p of busy) {
      const s = H.sends.find((x) => x.t >= p.t0 && x.t <= p.t1);
      const r = s && G.recvs.find((x) => x.t >= s.t);
      if (!s || !r) continue;
      const sentBefore = H.fsend.filter((x) => x <= s.t).length;
      rows.push(sentBefore - G.frecv.filter((x) => x <= s.t).length);
    }
    console.log(
      `chunks sent by the lane and not yet seen by the receiver page when the chat message is sent: median ${q(rows, 0.5)}, p90 ${q(rows, 0.9)} (n=${rows.length})`,
    );
  }
  console.log(`busy window ${(busyTo - busyFrom) / 1000} s`);
} finally {
  await browser.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
