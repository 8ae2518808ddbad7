// A test-only man in the middle for the invite e2e tests: an HTTP + WebSocket reverse proxy in
// front of the REAL GhostChat server (no server change). Honest, it forwards everything as is.
// Attacking, it plays a compromised signaling server: the joiner's OFFER/ANSWER/CANDIDATE frames
// meant for the host go to the attacker's peer id instead, and the attacker's frames to the
// joiner are relabelled as coming from the host — so the joiner's browser believes it negotiated
// with the host while it really holds a DTLS connection to the attacker. `deliver` forges a frame
// to one browser as the server would (calls-attacks.test.mjs: an ICE restart naming another
// certificate, in the middle of a call).
import http from "node:http";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { WebSocket, WebSocketServer } from "ws";

const require = createRequire(import.meta.url);
const PEERJS_SOURCE = readFileSync(require.resolve("peerjs/dist/peerjs.min.js"), "utf8");
const RELAYED = new Set(["OFFER", "ANSWER", "CANDIDATE"]);

export async function startSignalingProxy(targetUrl) {
  const target = new URL(targetUrl);
  // tap: an optional ({ from, msg, sendUp }) => msg | null run on every JSON frame a browser sends,
  // after the routing above; null holds the frame back (sendUp lets the tap send it later).
  const state = { attack: null, tap: null, rewrittenToAttacker: 0, relabelledFromAttacker: 0, sockets: new Set(), clients: new Map() };

  const server = http.createServer((req, res) => {
    if (req.url === "/__attacker.html") {
      // The attacker's page: no CSP, just PeerJS (served by the proxy, not by the app).
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end("<!doctype html><title>attacker</title><script src='/__peerjs.js'></script>");
      return;
    }
    if (req.url === "/__peerjs.js") {
      res.writeHead(200, { "content-type": "text/javascript" });
      res.end(PEERJS_SOURCE);
      return;
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });

  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (client) => {
      const id = new URL(req.url, "http://x").searchParams.get("id");
      const upstream = new WebSocket(`ws://${target.host}${req.url}`, { headers: { origin: req.headers.origin ?? targetUrl } });
      state.sockets.add(client);
      if (id) state.clients.set(id, client);
      const pending = [];
      // A socket is the victim (the joiner) when it is neither the host nor the attacker.
      const isVictim = () => state.attack !== null && id !== state.attack.hostId && id !== state.attack.attackerId;
      const route = (text) => {
        if (!isVictim()) return text;
        let msg;
        try {
          msg = JSON.parse(text);
        } catch {
          return text;
        }
        if (RELAYED.has(msg?.type) && msg.dst === state.attack.hostId) {
          msg.dst = state.attack.attackerId;
          state.rewrittenToAttacker++;
          return JSON.stringify(msg);
        }
        return text;
      };
      const sendUp = (text) => {
        if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
        else pending.push(text);
      };
      const toServer = (text) => {
        const routed = route(text);
        if (!state.tap) return routed;
        let msg;
        try {
          msg = JSON.parse(routed);
        } catch {
          return routed;
        }
        const out = state.tap({ from: id, msg, sendUp: (m) => sendUp(JSON.stringify(m)) });
        return out === null ? null : JSON.stringify(out);
      };
      const toClient = (text) => {
        if (!isVictim()) return text;
        let msg;
        try {
          msg = JSON.parse(text);
        } catch {
          return text;
        }
        if (msg?.src === state.attack.attackerId) {
          msg.src = state.attack.hostId;
          state.relabelledFromAttacker++;
          return JSON.stringify(msg);
        }
        return text;
      };
      client.on("message", (data, isBinary) => {
        const out = isBinary ? data : toServer(data.toString());
        if (out !== null) sendUp(out);
      });
      upstream.on("open", () => {
        for (const m of pending.splice(0)) upstream.send(m);
      });
      upstream.on("message", (data, isBinary) => {
        if (client.readyState === WebSocket.OPEN) client.send(isBinary ? data : toClient(data.toString()));
      });
      const closeBoth = () => {
        state.sockets.delete(client);
        if (state.clients.get(id) === client) state.clients.delete(id);
        if (client.readyState === WebSocket.OPEN) client.close();
        if (upstream.readyState === WebSocket.OPEN || upstream.readyState === WebSocket.CONNECTING) upstream.terminate();
      };
      client.on("close", closeBoth);
      client.on("error", closeBoth);
      upstream.on("close", closeBoth);
      upstream.on("error", closeBoth);
    });
  });

  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    state,
    /** Routes every other peer's signaling for `hostId` to `attackerId`. */
    attack(hostId, attackerId) {
      state.attack = { hostId, attackerId };
    },
    /** Runs `tap` on every frame browsers send (see `state.tap`); null removes it. */
    tap(fn) {
      state.tap = fn;
    },
    honest() {
      state.attack = null;
      state.tap = null;
    },
    /** Sends `msg` to the browser registered as `id`, as if the server relayed it (a forged frame). */
    deliver(id, msg) {
      const client = state.clients.get(id);
      if (client?.readyState !== WebSocket.OPEN) throw new Error(`no open socket for ${id}`);
      client.send(JSON.stringify(msg));
    },
    async stop() {
      for (const c of state.sockets) c.terminate();
      wss.close();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Runs in the attacker's page: registers `attackerId`, accepts the joiner's (misrouted) connection,
 * opens its own connection to the host and forwards every frame both ways, counting them.
 */
export function attackerScript({ port, attackerId, hostId }) {
  const a = (window.attack = { joinerOpen: false, hostOpen: false, fromJoiner: 0, fromHost: 0, log: [], closed: [] });
  // With `window.attackCertificate` (see attackerCertificateScript) every connection uses that one certificate.
  const certificates = window.attackCertificate ? { certificates: [window.attackCertificate] } : {};
  const peer = new window.peerjs.Peer(attackerId, {
    host: "127.0.0.1",
    port,
    path: "/",
    key: "peerjs",
    secure: false,
    debug: 0,
    config: { iceServers: [], ...certificates },
  });
  peer.on("open", () => (a.registered = true));
  peer.on("error", (e) => a.log.push(["error", String(e.type ?? e)]));
  peer.on("connection", (toJoiner) => {
    a.joinerPeer = toJoiner.peer;
    const toHost = peer.connect(hostId, { reliable: true, serialization: "json" });
    const queued = [];
    toJoiner.on("data", (d) => {
      a.fromJoiner++;
      a.log.push(["J→H", d?.t]);
      if (toHost.open) toHost.send(d);
      else queued.push(d);
    });
    toHost.on("open", () => {
      a.hostOpen = true;
      for (const d of queued.splice(0)) toHost.send(d);
    });
    toHost.on("data", (d) => {
      a.fromHost++;
      a.log.push(["H→J", d?.t]);
      if (toJoiner.open) toJoiner.send(d);
    });
    toJoiner.on("open", () => (a.joinerOpen = true));
    toJoiner.on("close", () => a.closed.push("joiner"));
    toHost.on("close", () => a.closed.push("host"));
  });
}

/**
 * Runs in the attacker's (Chromium) page: makes the certificate the attacker will use for every
 * connection (`window.attackCertificate`) and returns its SHA-512 fingerprint line. A page cannot
 * read its certificate's bytes directly, so a loopback connection has Chromium report it in getStats.
 */
export async function attackerCertificateScript() {
  const cert = await RTCPeerConnection.generateCertificate({ name: "ECDSA", namedCurve: "P-256" });
  const a = new RTCPeerConnection({ certificates: [cert] });
  const b = new RTCPeerConnection();
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  const channel = a.createDataChannel("probe");
  const open = new Promise((resolve) => (channel.onopen = resolve));
  await a.setLocalDescription();
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription();
  await a.setRemoteDescription(b.localDescription);
  await open;
  const stats = await a.getStats();
  let der = null;
  stats.forEach((s) => {
    if (s.type === "transport" && s.localCertificateId) der = stats.get(s.localCertificateId)?.base64Certificate ?? null;
  });
  a.close();
  b.close();
  if (!der) throw new Error("the browser did not report its certificate");
  const digest = new Uint8Array(
    await crypto.subtle.digest(
      "SHA-512",
      Uint8Array.from(atob(der), (c) => c.charCodeAt(0)),
    ),
  );
  window.attackCertificate = cert;
  return `a=fingerprint:sha-512 ${[...digest].map((x) => x.toString(16).padStart(2, "0").toUpperCase()).join(":")}`;
}

const FINGERPRINT_LINE = /^a=fingerprint:.*$/gm;

/**
 * A proxy tap (proxy.tap) for the second-fingerprint-line attack: in every description the attacker
 * sends to one victim, its own fingerprint line is replaced by the OTHER victim's real one, and the
 * attacker's `attackerLine` (a SHA-512 line of its certificate) is appended right after it. A
 * browser that lets DTLS accept a certificate matching the appended line while the app reads the
 * SHA-256 one completes DTLS with the attacker, and both sides' proofs bind to the real
 * fingerprints. The attacker's frames to a victim wait until the other victim's line is known.
 */
export function spliceFingerprints({ hostId, attackerId, attackerLine }) {
  const real = new Map(); // victim id → its real fingerprint line(s), from its own descriptions
  let joinerId = null;
  const held = new Map(); // dst → [msg, sendUp][], in order
  const stats = { spliced: 0, held: 0, lines: [] };
  const counterpart = (dst) => (dst === hostId ? joinerId : hostId);
  const splice = (msg) => {
    const lines = real.get(counterpart(msg.dst));
    let first = true;
    msg.payload.sdp.sdp = msg.payload.sdp.sdp
      .replace(FINGERPRINT_LINE, () => {
        if (!first) return "";
        first = false;
        return `${lines.join("\r\n")}\r\n${attackerLine}`;
      })
      .replace(/\r\n(?:\r\n)+/g, "\r\n");
    stats.spliced++;
    stats.lines.push(msg.payload.sdp.sdp.match(FINGERPRINT_LINE));
    return msg;
  };
  const ready = (dst) => real.has(counterpart(dst));
  const release = () => {
    for (const [dst, queue] of held) {
      if (!ready(dst)) continue;
      held.delete(dst);
      for (const [msg, sendUp] of queue) sendUp(msg.payload?.sdp?.sdp ? splice(msg) : msg);
    }
  };
  const tap = ({ from, msg, sendUp }) => {
    if (!RELAYED.has(msg?.type)) return msg;
    const sdp = msg.payload?.sdp?.sdp;
    if (from !== attackerId && msg.dst === attackerId) {
      // A victim's description: remember its real line(s).
      if (from !== hostId) joinerId = from;
      if (typeof sdp === "string") real.set(from, sdp.match(FINGERPRINT_LINE) ?? []);
      release();
      return msg;
    }
    if (from === attackerId) {
      if (held.has(msg.dst) || !ready(msg.dst)) {
        if (!held.has(msg.dst)) held.set(msg.dst, []);
        held.get(msg.dst).push([msg, sendUp]);
        stats.held++;
        return null;
      }
      return typeof sdp === "string" ? splice(msg) : msg;
    }
    return msg;
  };
  return { tap, stats };
}
