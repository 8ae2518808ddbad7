#!/usr/bin/env node
// File benchmark: a file sent through GhostChat between two headless Chromium pages on loopback,
// through the real server (the shipped bundle), against a bare pair of pages blasting one
// RTCDataChannel with the same message size and the same backpressure, in the same run; and the
// chat message round trip (send → acknowledged) while the file moves, against idle.
//
//   cd web && npm run build && node ../bench/browser/files.mjs [MB=100] [pings=20] [text]
//
// With `text`, the file is a server log (text lines, `bench.log`), which GhostChat sends deflated;
// the bare channel still sends the same number of (random) bytes.
//
// Needs the server built (dotnet build src/GhostChat.Server -c Release) and web/node_modules.
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const harness = await import(path.resolve(here, "../../web/e2e/harness.mjs"));

const MB = Number(process.argv[2] ?? 100);
const PINGS = Number(process.argv[3] ?? 20);
const SIZE = MB * 1024 * 1024;
const TEXT = process.argv[4] === "text";

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** The bare pair: offer/answer passed by this script, one ordered channel, 64 KiB + 21-byte messages. */
async function bare(browser) {
  const a = await (await browser.newContext()).newPage();
  const b = await (await browser.newContext()).newPage();
  const gathered = `new Promise((r) => { if (pc.iceGatheringState === "complete") r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r(); })`;
  const offer = await a.evaluate(`(async () => {
    const pc = (window.pc = new RTCPeerConnection());
    window.dc = pc.createDataChannel("bare", { ordered: true });
    await pc.setLocalDescription(await pc.createOffer());
    await ${gathered};
    return pc.localDescription.toJSON();
  })()`);
  const answer = await b.evaluate(
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
      return pc.localDescription.toJSON();
    })(${JSON.stringify(offer)})`,
  );
  const start = await a.evaluate(`(async (answer) => {
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
  })(${JSON.stringify(answer)})`);
  const end = await b.evaluate("window.done");
  await a.context().close();
  await b.context().close();
  return (end - start) / 1000;
}

async function ours(browser, url, file) {
  const host = harness.wrapPage(await (await browser.newContext()).newPage(), "playwright");
  const guest = harness.wrapPage(await (await browser.newContext()).newPage(), "playwright");
  await harness.connectPair(host, guest, url);
  // "Accept files automatically up to 1 GB" (the setting sits in the folded member panel of a 1:1 room).
  await guest.page.evaluate(() => {
    const s = document.querySelector("#auto-accept");
    s.value = String(1024 * 2 ** 20);
    s.dispatchEvent(new Event("change"));
  });
  const pings = (n, whileMoving) =>
    host.page.evaluate(
      async ([n, whileMoving]) => {
        const out = [];
        const composer = document.querySelector("#composer");
        const list = document.querySelector("#messages");
        const moving = () => document.querySelector('li.file-card[data-direction="out"]')?.dataset.state === "moving";
        for (let i = 0; i < n && (!whileMoving || moving()); i++) {
          const t0 = performance.now();
          composer.value = `ping ${i}`;
          composer.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
          const li = [...list.querySelectorAll('li[data-direction="out"]:not(.file-card)')].at(-1);
          await new Promise((resolve) => {
            if (li.dataset.state !== "sending") return resolve();
            const mo = new MutationObserver(() => li.dataset.state !== "sending" && (mo.disconnect(), resolve()));
            mo.observe(li, { attributes: true, attributeFilter: ["data-state"] });
          });
          if (!whileMoving || moving()) out.push(performance.now() - t0);
        }
        return out;
      },
      [n, whileMoving],
    );
  const idle = await pings(PINGS, false);
  await guest.page.evaluate(() => {
    window.__times = {};
    new MutationObserver(() => {
      const li = document.querySelector('li.file-card[data-direction="in"]');
      if (li && !window.__times[li.dataset.state]) window.__times[li.dataset.state] = performance.timeOrigin + performance.now();
    }).observe(document.querySelector("#messages"), { subtree: true, childList: true, attributes: true });
  });
  const picked = Date.now();
  await host.page.setInputFiles("#file-input", file);
  await host.page.waitForFunction(() => document.querySelector('li.file-card[data-direction="out"]')?.dataset.state === "moving", undefined, { timeout: 600_000 });
  const busy = await pings(10_000, true);
  await guest.page.waitForFunction(() => window.__times.done || window.__times.failed, undefined, { timeout: 600_000 });
  const t = await guest.page.evaluate(() => window.__times);
  if (!t.done) throw new Error("the transfer failed");
  await host.page.context().close();
  await guest.page.context().close();
  return { seconds: (t.done - t.moving) / 1000, total: (t.done - picked) / 1000, idle, busy };
}

const dir = mkdtempSync(path.join(tmpdir(), "gc-bench-files-"));
const file = path.join(dir, TEXT ? "bench.log" : "bench.bin");
if (TEXT) {
  const lines = [];
  for (let i = 0, n = 0; n < SIZE; i++) {
    const line = `2026-12-05T10:${String((i >> 10) % 60).padStart(2, "0")}:${String(i % 60).padStart(2, "0")}Z INFO request ${i} GET /api/ice served in ${(i * 7919) % 997} ms\n`;
    lines.push(line);
    n += line.length;
  }
  writeFileSync(file, Buffer.from(lines.join("")).subarray(0, SIZE));
} else writeFileSync(file, randomBytes(SIZE));
const server = await harness.startServer();
const browser = await harness.launchChromium();
try {
  const b = await bare(browser);
  const o = await ours(browser, server.url, file);
  const rate = (s) => `${(MB / s).toFixed(1)} MB/s`;
  console.log(`| what (${MB} MB${TEXT ? " of log text" : ""}, Chromium → Chromium, loopback) | GhostChat | bare data channel | ratio |`);
  console.log("|---|---|---|---|");
  console.log(`| throughput, first accepted byte → hash checked | ${rate(o.seconds)} | ${rate(b)} | ${((b / o.seconds) * 100).toFixed(0)} % |`);
  console.log(`| picked → done (includes the sender's hashing) | ${o.total.toFixed(1)} s | — | — |`);
  console.log(
    `| chat round trip, median (idle → during the transfer, n=${o.idle.length}/${o.busy.length}) | ${median(o.idle).toFixed(1)} ms → ${o.busy.length ? median(o.busy).toFixed(1) : "—"} ms | — | ${o.busy.length ? (median(o.busy) / median(o.idle)).toFixed(2) + "×" : "—"} |`,
  );
} finally {
  await browser.close();
  await server.stop();
}
