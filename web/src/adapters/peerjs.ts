import { Peer, type DataConnection, type PeerError as PeerJsError } from "peerjs";
import { connectionFingerprints } from "../core/auth/fingerprint";
import { PeerError, type ChannelPort, type PeerErrorKind, type PeerPort } from "../core/connection/ports";

export interface PeerJsServer {
  host: string;
  port: number;
  path: string;
  key: string;
  secure: boolean;
}

const KNOWN: readonly PeerErrorKind[] = ["peer-unavailable", "unavailable-id", "invalid-key", "invalid-id", "network", "server-error", "socket-error", "browser-incompatible"];

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
 * The only module that touches PeerJS. Reliable, JSON-serialised data channels. With `identity`
 * the peer registers that id with that token; `onId` learns the id the server handed out otherwise.
 */
export function createPeerJsPort(server: PeerJsServer, iceServers: RTCIceServer[], identity?: PeerIdentity | { token: string }, network: { readonly relayOnly?: boolean } = {}): PeerPort {
  // relayOnly: "Try again through a relay", or the server's hint — TURN candidates only. PeerJS
  // keeps this object and hands it to every RTCPeerConnection it makes, which reads the members
  // then: the list (replaced in place on failover) and the policy are the current ones.
  const config = { iceServers } as RTCConfiguration;
  Object.defineProperty(config, "iceTransportPolicy", { enumerable: true, get: (): RTCIceTransportPolicy => (network.relayOnly ? "relay" : "all") });
  const options = { ...server, debug: 0, config, ...(identity ? { token: identity.token } : {}) };
  const peer = identity && "id" in identity ? new Peer(identity.id, options) : new Peer(options);
  const pendingConnects = new Map<string, Set<(e: PeerError) => void>>();
  let lastError: PeerError | null = null;

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
    connect: (remoteId) =>
      new Promise<ChannelPort>((resolve, reject) => {
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
          resolve(wrap(conn));
        });
        conn.once("error", (e) => fail(toError(e)));
        if (!conn) fail(lastError ?? new PeerError("other", "connect failed"));
      }),
    onIncoming: (handler) => {
      peer.on("connection", (conn) => {
        if (conn.open) handler(wrap(conn));
        else conn.once("open", () => handler(wrap(conn)));
      });
    },
    onDisconnected: (handler) => {
      peer.on("disconnected", () => handler());
    },
    reconnect: () =>
      new Promise<void>((resolve, reject) => {
        if (peer.destroyed) return reject(new PeerError("other", "peer destroyed"));
        const onOpen = () => { peer.off("error", onError); resolve(); };
        const onError = (e: PeerJsError<string>) => { peer.off("open", onOpen); reject(toError(e)); };
        peer.once("open", onOpen);
        peer.once("error", onError);
        peer.reconnect();
      }),
    destroy: () => peer.destroy(),
  };
}

function wrap(conn: DataConnection): ChannelPort {
  return {
    remoteId: conn.peer,
    send: (data) => void conn.send(data),
    onData: (handler) => void conn.on("data", handler),
    onClose: (handler) => {
      let fired = false;
      const once = () => { if (!fired) { fired = true; handler(); } };
      conn.on("close", once);
      conn.on("error", once);
    },
    onIceState: (handler) => void conn.on("iceStateChanged", handler),
    stats: async () => (conn.peerConnection ? conn.peerConnection.getStats() : null),
    fingerprints: () => {
      // The descriptions this side actually applied: DTLS checked the remote certificate against
      // the remote one, and our own certificate is the one in the local one.
      const pc = conn.peerConnection;
      if (!pc) return null;
      return connectionFingerprints((pc.currentLocalDescription ?? pc.localDescription)?.sdp, (pc.currentRemoteDescription ?? pc.remoteDescription)?.sdp);
    },
    close: () => conn.close(),
  };
}
