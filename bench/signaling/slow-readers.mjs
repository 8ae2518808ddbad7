// The slow-reader attack on signaling memory (issue 15 item 2), run against a server that is already
// listening: never-reading WebSockets (raw TCP: after the 101 answer the client stops reading, so
// what the server sends piles up in the kernel buffers and then in the server's outbound queues),
// flooded with ~60 kB CANDIDATE frames by other sockets at just under the per-socket message rate,
// while one honest pair keeps exchanging OFFERs. Every socket sends a HEARTBEAT every 10 s (the
// never-reading ones too: writing is not reading), so none is closed for silence. The server's resident memory is sampled from
// /proc/PID/status; the peak (VmHWM) is the figure.
//
//   node slow-readers.mjs URL PID          (bench/signaling-slow-readers.sh starts the server)
//
// Settings (environment): SLOW_ADDRS (16) × SLOW_PER_ADDR (60) never-reading sockets, FLOOD_ADDRS (2)
// × FLOOD_PER_ADDR (32) flooders sending RATE (40) frames/s each of FRAME_BYTES (60000), for
// DURATION (60) s after everyone is connected; STOP_RSS_MB (4096) stops early once the server's
// RSS passes it. Each group of sockets comes from its own loopback address (127.0.1.x slow,
// 127.0.2.x flooders, 127.0.3.1 the honest pair), so the per-address limits (64 sockets, 10 new/s)
// hold as they would for many attacking hosts. Prints one JSON object.
import net from 'node:net';
import { readFileSync } from 'node:fs';

const [url, pidText] = process.argv.slice(2);
const pid = Number(pidText);
const env = (name, fallback) => Number(process.env[name] ?? fallback);
const SLOW_ADDRS = env('SLOW_ADDRS', 16);
const SLOW_PER_ADDR = env('SLOW_PER_ADDR', 60);
const FLOOD_ADDRS = env('FLOOD_ADDRS', 2);
const FLOOD_PER_ADDR = env('FLOOD_PER_ADDR', 32);
const RATE = env('RATE', 40); // frames/s per flooder; the server allows 50 (bursts of 100)
const FRAME_BYTES = env('FRAME_BYTES', 60000);
const DURATION = env('DURATION', 60);
const STOP_RSS_MB = env('STOP_RSS_MB', 4096);

const target = new URL(url);
const port = Number(target.port);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => process.stderr.write(a.join(' ') + '\n');

// --- memory ---------------------------------------------------------------------------------------
function status(field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}
let peakSampled = 0;
const rssTimer = setInterval(() => {
  try {
    peakSampled = Math.max(peakSampled, status('VmRSS'));
  } catch {
    // the server is gone; reported below
  }
}, 100);

// --- metrics --------------------------------------------------------------------------------------
async function metrics() {
  try {
    const text = await (await fetch(new URL('/metrics', url))).text();
    const sum = (name, label = '', none = NaN) => {
      let total = none;
      for (const line of text.split('\n')) {
        if ((line.startsWith(name + ' ') || line.startsWith(name + '{')) && line.includes(label)) {
          total = (Number.isNaN(total) ? 0 : total) + Number(line.slice(line.lastIndexOf(' ') + 1));
        }
      }
      return total;
    };
    return {
      sockets: sum('ghostchat_signaling_sockets'),
      outboundBytes: sum('ghostchat_signaling_outbound_bytes'),
      offlineQueueBytes: sum('ghostchat_signaling_queue_bytes'),
      closedSlowConsumer: sum('ghostchat_signaling_rejections_total', 'reason="slow_consumer"', 0),
      closedNodeBudget: sum('ghostchat_signaling_rejections_total', 'reason="node_outbound_budget"', 0),
    };
  } catch (e) {
    return { error: String(e) };
  }
}

// --- WebSocket by hand ------------------------------------------------------------------------------
/** A client frame, masked with the all-zero key (valid; the server unmasks a no-op). */
function clientFrame(text) {
  const payload = Buffer.from(text);
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x81, 0x80 | n]) : n < 65536 ? Buffer.from([0x81, 0x80 | 126, n >> 8, n & 255]) : null;
  if (!head) throw new Error('frame too large');
  return Buffer.concat([head, Buffer.alloc(4), payload]);
}

/** Connects from `localAddress`, upgrades, resolves with the socket and whatever followed the 101. */
function upgrade(localAddress, id) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.hostname, port, localAddress });
    socket.setNoDelay(true);
    let head = Buffer.alloc(0);
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const answer = head.subarray(0, end).toString('latin1');
      if (!answer.startsWith('HTTP/1.1 101')) {
        socket.destroy();
        reject(new Error(`no upgrade for ${id}: ${answer.split('\r\n')[0]}`));
        return;
      }
      resolve({ socket, rest: head.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    const key = Buffer.from(Array.from({ length: 16 }, () => Math.floor(Math.random() * 256))).toString('base64');
    socket.write(`GET /peerjs?key=peerjs&id=${encodeURIComponent(id)}&token=t-${encodeURIComponent(id)} HTTP/1.1\r\n`
      + `Host: ${target.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`);
  });
}

/** Server frames (unmasked text) from a byte stream. */
function frameReader(onText) {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      let len = buf[1] & 127;
      let at = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        at = 10;
      }
      if (buf.length < at + len) return;
      if ((buf[0] & 15) === 1) onText(buf.subarray(at, at + len).toString('utf8'));
      buf = buf.subarray(at + len);
    }
  };
}

/** Opens `count` sockets from one address within its connect budget (burst 20, then 10/s). */
async function openFrom(address, count, open) {
  const out = [];
  for (let i = 0; i < count; i++) {
    out.push(await open(address, i));
    if (i >= 15) await sleep(110);
  }
  return out;
}

// --- the attack -------------------------------------------------------------------------------------
const slowIds = [];
const slowSockets = [];
const started = Date.now();
await Promise.all(Array.from({ length: SLOW_ADDRS }, (_, a) => openFrom(`127.0.1.${a + 1}`, SLOW_PER_ADDR, async (address, i) => {
  const id = `slow-${a}-${i}`;
  const { socket } = await upgrade(address, id);
  socket.pause(); // never read again
  socket.on('error', () => {});
  slowIds.push(id);
  slowSockets.push(socket);
})));

const flooders = (await Promise.all(Array.from({ length: FLOOD_ADDRS }, (_, a) => openFrom(`127.0.2.${a + 1}`, FLOOD_PER_ADDR, async (address, i) => {
  const { socket } = await upgrade(address, `flood-${a}-${i}`);
  socket.on('data', () => {}); // flooders read (EXPIREs): they are not the slow ones
  socket.on('error', () => {});
  return socket;
})))).flat();

// The honest pair, from its own address: alice sends bob a numbered OFFER every 200 ms.
const honest = { sent: 0, received: 0, worstMs: 0 };
const sentAt = new Map();
const alice = (await upgrade('127.0.3.1', 'honest-alice')).socket;
const bobUp = await upgrade('127.0.3.1', 'honest-bob');
alice.on('data', () => {});
alice.on('error', () => {});
const onBob = frameReader((text) => {
  const m = JSON.parse(text);
  if (m.type !== 'OFFER' || !sentAt.has(m.payload)) return;
  honest.received++;
  honest.worstMs = Math.max(honest.worstMs, Date.now() - sentAt.get(m.payload));
  sentAt.delete(m.payload);
});
onBob(bobUp.rest);
bobUp.socket.on('data', onBob);
bobUp.socket.on('error', () => {});
await sleep(500);
const connectedAfterMs = Date.now() - started;
const before = { rss: status('VmRSS'), metrics: await metrics() };
log(`connected: ${slowIds.length} never-reading sockets, ${flooders.length} flooders, RSS ${(before.rss / 2 ** 20).toFixed(0)} MiB`);

const heartbeat = clientFrame('{"type":"HEARTBEAT"}');
const heartbeatTimer = setInterval(() => {
  for (const s of [...slowSockets, ...flooders, alice, bobUp.socket]) if (!s.destroyed) s.write(heartbeat);
}, 10_000);

const padding = 'x'.repeat(FRAME_BYTES);
let next = 0;
let framesSent = 0;
const floodTimer = setInterval(() => {
  for (const f of flooders) {
    if (f.destroyed || f.writableLength > 4 * FRAME_BYTES) continue; // the server reads us slowly: wait
    for (let k = 0; k < Math.floor(RATE / 10); k++) {
      const dst = slowIds[next++ % slowIds.length];
      f.write(clientFrame(`{"type":"CANDIDATE","dst":"${dst}","payload":"${padding}"}`));
      framesSent++;
    }
  }
}, 100);
let seq = 0;
const honestTimer = setInterval(() => {
  seq++;
  sentAt.set(seq, Date.now());
  honest.sent++;
  alice.write(clientFrame(JSON.stringify({ type: 'OFFER', dst: 'honest-bob', payload: seq })));
}, 200);

const samples = [];
let stoppedEarly = false;
for (let s = 0; s < DURATION; s++) {
  await sleep(1000);
  const rss = status('VmRSS');
  const m = await metrics();
  samples.push({ t: s + 1, rssMiB: Math.round(rss / 2 ** 20), ...m });
  log(`t=${s + 1}s RSS ${(rss / 2 ** 20).toFixed(0)} MiB outbound ${((m.outboundBytes ?? NaN) / 2 ** 20).toFixed(1)} MiB closed ${m.closedSlowConsumer ?? 'n/a'}+${m.closedNodeBudget ?? 'n/a'} honest ${honest.received}/${honest.sent}`);
  if (rss > STOP_RSS_MB * 2 ** 20) {
    stoppedEarly = true;
    break;
  }
}
clearInterval(floodTimer);
clearInterval(honestTimer);
clearInterval(heartbeatTimer);
await sleep(1000);
const peakRss = status('VmHWM');
clearInterval(rssTimer);
const after = await metrics();
for (const s of [...slowSockets, ...flooders, alice, bobUp.socket]) s.destroy();

console.log(JSON.stringify({
  settings: { SLOW_ADDRS, SLOW_PER_ADDR, FLOOD_ADDRS, FLOOD_PER_ADDR, RATE, FRAME_BYTES, DURATION, STOP_RSS_MB },
  neverReadingSockets: slowIds.length,
  flooders: flooders.length,
  connectedAfterMs,
  framesSent,
  floodedMiB: Math.round(framesSent * FRAME_BYTES / 2 ** 20),
  rssBeforeFloodMiB: Math.round(before.rss / 2 ** 20),
  peakRssMiB: Math.round(Math.max(peakRss, peakSampled) / 2 ** 20),
  stoppedEarly,
  floodSeconds: samples.length,
  honest,
  metricsAfter: after,
  samples,
}, null, 2));
process.exit(0);
