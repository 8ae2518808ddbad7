// A small promise-based WebSocket client for the PeerJS signaling protocol that records
// every frame and the close code, so scenarios can await events instead of sleeping.
//
// Stable API:
//   peerUrl(wsBase, { id, token, key, path = '/', extra }) -> string (query built with
//       URLSearchParams; undefined omits a parameter; key defaults to 'peerjs' only when absent)
//   connect(url, { headers, timeoutMs, socket }) -> Promise<Client>  (resolves when the socket is open;
//       socket: extra options for the `ws` client, e.g. { localAddress: '127.0.0.2', ca })
//   connectPeer(wsBase, { id, token, key, headers, socket }) -> Promise<Client>
//   Client:
//     frames          [{ text, json, binary, at }]  every frame received, in order
//     texts()         frame texts
//     send(x)         object -> JSON text; string -> text frame; Buffer -> binary frame
//     next(pred?, timeoutMs?) -> Promise<frame>: the first not-yet-consumed frame matching pred
//                     (a type string, or a function of the parsed JSON); rejects on timeout
//                     or if the socket closes first. Frames are consumed in order.
//     nextType(type, timeoutMs?) -> Promise<object> (parsed JSON)
//     closed          Promise<{ code, reason, at }>
//     waitClosed(timeoutMs?) -> Promise<{ code, reason, at }>
//     isOpen()        boolean
//     close(code?, reason?) -> Promise<{ code, reason }>
//     terminate()     drop the TCP connection without a close frame
//     startHeartbeat(ms = 1000) / stopHeartbeat()   periodic {"type":"HEARTBEAT"} like the PeerJS client
import WebSocket from 'ws';

export const DEFAULT_TIMEOUT_MS = 10_000;

export function peerUrl(wsBase, opts = {}) {
  const { id, token, path = '/', extra = {} } = opts;
  // An explicit `key: undefined` omits the parameter; leaving key out means the default 'peerjs'.
  const key = Object.hasOwn(opts, 'key') ? opts.key : 'peerjs';
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ key, id, token, ...extra })) if (v !== undefined) q.set(k, v);
  return `${wsBase}${path}peerjs?${q}`;
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, reject) => { t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms); }),
  ]).finally(() => clearTimeout(t));
}

export function connect(url, { headers = {}, timeoutMs = DEFAULT_TIMEOUT_MS, socket = {} } = {}) {
  const ws = new WebSocket(url, { ...socket, headers, perMessageDeflate: false });
  const frames = [];
  const waiters = new Set();
  let cursor = 0;
  let closeInfo = null;
  let heartbeat = null;
  let resolveClosed;
  const closed = new Promise((r) => { resolveClosed = r; });

  const pump = () => {
    for (const w of [...waiters]) {
      for (let i = w.from(); i < frames.length; i++) {
        if (w.pred(frames[i])) {
          waiters.delete(w);
          w.resolve(i);
          break;
        }
      }
    }
  };

  ws.on('message', (data, isBinary) => {
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data).toString('utf8');
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    frames.push({ text, json, binary: isBinary, at: Date.now() });
    pump();
  });
  ws.on('close', (code, reason) => {
    closeInfo = { code, reason: reason.toString(), at: Date.now() };
    if (heartbeat) clearInterval(heartbeat);
    resolveClosed(closeInfo);
    for (const w of [...waiters]) { waiters.delete(w); w.onClose(closeInfo); }
  });
  ws.on('error', () => { /* surfaced through close / open failure */ });

  const client = {
    ws,
    frames,
    closed,
    texts: () => frames.map((f) => f.text),
    isOpen: () => ws.readyState === WebSocket.OPEN,
    send(x) {
      if (Buffer.isBuffer(x)) ws.send(x, { binary: true });
      else ws.send(typeof x === 'string' ? x : JSON.stringify(x));
    },
    next(pred = () => true, ms = DEFAULT_TIMEOUT_MS) {
      const test = typeof pred === 'string' ? (f) => f.json?.type === pred
        : (f) => pred(f.json, f);
      const start = cursor;
      return withTimeout(new Promise((resolve, reject) => {
        const w = {
          from: () => start,
          pred: test,
          resolve: (i) => { cursor = Math.max(cursor, i + 1); resolve(frames[i]); },
          onClose: (c) => reject(new Error(`socket closed (${c.code} ${c.reason}) before the awaited frame; frames: ${JSON.stringify(client.texts())}`)),
        };
        waiters.add(w);
        pump();
        if (waiters.has(w) && closeInfo) { waiters.delete(w); w.onClose(closeInfo); }
      }), ms, `a frame (${typeof pred === 'string' ? pred : 'predicate'}); got ${JSON.stringify(client.texts())}`);
    },
    async nextType(type, ms) { return (await client.next(type, ms)).json; },
    waitClosed(ms = DEFAULT_TIMEOUT_MS) { return withTimeout(closed, ms, 'the socket to close'); },
    close(code, reason) {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason);
      return withTimeout(closed, DEFAULT_TIMEOUT_MS, 'close');
    },
    terminate() { ws.terminate(); return closed; },
    /** Send {"type":"HEARTBEAT"} every `ms` until the socket closes or stopHeartbeat() (as the PeerJS client does). */
    startHeartbeat(ms = 1000) {
      client.stopHeartbeat();
      heartbeat = setInterval(() => { if (ws.readyState === WebSocket.OPEN) ws.send('{"type":"HEARTBEAT"}'); }, ms);
      heartbeat.unref();
    },
    stopHeartbeat() { if (heartbeat) clearInterval(heartbeat); heartbeat = null; },
  };

  return withTimeout(new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket handshake refused: HTTP ${res.statusCode}`)));
    ws.once('error', (e) => reject(e));
  }), timeoutMs, `WebSocket open ${url}`);
}

export function connectPeer(wsBase, { headers, timeoutMs, socket, ...params } = {}) {
  return connect(peerUrl(wsBase, params), { headers, timeoutMs, socket });
}

/** Close every client in the list that is still open (for after hooks). */
export async function closeAll(clients) {
  await Promise.all(clients.map((c) => c.terminate().catch(() => {})));
}
