import type { ChannelFingerprints } from "../auth/fingerprint";

/**
 * The seam between our logic and PeerJS/WebRTC: the session only sees these two interfaces, so it
 * is unit-tested with fakes and the PeerJS adapter is the only module that imports `peerjs`.
 */
export interface ChannelPort {
  readonly remoteId: string;
  send(data: unknown): void;
  onData(handler: (data: unknown) => void): void;
  /** Fires once when the channel closed (either side, or the connection died). */
  onClose(handler: () => void): void;
  /** ICE connection state of the underlying RTCPeerConnection. */
  onIceState(handler: (state: RTCIceConnectionState) => void): void;
  /**
   * The DTLS certificate fingerprints of the connection as this side used them (local and remote
   * SDP), for the invite handshake; null when they cannot be read.
   */
  fingerprints?(): ChannelFingerprints | null;
  /**
   * Restarts ICE on this connection (new candidates, same DTLS): the offer and answer travel over the
   * signaling server and are applied only if they name the certificates already in use. Resolves
   * false when the previous restart's offer was never answered (the other side no longer has this
   * connection, or its messages were lost). Absent where the transport cannot; the session then
   * redials instead.
   */
  restartIce?(): Promise<boolean>;
  /** The underlying connection's `getStats()` (quality indicator, the remote certificate check); null when unavailable. */
  stats?(): Promise<RTCStatsReport | null>;
  /**
   * The data channel's `readyState` now. WebKit can close the channels of a page that was in the
   * background without a `close` event; the UI reads this when the page comes back (ui/resume.ts).
   */
  readyState?(): "connecting" | "open" | "closing" | "closed";
  /** Media on this same connection (calls); absent where the transport has none. */
  media?(): MediaPort | null;
  /** The link's file lane: a binary data channel of its own on this same connection (docs/protocol.md, "Files"). */
  fileLane?(): FileLane;
  close(): void;
}

/**
 * Audio and video on the RTCPeerConnection of one authenticated link (core/calls). Its offers and
 * answers travel over that link's data channel; only the side that dialled the link offers.
 * Every remote description is applied only when it names the certificate the connection already
 * uses (the one the handshake bound), else it is refused (false / null).
 */
export interface MediaPort {
  /** Adds the audio and video transceivers if missing and sets a local offer; null when another negotiation is under way. */
  offer(): Promise<string | null>;
  /** Applies a remote offer and sets the answer, sending on both transceivers; null when refused or busy. */
  answer(sdp: string): Promise<string | null>;
  /** Applies the answer to our offer; false when refused or not expected. */
  accept(sdp: string): Promise<boolean>;
  /** Drops our offer that was never answered. */
  rollback(): Promise<void>;
  /** What this side sends (null: nothing) on the audio and video transceivers; no renegotiation. */
  send(audio: MediaStreamTrack | null, video: MediaStreamTrack | null): Promise<void>;
  /** The tracks this side receives now (audio, video), once negotiated. */
  received(): MediaStreamTrack[];
  /** Caps what the video sender sends (core/calls/adapt); absent fields are left uncapped. */
  limitVideo?(limit: { maxBitrate?: number; scaleResolutionDownBy?: number; active: boolean }): Promise<void>;
}

/**
 * A binary data channel beside the chat channel, on the same RTCPeerConnection (so the same DTLS
 * and the link's handshake cover it): files move here, so chat messages are not queued behind file data.
 */
export interface FileLane {
  /** Throws when the channel is not open. */
  send(data: string | ArrayBuffer): void;
  bufferedAmount(): number;
  /** Messages received before a handler is set wait for it (a few, bounded). */
  onMessage(handler: (data: string | ArrayBuffer) => void): void;
  /** The buffered amount fell to the channel's low mark. */
  onLow(handler: () => void): void;
}

export type PeerErrorKind =
  "peer-unavailable" | "unavailable-id" | "invalid-key" | "invalid-id" | "network" | "server-error" | "socket-error" | "browser-incompatible" | "other";

export class PeerError extends Error {
  constructor(
    readonly kind: PeerErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "PeerError";
  }
}

export interface PeerPort {
  /** Resolves with this peer's id once the signaling server accepted it. */
  open(): Promise<string>;
  /**
   * Resolves when a data channel to `remoteId` is open. When `signal` aborts first (the caller gave
   * up waiting), the attempt is torn down — its connection closed, its TURN allocations released —
   * and the promise rejects.
   */
  connect(remoteId: string, signal?: AbortSignal): Promise<ChannelPort>;
  /** Incoming channels, delivered once open. */
  onIncoming(handler: (channel: ChannelPort) => void): void;
  /** The signaling socket dropped (data channels may live on). */
  onDisconnected(handler: () => void): void;
  reconnect(): Promise<void>;
  /**
   * Drops the signaling socket so that it is opened again (same id and token): after an address
   * change the old socket is dead, and only TCP's timeouts, minutes later, would notice. The peer
   * then reports "disconnected" like any lost socket.
   */
  refresh?(): void;
  destroy(): void;
}

/**
 * `iceServers` and `options` are live: a connection made later uses their contents at that time
 * (the list is replaced in place on failover, `relayOnly` may turn on when the server asks for it).
 */
export type PeerFactory = (iceServers: RTCIceServer[], options?: { readonly relayOnly?: boolean }) => PeerPort | Promise<PeerPort>;
