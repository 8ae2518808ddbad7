// A test-only man in the middle for the invite e2e tests: an HTTP + WebSocket reverse proxy in
// front of the REAL GhostChat server (no server change). Honest, it forwards everything as is.
// Attacking, it plays a compromised signaling server: the joiner's OFFER/ANSWER/CANDIDATE frames
// meant for the host go to the attacker's peer id instead, and the attacker's frames to the
// joiner are relabelled as coming from the host — so the joiner's browser believes it negotiated
// with the host while it really holds a DTLS connection to the attacker.
import http from "node:http";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { WebSocket, WebSocketServer } from "ws";

const require = createRequire(import.meta.url);
const PEERJS_SOURCE = readFileSync(require.resolve("peerjs/dist/peerjs.min.js"), "utf8");
const RELAYED = new Set(["OFFER", "ANSWER", "CANDIDATE"]);

export async function startSignalingProxy(targetUrl) {
  const target = new URL(targetUrl);
  const state = { attack: null, rewrittenToAttacker: 0, relabelledFromAttacker: 0, sockets: new Set() };

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
      const pending = [];
      // A socket is the victim (the joiner) when it is neither the host nor the attacker.
      const isVictim = () => state.attack !== null && id !== state.attack.hostId && id !== state.attack.attackerId;
      const toServer = (text) => {
        if (!isVictim()) return text;
        let msg;
        try { msg = JSON.parse(text); } catch { return text; }
        if (RELAYED.has(msg?.type) && msg.dst === state.attack.hostId) {
          msg.dst = state.attack.attackerId;
          state.rewrittenToAttacker++;
          return JSON.stringify(msg);
        }
        return text;
      };
      const toClient = (text) => {
        if (!isVictim()) return text;
        let msg;
        try { msg = JSON.parse(text); } catch { return text; }
        if (msg?.src === state.attack.attackerId) {
          msg.src = state.attack.hostId;
          state.relabelledFromAttacker++;
          return JSON.stringify(msg);
        }
        return text;
      };
      client.on("message", (data, isBinary) => {
        const out = isBinary ? data : toServer(data.toString());
        if (upstream.readyState === WebSocket.OPEN) upstream.send(out);
        else pending.push(out);
      });
      upstream.on("open", () => { for (const m of pending.splice(0)) upstream.send(m); });
      upstream.on("message", (data, isBinary) => {
        if (client.readyState === WebSocket.OPEN) client.send(isBinary ? data : toClient(data.toString()));
      });
      const closeBoth = () => {
        state.sockets.delete(client);
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
    attack(hostId, attackerId) { state.attack = { hostId, attackerId }; },
    honest() { state.attack = null; },
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
  const peer = new window.peerjs.Peer(attackerId, { host: "127.0.0.1", port, path: "/", key: "peerjs", secure: false, debug: 0, config: { iceServers: [] } });
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
