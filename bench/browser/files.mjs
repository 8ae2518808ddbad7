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
//   --ladder       where the gap to the bare channel goes: the bare pair, step by step towards what
//                  GhostChat does (blast → + the receiver hashing every chunk in the product's worker
//                  → + writing every chunk to OPFS as the product does → + the product's chunk frames,
//                  file reads and acknowledgements), then GhostChat itself; each step's throughput and
//                  the CPU time each side's browser processes took per MB (/proc/<pid>/stat; each side
//                  in a browser of its own so its processes are its page's)
//   --rtt          the round trip floor of the transport: a ping channel echoed by the receiver while
//                  the bare pair blasts, on the same RTCPeerConnection (one SCTP association) and on a
//                  second one; with the ladder's last step's receiver work too
//   --rounds N     --ladder / --rtt: the whole sequence N times, one row per run (default 1)
//   --steps A,B    --ladder: only these steps (of blast, hash, hash-native, opfs, opfs-sync, framed,
//                  GhostChat)
//
// Needs the server built (dotnet build src/GhostChat.Server -c Release) and web/node_modules.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const harness = await import(path.resolve(here, "../../web/e2e/harness.mjs"));

/**
 * The ladder's steps, each adding to the one before (see --ladder above). Two are variants, what a
 * change could do: "hash-native" is "hash" with each chunk digested by WebCrypto (native SHA-256,
 * per chunk: the cost of hashing in native code, not a whole-file digest), "opfs-sync" is "opfs" with
 * the writes done in a worker through a FileSystemSyncAccessHandle.
 */
const STEPS = ["blast", "hash", "hash-native", "opfs", "opfs-sync", "framed"];

function parseArgs(argv) {
  const a = {
    mb: 100,
    pings: 20,
    pair: ["chromium", "chromium"],
    relay: false,
    memory: false,
    group: 0,
    text: false,
    ladder: false,
    rtt: false,
    rounds: 1,
    steps: null,
  };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    if (x === "--pair") a.pair = String(argv[++i]).split(",");
    else if (x === "--relay") a.relay = true;
    else if (x === "--memory") a.memory = true;
    else if (x === "--text") a.text = true;
    else if (x === "--group") a.group = Number(argv[++i]);
    else if (x === "--ladder") a.ladder = true;
    else if (x === "--rtt") a.rtt = true;
    else if (x === "--rounds") a.rounds = Number(argv[++i]);
    else if (x === "--steps") a.steps = String(argv[++i]).split(",");
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
  if (!(Number.isInteger(a.rounds) && a.rounds >= 1 && a.rounds <= 20))
    throw new Error("--rounds N: 1..20");
  if ((a.ladder || a.rtt) && (a.memory || a.group || a.relay || a.text))
    throw new Error(
      "--ladder and --rtt go without --memory, --group, --relay, --text",
    );
  if (a.steps?.some((x) => ![...STEPS, "GhostChat"].includes(x)))
    throw new Error(`--steps: of ${[...STEPS, "GhostChat"].join(", ")}`);
  return a;
}
// Run as a script; imported (files-trace.mjs takes chatPings), it runs nothing.
const isMain =
  process.argv[1] !== undefined &&
  path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
const args = parseArgs(isMain ? process.argv.slice(2) : []);
const MB = args.mb;
const SIZE = Math.round(MB * 1024 * 1024);

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const rate = (s) => `${(MB / s).toFixed(1)} MB/s`;

// ---- browsers ---------------------------------------------------------------------------------

const browsers = [];
/** On-disk profiles made here, removed at the end. */
const profiles = [];
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
  profiles.push(dir);
  return { kind: "chromium", persistent: ctx, dir };
}

/** Every process on this machine: its command line and its parent. */
function allProcesses() {
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
  return info;
}

/**
 * Process `root` and every descendant, with its kind: Chromium's `--type=` (renderer, gpu-process,
 * utility …), Firefox's child kind (the last argument after `-contentproc`: tab, socket, rdd …),
 * "browser" for the rest.
 */
function processTree(root, info = allProcesses()) {
  const mine = new Set(root ? [root] : []);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, x] of info)
      if (!mine.has(pid) && mine.has(x.ppid)) {
        mine.add(pid);
        grew = true;
      }
  }
  const kind = (cmd = "") =>
    /--type=(\S+)/.exec(cmd)?.[1] ??
    (cmd.includes("-contentproc") ? cmd.trim().split(/\s+/).at(-1) : "browser");
  return [...mine].map((id) => ({ id, type: kind(info.get(id)?.cmd) }));
}

/** The processes of the Chromium whose profile is `dir` (its browser process and every descendant), with their kind. */
function profileProcesses(dir) {
  const info = allProcesses();
  const root = [...info].find(
    ([, x]) =>
      x.cmd.includes(`--user-data-dir=${dir}`) && !x.cmd.includes("--type="),
  )?.[0];
  return processTree(root, info);
}

/** A browser's processes: a persistent Chromium's by its profile folder, a Firefox's from its PID. */
function processesOf(br) {
  if (br.dir) return profileProcesses(br.dir);
  if (br.kind === "firefox") return processTree(br.b.process().pid);
  throw new Error("CPU per process: Chromium needs a profile of its own");
}

const TICK = Number(
  execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim(),
);
/** CPU seconds (user + system, /proc/<pid>/stat) so far of each of a browser's processes. */
function cpuNow(br) {
  const out = new Map();
  for (const p of processesOf(br)) {
    try {
      const f = readFileSync(`/proc/${p.id}/stat`, "utf8")
        .replace(/^.*\) /, "")
        .split(" ");
      out.set(p.id, {
        type: p.type,
        s: (Number(f[11]) + Number(f[12])) / TICK,
      });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
/**
 * CPU seconds by kind of process since `before` (a cpuNow); a process that ended meanwhile counts
 * up to `before` only. "page" is the renderer (Chromium) or tab (Firefox) processes: the page, its
 * workers and its data channels.
 */
function cpuSince(br, before) {
  const by = { total: 0, page: 0 };
  for (const [pid, x] of cpuNow(br)) {
    const d = x.s - (before.get(pid)?.s ?? 0);
    by[x.type] = (by[x.type] ?? 0) + d;
    by.total += d;
    if (x.type === "renderer" || x.type === "tab") by.page += d;
  }
  return by;
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
  // A page of a persistent browser: closing it leaves the browser (its context) open.
  if (br.persistent)
    return {
      ...harness.wrapPage(await br.persistent.newPage(), "playwright"),
      context: br.persistent,
      shared: true,
    };
  if (br.kind === "firefox") return harness.firefoxPage(br.b);
  return harness.chromiumPage(br.b);
}
async function closePage(p) {
  if (p.context && !p.shared) await p.context.close();
  else await p.page.close();
}

async function pick(p, file) {
  if (p.kind === "playwright") return p.page.setInputFiles("#file-input", file);
  await (await p.page.$("#file-input")).uploadFile(file);
}

// ---- the bare pair ----------------------------------------------------------------------------

/**
 * The bare pair's page (served by bareServer, no CSP): window.bench has both halves. Each step does
 * what GhostChat does (web/src/core/files/transfer.ts, wire.ts, adapters/opfs.ts, hash-worker.ts),
 * written out here with nothing else of the app: same message size (64 KiB + the 21-byte header),
 * same backpressure (1 MiB high water, 256 KiB low mark), the product's hash worker itself.
 */
function barePage() {
  const now = () => performance.timeOrigin + performance.now();
  const CHUNK = 64 * 1024;
  const HEADER = 21; // version, transfer id (16), index (uint32)
  const HIGH = 1024 * 1024;
  const LOW = 256 * 1024;
  const WINDOW = 32; // adapt.ts's starting window; the receiver acks every 4 (the offer's w / 4)
  const ACK_EVERY = 4;
  const BLOCK = 1024 * 1024; // the sender's read block and the receiver's OPFS write block
  const SEGMENT = 8 * 1024 * 1024;
  const ID = "bareBareBareBare";
  const pcs = [];
  const ch = {};
  let sending = () => false;
  let cleanup = async () => undefined;
  const gathered = (pc) =>
    new Promise((r) => {
      if (pc.iceGatheringState === "complete") return r();
      pc.addEventListener(
        "icegatheringstatechange",
        () => pc.iceGatheringState === "complete" && r(),
      );
    });
  const opened = (dc) =>
    dc.readyState === "open"
      ? Promise.resolve()
      : new Promise((r) => dc.addEventListener("open", r, { once: true }));

  // The product's hash worker (adapters/hash-worker.ts): each chunk copied to it, one digest at the end.
  function workerHash() {
    const w = new Worker("/sha256.worker.js", { type: "module" });
    let answer = () => undefined;
    w.onmessage = (e) => answer(e.data.hex);
    return {
      update(bytes) {
        const copy = bytes.slice();
        w.postMessage({ id: 1, bytes: copy.buffer }, [copy.buffer]);
      },
      digest: () =>
        new Promise((r) => {
          answer = r;
          w.postMessage({ id: 1, end: true });
        }),
      close: () => w.terminate(),
    };
  }

  // WebCrypto's SHA-256 of each chunk (native code; WebCrypto has no streaming digest).
  function nativeHash() {
    const pending = [];
    return {
      update: (bytes) => pending.push(crypto.subtle.digest("SHA-256", bytes)),
      digest: async () => (await Promise.all(pending), ""),
      close: () => undefined,
    };
  }

  // Chunks held (not copied) until there is a block's worth, then copied into one block.
  function holder() {
    let held = [];
    let heldBytes = 0;
    return {
      add(bytes) {
        held.push(bytes);
        heldBytes += bytes.length;
        return heldBytes >= BLOCK;
      },
      take() {
        if (heldBytes === 0) return null;
        const block = new Uint8Array(heldBytes);
        let at = 0;
        for (const b of held) {
          block.set(b, at);
          at += b.length;
        }
        held = [];
        heldBytes = 0;
        return block;
      },
    };
  }

  // adapters/opfs.ts's sink: chunks held until 1 MiB, written as one block; a segment file closed every 8 MiB.
  async function opfsSink() {
    const root = await navigator.storage.getDirectory();
    const name = `bare-${Math.random().toString(16).slice(2)}`;
    const dir = await root.getDirectoryHandle(name, { create: true });
    const segments = [];
    let writable = null;
    let inSegment = 0;
    const held = holder();
    const flush = async () => {
      const block = held.take();
      if (!block) return;
      if (!writable) {
        const h = await dir.getFileHandle(String(segments.length), {
          create: true,
        });
        segments.push(h);
        writable = await h.createWritable();
        inSegment = 0;
      }
      await writable.write(block);
      inSegment += block.length;
    };
    const commit = async () => {
      if (!writable) return;
      const w = writable;
      writable = null;
      await w.close();
      inSegment = 0;
    };
    cleanup = () =>
      root.removeEntry(name, { recursive: true }).catch(() => undefined);
    return {
      async append(bytes) {
        if (held.add(bytes)) {
          await flush();
          if (inSegment >= SEGMENT) await commit();
        }
      },
      async finish() {
        await flush();
        await commit();
        return new Blob(await Promise.all(segments.map((h) => h.getFile())));
      },
    };
  }

  // The same segments and blocks written by a worker through FileSystemSyncAccessHandle: each 1 MiB
  // block moved (not copied) to it; at most 4 blocks in flight.
  function syncSink() {
    const code = `
      let dir, handle = null, at = 0, seg = 0, queue = Promise.resolve();
      onmessage = (e) => (queue = queue.then(() => run(e.data)));
      const run = async (m) => {
        try {
          if (m.op === "open") {
            const root = await navigator.storage.getDirectory();
            dir = await root.getDirectoryHandle(m.name, { create: true });
            postMessage({ ok: "open" });
          } else if (m.op === "write") {
            if (!handle) {
              const f = await dir.getFileHandle(String(seg++), { create: true });
              handle = await f.createSyncAccessHandle();
              at = 0;
            }
            at += handle.write(new Uint8Array(m.bytes), { at });
            if (at >= ${SEGMENT}) { handle.flush(); handle.close(); handle = null; }
            postMessage({ ok: "write" });
          } else if (m.op === "finish") {
            if (handle) { handle.flush(); handle.close(); handle = null; }
            postMessage({ ok: "finish", segments: seg });
          }
        } catch (err) { postMessage({ error: String(err) }); }
      };`;
    const w = new Worker(
      URL.createObjectURL(new Blob([code], { type: "text/javascript" })),
    );
    const name = `bare-${Math.random().toString(16).slice(2)}`;
    const waiting = [];
    let inFlight = 0;
    let failed = null;
    w.onmessage = (e) => {
      if (e.data.error) failed = new Error(e.data.error);
      if (e.data.ok === "write") inFlight--;
      waiting.shift()?.(e.data);
    };
    const ask = (m, transfer = []) =>
      new Promise((r) => {
        waiting.push(r);
        w.postMessage(m, transfer);
      });
    const held = holder();
    const opening = ask({ op: "open", name });
    const flush = async () => {
      const block = held.take();
      if (!block) return;
      inFlight++;
      const done = ask({ op: "write", bytes: block.buffer }, [block.buffer]);
      if (inFlight > 4) await done;
      if (failed) throw failed;
    };
    cleanup = async () => {
      w.terminate();
      const root = await navigator.storage.getDirectory();
      await root.removeEntry(name, { recursive: true }).catch(() => undefined);
    };
    return {
      async append(bytes) {
        await opening;
        if (held.add(bytes)) await flush();
      },
      async finish() {
        await flush();
        const { segments } = await ask({ op: "finish" });
        if (failed) throw failed;
        const root = await navigator.storage.getDirectory();
        const dir = await root.getDirectoryHandle(name);
        const files = [];
        for (let i = 0; i < segments; i++)
          files.push(await (await dir.getFileHandle(String(i))).getFile());
        return new Blob(files);
      },
    };
  }

  /** The sender: the blast channel, and a ping channel on the same connection or on a second one. */
  async function offer(ping) {
    const a = new RTCPeerConnection();
    pcs.push(a);
    ch.bare = a.createDataChannel("bare", { ordered: true });
    if (ping === "shared") ch.ping = a.createDataChannel("ping");
    if (ping === "separate") {
      const b = new RTCPeerConnection();
      pcs.push(b);
      ch.ping = b.createDataChannel("ping");
    }
    const out = [];
    for (const pc of pcs) {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      out.push(pc.localDescription.toJSON());
    }
    return out;
  }

  async function connect(answers) {
    for (let i = 0; i < pcs.length; i++)
      await pcs[i].setRemoteDescription(answers[i]);
    for (const dc of Object.values(ch)) await opened(dc);
  }

  /** The receiver: what it does with each message is the step's; window.done is { t, hex } when finished. */
  async function answer(offers, step, size) {
    let resolveDone;
    window.done = new Promise((r) => (resolveDone = r));
    const sink =
      step === "opfs" || step === "framed"
        ? await opfsSink()
        : step === "opfs-sync"
          ? syncSink()
          : null;
    const hash =
      step === "blast"
        ? null
        : step === "hash-native"
          ? nativeHash()
          : workerHash();
    const chunks = Math.ceil(size / CHUNK);
    const onBare = (dc) => {
      dc.binaryType = "arraybuffer";
      let got = 0;
      let expected = 0;
      let verified = 0;
      let queue = Promise.resolve();
      const finish = async () => {
        await queue;
        if (sink) await sink.finish();
        const hex = await hash.digest();
        hash.close();
        resolveDone({ t: now(), hex });
      };
      dc.onmessage = (m) => {
        if (typeof m.data === "string") return;
        if (step === "blast") {
          got += m.data.byteLength;
          if (got >= size) resolveDone({ t: now(), hex: "" });
          return;
        }
        let payload;
        if (step === "framed") {
          // wire.ts decodeChunk and the transfer's checks: version, id, the index it expects.
          const bytes = new Uint8Array(m.data);
          const id = String.fromCharCode(...bytes.subarray(1, 17));
          const index = new DataView(m.data).getUint32(17, false);
          if (
            bytes[0] !== 1 ||
            !/^[A-Za-z0-9_-]{16}$/.test(id) ||
            index !== expected
          )
            return resolveDone({ t: now(), hex: "bad chunk" });
          expected++;
          payload = bytes.subarray(HEADER);
        } else {
          payload = new Uint8Array(m.data, HEADER);
          got += m.data.byteLength;
        }
        queue = queue.then(async () => {
          if (sink) await sink.append(payload);
          hash.update(payload);
          verified++;
          if (step !== "framed") return;
          if (verified === chunks) void finish();
          else if (verified % ACK_EVERY === 0)
            dc.send(JSON.stringify({ t: "fk", id: ID, n: verified }));
        });
        if (step !== "framed" && got >= size) void finish();
      };
    };
    const onPing = (dc) => (dc.onmessage = (m) => dc.send(m.data));
    const out = [];
    for (const o of offers) {
      const pc = new RTCPeerConnection();
      pcs.push(pc);
      pc.ondatachannel = (e) =>
        e.channel.label === "bare" ? onBare(e.channel) : onPing(e.channel);
      await pc.setRemoteDescription(o);
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc);
      out.push(pc.localDescription.toJSON());
    }
    return out;
  }

  /** The sender starts the step; returns when it started (the receiver's window.done says when it ended). */
  function blast(step, size) {
    const dc = ch.bare;
    dc.bufferedAmountLowThreshold = LOW;
    const t0 = now();
    if (step !== "framed") {
      const chunk = new Uint8Array(CHUNK + HEADER);
      crypto.getRandomValues(chunk.subarray(0, CHUNK));
      let sent = 0;
      const pump = () => {
        while (sent < size && dc.bufferedAmount < HIGH) {
          dc.send(chunk);
          sent += chunk.byteLength;
        }
      };
      sending = () => sent < size || dc.bufferedAmount > 0;
      dc.onbufferedamountlow = pump;
      pump();
      return t0;
    }
    // transfer.ts's pump and readChunk, wire.ts's encodeChunk: the picked file read a MiB at a time.
    const file = document.querySelector("#file-input").files[0];
    const chunks = Math.ceil(file.size / CHUNK);
    let next = 0;
    let acked = 0;
    let pumping = false;
    let block = null;
    const read = async (index) => {
      const start = index * CHUNK;
      const length = Math.min(CHUNK, file.size - start);
      if (
        !block ||
        start < block.start ||
        start + length > block.start + block.bytes.length
      ) {
        const from = start - (start % BLOCK);
        block = {
          start: from,
          bytes: new Uint8Array(
            await file
              .slice(from, Math.min(file.size, from + BLOCK))
              .arrayBuffer(),
          ),
        };
      }
      return block.bytes.subarray(
        start - block.start,
        start - block.start + length,
      );
    };
    const encode = (index, payload) => {
      const out = new Uint8Array(HEADER + payload.length);
      out[0] = 1;
      for (let i = 0; i < 16; i++) out[1 + i] = ID.charCodeAt(i);
      new DataView(out.buffer).setUint32(17, index, false);
      out.set(payload, HEADER);
      return out.buffer;
    };
    const pump = async () => {
      if (pumping) return;
      pumping = true;
      try {
        while (
          next < chunks &&
          next - acked < WINDOW &&
          dc.bufferedAmount < HIGH
        ) {
          const index = next;
          const bytes = await read(index);
          dc.send(encode(index, bytes));
          next++;
        }
      } finally {
        pumping = false;
      }
    };
    dc.onmessage = (m) => {
      if (typeof m.data !== "string") return;
      const f = JSON.parse(m.data);
      if (f.t === "fk" && f.id === ID) {
        acked = Math.max(acked, f.n);
        void pump();
      }
    };
    dc.onbufferedamountlow = () => void pump();
    sending = () => next < chunks || dc.bufferedAmount > 0;
    void pump();
    return t0;
  }

  /** Round trips on the ping channel (the receiver echoes): `n` of them, or while the sender sends. */
  async function pings(n, whileSending) {
    const out = [];
    for (let i = 0; i < n && (!whileSending || sending()); i++) {
      const t0 = performance.now();
      await new Promise((r) => {
        ch.ping.onmessage = r;
        ch.ping.send(`ping ${i}`);
      });
      if (!whileSending || sending()) out.push(performance.now() - t0);
    }
    return out;
  }

  window.bench = {
    offer,
    connect,
    answer,
    blast,
    pings,
    cleanup: () => cleanup(),
  };
}

/** Serves the bare pair's page and the product's built hash worker on 127.0.0.1 (stopped by close()). */
async function bareServer() {
  const assets = path.join(harness.WEB_DIST, "assets");
  const worker = readdirSync(assets).find((f) =>
    /^sha256\.worker-.*\.js$/.test(f),
  );
  if (!worker)
    throw new Error("web/dist has no sha256 worker: cd web && npm run build");
  const workerJs = readFileSync(path.join(assets, worker));
  const html = `<!doctype html><meta charset="utf-8"><title>bare pair</title><input type="file" id="file-input"><script>(${barePage})()</script>`;
  const srv = createServer((req, res) => {
    if (req.url === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(html);
    } else if (req.url === "/sha256.worker.js") {
      res.writeHead(200, { "content-type": "text/javascript" });
      res.end(workerJs);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${srv.address().port}/`,
    close: () => new Promise((r) => srv.close(r)),
  };
}

/**
 * One step of the bare pair in two new pages: offer/answer passed by this script. `ping`: "shared"
 * (a ping channel on the blasting connection) or "separate" (on a second connection), `pingCount`
 * idle round trips then as many as fit while the sender sends. `cpu`: each browser's CPU time
 * during the step (the browsers must be of one side each).
 */
async function bareStep(
  sb,
  rb,
  { url, file, sha },
  step,
  { ping = null, cpu = false, pingCount = 20 } = {},
) {
  const a = await open(sb);
  const b = await open(rb);
  await a.goto(url);
  await b.goto(url);
  if (step === "framed") await pick(a, file);
  const offers = await a.eval((ping) => bench.offer(ping), ping);
  const answers = await b.eval(
    ([o, step, size]) => bench.answer(o, step, size),
    [offers, step, SIZE],
  );
  await a.eval((answers) => bench.connect(answers), answers);
  const idle = ping
    ? await a.eval((n) => bench.pings(n, false), pingCount)
    : [];
  const before = cpu ? [cpuNow(sb), cpuNow(rb)] : null;
  const t0 = await a.eval(
    ([step, size]) => bench.blast(step, size),
    [step, SIZE],
  );
  const busy = ping ? await a.eval(() => bench.pings(1e6, true)) : [];
  const end = await b.eval(() => window.done);
  const used = before
    ? [cpuSince(sb, before[0]), cpuSince(rb, before[1])]
    : null;
  if (step === "framed" && end.hex !== sha)
    throw new Error(`the bare pair's framed step: hash ${end.hex}, not ${sha}`);
  await b.eval(() => bench.cleanup());
  await closePage(a);
  await closePage(b);
  return { seconds: (end.t - t0) / 1000, idle, busy, cpu: used };
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

/**
 * Chat round trips from `p` (a wrapped page whose 1:1 room is open): `n` idle, or as many as fit
 * while its outgoing file card is moving; each a message typed and sent with Enter until it shows
 * delivered, `gapMs` apart. Each is `{ t0, t1 }` on the page's clock (performance.timeOrigin + now).
 * files-trace.mjs uses this too.
 */
export function chatPings(p, n, whileMoving, gapMs = 0) {
  return p.eval(
    async ([n, whileMoving, gapMs]) => {
      const now = () => performance.timeOrigin + performance.now();
      const out = [];
      const composer = document.querySelector("#composer");
      const list = document.querySelector("#messages");
      const moving = () =>
        document.querySelector('li.file-card[data-direction="out"]')?.dataset
          .state === "moving";
      for (let i = 0; i < n && (!whileMoving || moving()); i++) {
        const t0 = now();
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
          mo.observe(li, {
            attributes: true,
            attributeFilter: ["data-state"],
          });
        });
        const t1 = now();
        if (!whileMoving || moving()) out.push({ t0, t1 });
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
      return out;
    },
    [n, whileMoving, gapMs],
  );
}
const pings = async (p, n, whileMoving) =>
  (await chatPings(p, n, whileMoving)).map((x) => x.t1 - x.t0);

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
    return {
      renderers,
      allPss: all,
      byType,
      heap: heap.usedSize / 2 ** 20,
    };
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
  { relay = false, memory = false, pingCount = args.pings, cpu = false } = {},
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
  const before = cpu ? [cpuNow(sb), cpuNow(rb)] : null;
  const busy = pingCount > 0 ? await pings(host, 100_000, true) : [];
  const { times: t } = await doneTimes(guest);
  const used = before
    ? [cpuSince(sb, before[0]), cpuSince(rb, before[1])]
    : null;
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
    cpu: used,
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

// ---- the ladder and the round trip floor --------------------------------------------------------

const load = () =>
  readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(", ");
/** Closes a run's two browsers (--ladder, --rtt). */
async function closeBrowsers(...bs) {
  for (const b of bs) {
    const x = b.persistent ?? b.b;
    await x.close().catch(() => undefined);
    browsers.splice(browsers.indexOf(x), 1);
  }
}
/** CPU milliseconds per MB of the file, of one side's page processes and of all its processes. */
const perMB = (c) =>
  `${((c.page * 1000) / MB).toFixed(0)} / ${((c.total * 1000) / MB).toFixed(0)}`;
const kinds = (c) =>
  Object.entries(c)
    .filter(([k, v]) => k !== "total" && k !== "page" && v > 0)
    .map(([k, v]) => `${k} ${((v * 1000) / MB).toFixed(0)}`)
    .join(", ");

/** --ladder: the bare pair's steps, then GhostChat, `args.rounds` times in turn. */
async function ladder(pair, site, url, pairName) {
  console.log(
    `\n| run (${MB} MB, ${pairName}, loopback) | step | throughput | sender CPU ms/MB: page / all processes | receiver CPU ms/MB: page / all processes | sender by kind | receiver by kind |`,
  );
  console.log("|---|---|---|---|---|---|---|");
  const row = (round, step, r) =>
    console.log(
      `| ${round} (load after ${load()}) | ${step} | ${rate(r.seconds)} | ${perMB(r.cpu[0])} | ${perMB(r.cpu[1])} | ${kinds(r.cpu[0])} | ${kinds(r.cpu[1])} |`,
    );
  for (let round = 1; round <= args.rounds; round++) {
    const [sb, rb] = await pair();
    for (const step of STEPS.filter(
      (x) => !args.steps || args.steps.includes(x),
    ))
      row(round, step, await bareStep(sb, rb, site, step, { cpu: true }));
    if (args.steps && !args.steps.includes("GhostChat")) continue;
    try {
      const o = await ours(sb, rb, url, site.file, {
        pingCount: 0,
        cpu: true,
      });
      row(round, "GhostChat", o);
    } catch (e) {
      console.log(
        `# run ${round}, GhostChat failed: ${String(e).split("\n")[0]}`,
      );
    }
    await closeBrowsers(sb, rb);
  }
}

/** --rtt: a ping channel's round trip while the bare pair sends, on the same connection or a second one. */
async function rttFloor(pair, site, pairName) {
  const q = (v, p) =>
    v.length
      ? [...v]
          .sort((a, b) => a - b)
          [Math.min(v.length - 1, Math.floor(v.length * p))].toFixed(1)
      : "—";
  console.log(
    `\n| run (${MB} MB, ${pairName}, loopback) | pings on | step | throughput | ping round trip idle: median | during: median / p90 (n) |`,
  );
  console.log("|---|---|---|---|---|---|");
  for (let round = 1; round <= args.rounds; round++) {
    const [sb, rb] = await pair();
    for (const step of ["blast", "framed"])
      for (const ping of ["shared", "separate"]) {
        const r = await bareStep(sb, rb, site, step, {
          ping,
          pingCount: args.pings || 20,
        });
        console.log(
          `| ${round} (load after ${load()}) | ${ping === "shared" ? "the same RTCPeerConnection" : "a second RTCPeerConnection"} | ${step} | ${rate(r.seconds)} | ${q(r.idle, 0.5)} ms | ${q(r.busy, 0.5)} / ${q(r.busy, 0.9)} ms (${r.busy.length}) |`,
        );
      }
    await closeBrowsers(sb, rb);
  }
}

// ---- the run ----------------------------------------------------------------------------------

if (isMain) await main();

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), "gc-bench-files-"));
  const file = path.join(dir, args.text ? "bench.log" : "bench.bin");
  const fileHash = createHash("sha256");
  /** About a MiB of log lines from line `from` on (each 64 KiB deflates to about 11 % by Node's zlib). */
  function logText(from) {
    const lines = [];
    for (let i = from, n = 0; n < 2 ** 20; i++) {
      const line = `2026-12-05T10:${String((i >> 10) % 60).padStart(2, "0")}:${String(i % 60).padStart(2, "0")}Z INFO request ${i} GET /api/ice served in ${(i * 7919) % 997} ms\n`;
      lines.push(line);
      n += line.length;
    }
    return {
      bytes: Buffer.from(lines.join("")),
      next: from + lines.length,
    };
  }
  {
    // Written a MiB at a time (a 1 GB file would not fit one Buffer comfortably).
    const fd = openSync(file, "w");
    let line = 0;
    for (let at = 0; at < SIZE; at += 2 ** 20) {
      const size = Math.min(2 ** 20, SIZE - at);
      let bytes;
      if (!args.text) bytes = randomBytes(size);
      else {
        const t = logText(line);
        line = t.next;
        bytes = t.bytes.subarray(0, size);
      }
      writeSync(fd, bytes);
      fileHash.update(bytes);
    }
    closeSync(fd);
  }
  const fileSha = fileHash.digest("hex");
  // TURN only when asked: on loopback the relay must be allowed to reach 127.0.0.0/8 (production denies it).
  const turnEnv = async () => ({
    GhostChat__Turn__Enabled: "true",
    GhostChat__Turn__ListenAddresses__0: "127.0.0.1",
    GhostChat__Turn__UdpPort: String(await harness.freePort()),
    GhostChat__Turn__TcpPort: String(await harness.freePort()),
    GhostChat__Turn__AllowedPeers__0: "127.0.0.0/8",
  });
  const server = await harness.startServer(args.relay ? await turnEnv() : {});
  const bareSite = await bareServer();
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: here,
      encoding: "utf8",
    }).trim();
    console.log(
      `# commit ${commit}, ${new Date().toISOString().slice(0, 16)} UTC; load (1, 5, 15 min) before: ${load()}`,
    );
    const [sName, rName] = args.pair;
    // --ladder, --rtt: each side in a browser of its own (a Chromium with an on-disk profile), so each
    // browser's processes are one page's. --memory: the receiver so.
    const split = args.ladder || args.rtt;
    const own = (name) =>
      name === "chromium" ? launchPersistent() : launch("firefox");
    // --ladder, --rtt: new browsers for every run (a second GhostChat transfer in the same two
    // persistent browsers timed out, twice: not investigated).
    const pair = async () => [await own(sName), await own(rName)];
    const sb = split ? null : await launch(sName);
    const rb = split
      ? null
      : args.memory
        ? await launchPersistent()
        : sName !== rName
          ? await launch(rName)
          : sb;
    const pairName = `${sName[0].toUpperCase()}${sName.slice(1)} → ${rName[0].toUpperCase()}${rName.slice(1)}`;
    const site = { url: bareSite.url, file, sha: fileSha };
    if (split) {
      if (args.ladder) await ladder(pair, site, server.url, pairName);
      if (args.rtt) await rttFloor(pair, site, pairName);
    } else if (args.group) {
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
      const b = args.memory
        ? null
        : (await bareStep(sb, rb, site, "blast")).seconds;
      const o = await ours(sb, rb, server.url, file, {
        memory: args.memory,
      });
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
    await bareSite.close();
    await server.stop();
    for (const d of [dir, ...profiles])
      rmSync(d, { recursive: true, force: true });
  }
}
