import { Peer, type DataConnection, type PeerError as PeerJsError } from "peerjs";
import { connectionFingerprints, sdpFingerprint } from "../core/auth/fingerprint";
import { PeerError, type ChannelPort, type FileLane, type PeerErrorKind, type PeerPort } from "../core/connection/ports";
import { newToken, tokenBoundPeerId } from "../core/ids";
import { callOfferPending, exclusive, mediaPort, restartOffered } from "./media";

export interface PeerJsServer {
  host: string;
  port: number;
  path: string;
  key: string;
  secure: boolean;
}

const KNOWN: readonly PeerErrorKind[] = [
  "peer-unavailable",
  "unavailable-id",
  "invalid-key",
  "invalid-id",
  "network",
  "server-error",
  "socket-error",
  "browser-incompatible",
];

function toError(e: PeerJsError<string> | Error): PeerError {
  const type = (e as { type?: string }).type ?? "other";
  const kind = (KNOWN as readonly string[]).includes(type) ? (type as PeerErrorKind) : "other";
  return new PeerError(kind, e.message);
}

/** A fixed peer id and the token that lets it reattach (the host keeps both while its invites live). */
export interface PeerIdentity {
  id: string;
  token: string;
}

/**
 * The only module that touches PeerJS. Reliable, JSON-serialised data channels. With an `identity`
 * holding an id the peer registers that id with that token (a host resuming its room). Otherwise
 * the id is the token-bound id of the given token, or of a fresh one (a joiner): the server lets
 * nobody else hold it, so neither a room's id nor a member's can be taken while its socket is away.
 */
export async function createPeerJsPort(
  server: PeerJsServer,
  iceServers: RTCIceServer[],
  identity?: PeerIdentity | { token: string },
  network: { readonly relayOnly?: boolean } = {},
): Promise<PeerPort> {
  const token = identity?.token ?? newToken();
  const id = identity && "id" in identity ? identity.id : await tokenBoundPeerId(token);
  // relayOnly: "Try again through a relay", or the server's hint — TURN candidates only. PeerJS
  // keeps this object and hands it to every RTCPeerConnection it makes, which reads the members
  // then: the list (replaced in place on failover) and the policy are the current ones.
  const config = { iceServers } as RTCConfiguration;
  Object.defineProperty(config, "iceTransportPolicy", { enumerable: true, get: (): RTCIceTransportPolicy => (network.relayOnly ? "relay" : "all") });
  const peer = new Peer(id, { ...server, debug: 0, config, token });
  const pendingConnects = new Map<string, Set<(e: PeerError) => void>>();
  let lastError: PeerError | null = null;
  const internals = peer as unknown as PeerInternals;
  interceptRestarts(internals);

  peer.on("error", (e) => {
    const err = toError(e);
    lastError = err;
    if (err.kind === "peer-unavailable") {
      // PeerJS reports an unknown destination on the Peer, naming it only in the message.
      for (const [remote, rejects] of pendingConnects) if (err.message.includes(remote)) for (const r of rejects) r(err);
    }
  });

  return {
    open: () =>
      new Promise<string>((resolve, reject) => {
        if (peer.open) return resolve(peer.id);
        peer.once("open", (id) => resolve(id));
        peer.once("error", (e) => reject(toError(e)));
      }),
    connect: (remoteId, signal) =>
      new Promise<ChannelPort>((resolve, reject) => {
        if (signal?.aborted) return reject(new PeerError("network", `connection to ${remoteId} abandoned`));
        const conn = peer.connect(remoteId, { reliable: true, serialization: "json" });
        let rejects = pendingConnects.get(remoteId);
        if (!rejects) pendingConnects.set(remoteId, (rejects = new Set()));
        const fail = (e: PeerError) => {
          cleanup();
          conn.close();
          reject(e);
        };
        const cleanup = () => rejects.delete(fail);
        rejects.add(fail);
        conn.once("open", () => {
          cleanup();
          resolve(wrap(conn, internals));
        });
        conn.once("error", (e) => fail(toError(e)));
        // Given up on (the session's attempt timed out): close it, or its RTCPeerConnection lives on
        // with its TURN allocations until the page closes.
        signal?.addEventListener("abort", () => fail(new PeerError("network", `connection to ${remoteId} abandoned`)), { once: true });
        if (!conn) fail(lastError ?? new PeerError("other", "connect failed"));
      }),
    onIncoming: (handler) => {
      peer.on("connection", (conn) => {
        if (conn.open) handler(wrap(conn, internals));
        else conn.once("open", () => handler(wrap(conn, internals)));
      });
    },
    onDisconnected: (handler) => {
      peer.on("disconnected", () => handler());
    },
    reconnect: () =>
      new Promise<void>((resolve, reject) => {
        if (peer.destroyed) return reject(new PeerError("other", "peer destroyed"));
        const onOpen = () => {
          peer.off("error", onError);
          resolve();
        };
        const onError = (e: PeerJsError<string>) => {
          peer.off("open", onOpen);
          reject(toError(e));
        };
        peer.once("open", onOpen);
        peer.once("error", onError);
        peer.reconnect();
      }),
    refresh: () => {
      if (!peer.destroyed && !peer.disconnected) peer.disconnect();
    },
    destroy: () => peer.destroy(),
  };
}

/** Marks the descriptions of our ICE restart in PeerJS OFFER/ANSWER messages (docs/protocol.md). */
const RESTART = "gc-ice-restart-v1";

/** The parts of PeerJS 1.5.5's Peer (pinned in package.json) that an ICE restart needs. */
export interface PeerInternals {
  _handleMessage(message: ServerMessage): void;
  readonly socket: { send(message: unknown): void };
  getConnection(peerId: string, connectionId: string): DataConnection | null;
}

export interface ServerMessage {
  type: string;
  src: string;
  payload?: { connectionId?: unknown; sdp?: { type?: unknown; sdp?: unknown }; restart?: unknown };
}

/**
 * PeerJS cannot renegotiate: an OFFER for a connection it has makes it close that connection, and an
 * ANSWER would be applied unchecked. Descriptions for a connection that is already open are ours
 * (ICE restart) and handled here; everything else goes to PeerJS as before.
 */
export function interceptRestarts(peer: PeerInternals): void {
  const original = peer._handleMessage.bind(peer);
  peer._handleMessage = (message: ServerMessage) => {
    if (message.type !== "OFFER" && message.type !== "ANSWER") return original(message);
    const id = message.payload?.connectionId;
    const conn = typeof id === "string" ? peer.getConnection(message.src, id) : null;
    const restart = message.payload?.restart === RESTART;
    // A restart for a connection this side no longer has (closed, redialled) is dropped: to PeerJS it
    // would look like a new connection without its settings.
    if (!conn?.open && !restart) return original(message);
    // Never handed to PeerJS: only a restart of ours is applied, and only after checking it.
    const pc = conn?.peerConnection;
    if (conn?.open && restart && pc) void exclusive(pc, () => applyRestart(peer, conn, message.type, message.payload?.sdp?.sdp)).catch(() => undefined);
  };
}

/**
 * True when `sdp` names exactly the remote certificate the connection uses now (the one the handshake
 * bound): a signaling server cannot swap certificates through a restart.
 */
export function sameRemoteCertificate(pc: RTCPeerConnection, sdp: string): boolean {
  const now = pc.currentRemoteDescription?.sdp;
  if (!now) return false;
  const before = sdpFingerprint(now);
  const after = sdpFingerprint(sdp);
  return before.ok && after.ok && before.fingerprint === after.fingerprint;
}

async function applyRestart(peer: PeerInternals, conn: DataConnection, type: string, sdp: unknown): Promise<void> {
  const pc = conn.peerConnection;
  if (!pc || typeof sdp !== "string" || !sameRemoteCertificate(pc, sdp)) return;
  if (type === "OFFER") {
    if (pc.signalingState !== "stable") return; // only the dialling side offers; a stray one is ignored
    forwardCandidates(peer, conn, pc);
    await pc.setRemoteDescription({ type: "offer", sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    send(peer, conn, "ANSWER", pc.localDescription);
  } else if (pc.signalingState === "have-local-offer" && !callOfferPending(pc)) {
    await pc.setRemoteDescription({ type: "answer", sdp });
  }
}

/**
 * New candidates of a restart go to the other side as PeerJS CANDIDATE messages, which its PeerJS
 * adds to the open connection (PeerJS itself stops forwarding once ICE completed).
 */
function forwardCandidates(peer: PeerInternals, conn: DataConnection, pc: RTCPeerConnection): void {
  pc.onicecandidate = (e) => {
    if (e.candidate?.candidate)
      peer.socket.send({ type: "CANDIDATE", payload: { candidate: e.candidate, type: "data", connectionId: conn.connectionId }, dst: conn.peer });
  };
}

function send(peer: PeerInternals, conn: DataConnection, type: "OFFER" | "ANSWER", description: RTCSessionDescription | null): void {
  if (!description) return;
  peer.socket.send({
    type,
    payload: { sdp: { type: description.type, sdp: description.sdp }, type: "data", connectionId: conn.connectionId, restart: RESTART },
    dst: conn.peer,
  });
}

async function restartIce(peer: PeerInternals, conn: DataConnection): Promise<boolean> {
  const pc = conn.peerConnection;
  if (!pc || pc.signalingState === "closed") throw new Error("connection closed");
  return exclusive(pc, () => restartOnPc(peer, conn, pc));
}

async function restartOnPc(peer: PeerInternals, conn: DataConnection, pc: RTCPeerConnection): Promise<boolean> {
  // A restart whose answer never came is rolled back first, and the caller hears of it. A call's
  // offer still waiting is rolled back too (the call offers again once the link is back, core/calls).
  const unanswered = pc.signalingState === "have-local-offer" && !callOfferPending(pc);
  if (pc.signalingState === "have-local-offer") await pc.setLocalDescription({ type: "rollback" });
  restartOffered(pc);
  forwardCandidates(peer, conn, pc);
  await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
  send(peer, conn, "OFFER", pc.localDescription);
  return !unanswered;
}

/**
 * The file lane's data channel: negotiated (both sides create it with this id, no DCEP), so it
 * exists on every connection as soon as it opens, beside PeerJS's own channel (ids 0/1).
 */
const FILE_LANE_ID = 100;
const FILE_LANE_LOW = 256 * 1024;
/** Messages kept for a lane handler not set yet (the link is in its handshake); more are dropped. */
const FILE_LANE_EARLY = 256;

function fileLane(pc: RTCPeerConnection | undefined): FileLane {
  let dc: RTCDataChannel | null = null;
  try {
    dc = pc ? pc.createDataChannel("gc-files", { negotiated: true, id: FILE_LANE_ID, ordered: true }) : null;
  } catch {
    dc = null; // the connection closed already: sends throw, nothing arrives
  }
  const early: (string | ArrayBuffer)[] = [];
  let handler: ((data: string | ArrayBuffer) => void) | null = null;
  if (dc) {
    dc.binaryType = "arraybuffer";
    dc.bufferedAmountLowThreshold = FILE_LANE_LOW;
    dc.addEventListener("message", (e: MessageEvent<unknown>) => {
      const data = e.data;
      if (typeof data !== "string" && !(data instanceof ArrayBuffer)) return;
      if (handler) handler(data);
      else if (early.length < FILE_LANE_EARLY) early.push(data);
    });
  }
  return {
    send: (data) => {
      if (dc?.readyState !== "open") throw new Error("file lane not open");
      if (typeof data === "string") dc.send(data);
      else dc.send(data);
    },
    bufferedAmount: () => dc?.bufferedAmount ?? 0,
    onMessage: (h) => {
      handler = h;
      for (const d of early.splice(0)) h(d);
    },
    onLow: (h) => dc?.addEventListener("bufferedamountlow", () => h()),
  };
}

function wrap(conn: DataConnection, peer: PeerInternals): ChannelPort {
  const lane = fileLane(conn.peerConnection);
  return {
    fileLane: () => lane,
    remoteId: conn.peer,
    send: (data) => void conn.send(data),
    onData: (handler) => void conn.on("data", handler),
    onClose: (handler) => {
      let fired = false;
      const once = () => {
        if (!fired) {
          fired = true;
          handler();
        }
      };
      conn.on("close", once);
      conn.on("error", once);
    },
    onIceState: (handler) => void conn.on("iceStateChanged", handler),
    stats: async () => (conn.peerConnection ? conn.peerConnection.getStats() : null),
    readyState: () => conn.dataChannel?.readyState ?? "closed",
    restartIce: () => restartIce(peer, conn),
    media: () => (conn.peerConnection ? mediaPort(conn.peerConnection, sameRemoteCertificate) : null),
    fingerprints: () => {
      // The descriptions this side actually applied: our own certificate is the one in the local
      // one, and DTLS checked the remote certificate against the remote one — which must hold
      // exactly one SHA-256 line (sdpFingerprint), else null: with several lines Firefox accepts a
      // certificate matching any of them and Chromium the last. Where the browser reports the
      // certificate it accepted (Chromium), stats() carries it: see checkRemoteCertificate.
      const pc = conn.peerConnection;
      if (!pc) return null;
      return connectionFingerprints((pc.currentLocalDescription ?? pc.localDescription)?.sdp, (pc.currentRemoteDescription ?? pc.remoteDescription)?.sdp);
    },
    close: () => conn.close(),
  };
}
