import { Emitter } from "../emitter";
import { decodeWire, type WireMessage } from "../delivery/wire";
import { retry, withTimeout, RetriesExhaustedError, type BackoffOptions } from "./backoff";
import { PeerError, type ChannelPort, type PeerFactory, type PeerPort } from "./ports";

export type SessionStatus =
  | { phase: "idle" }
  | { phase: "ice" }
  | { phase: "signaling"; attempt: number; total: number }
  | { phase: "signaling-retry"; retryInMs: number }
  | { phase: "waiting"; peerId: string }
  | { phase: "connecting"; attempt: number; total: number }
  | { phase: "connecting-retry"; retryInMs: number }
  | { phase: "connected" }
  | { phase: "reconnecting" }
  | { phase: "server-lost" }
  | { phase: "peer-left" }
  | { phase: "failed"; reason: FailureReason };

export type FailureReason = "server-unreachable" | "server-refused" | "peer-unreachable" | "id-taken" | "room-full";

export interface SessionEvents extends Record<string, unknown> {
  status: SessionStatus;
  message: WireMessage;
}

export interface SessionOptions {
  createPeer: PeerFactory;
  /** ICE servers (from /api/ice or settings); errors fall back to an empty list. */
  loadIce: () => Promise<RTCIceServer[]>;
  backoff?: BackoffOptions;
  sleep?: (ms: number) => Promise<void>;
  /** How long one attempt to reach the server or the peer may take. */
  attemptTimeoutMs?: number;
}

/**
 * One 1:1 chat session: reach the signaling server, then host (wait for one peer) or join (connect
 * to the host), with retries and a status at every step. Frames are validated before they are emitted.
 */
export class ChatSession {
  readonly events = new Emitter<SessionEvents>();
  private peer: PeerPort | null = null;
  private channel: ChannelPort | null = null;
  private status: SessionStatus = { phase: "idle" };
  private closed = false;
  private readonly abort = new AbortController();
  private ownId: string | null = null;
  private role: "host" | "join" | null = null;

  constructor(private readonly options: SessionOptions) {}

  get current(): SessionStatus {
    return this.status;
  }

  get connected(): boolean {
    return this.channel !== null;
  }

  /** Host: returns this side's peer id once the server accepted it; the peer joins later. */
  async host(): Promise<string> {
    this.role = "host";
    const { peer, id } = await this.start();
    this.ownId = id;
    peer.onIncoming((channel) => {
      if (this.channel !== null) {
        channel.send({ t: "bye" });
        channel.close();
        return;
      }
      this.attach(channel, () => this.setStatus({ phase: "peer-left" }));
    });
    this.setStatus({ phase: "waiting", peerId: id });
    return id;
  }

  /** Joiner: connects to `hostId` with retries. */
  async join(hostId: string): Promise<void> {
    this.role = "join";
    const { peer } = await this.start();
    const timeout = this.options.attemptTimeoutMs ?? 10_000;
    try {
      const channel = await retry(
        async () => withTimeout(peer.connect(hostId), timeout, "peer connection"),
        {
          ...this.options.backoff,
          sleep: this.options.sleep,
          signal: this.abort.signal,
          onAttempt: (attempt, total) => this.setStatus({ phase: "connecting", attempt, total }),
          onRetry: (_n, delay) => this.setStatus({ phase: "connecting-retry", retryInMs: delay }),
        },
      );
      this.attach(channel, () => this.setStatus({ phase: "peer-left" }));
    } catch (error) {
      if (this.closed) return;
      this.setStatus({ phase: "failed", reason: "peer-unreachable" });
      throw error;
    }
  }

  send(message: WireMessage): boolean {
    if (!this.channel) return false;
    this.channel.send(message);
    return true;
  }

  /** Leaves: tells the peer, closes the channel and the signaling connection. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort(new Error("session closed"));
    try {
      this.channel?.send({ t: "bye" });
    } catch {
      // channel already gone
    }
    this.channel?.close();
    this.channel = null;
    this.peer?.destroy();
    this.peer = null;
    this.setStatus({ phase: "idle" });
  }

  private async start(): Promise<{ peer: PeerPort; id: string }> {
    this.setStatus({ phase: "ice" });
    // ICE servers load while the signaling connection opens: the array handed to the peer is
    // filled when they arrive, and no connection is made before (start() awaits them).
    const ice: RTCIceServer[] = [];
    const iceReady = this.options.loadIce().then(
      (servers) => void ice.push(...servers),
      () => undefined, // no ICE servers: host candidates still work on one network
    );
    const opened = await this.openSignaling(ice);
    await iceReady;
    return opened;
  }

  private async openSignaling(ice: RTCIceServer[]): Promise<{ peer: PeerPort; id: string }> {
    const timeout = this.options.attemptTimeoutMs ?? 10_000;
    try {
      return await retry(
        async () => {
          const peer = this.options.createPeer(ice);
          try {
            const id = await withTimeout(peer.open(), timeout, "signaling");
            this.peer = peer;
            peer.onDisconnected(() => void this.onSignalingLost());
            return { peer, id };
          } catch (error) {
            peer.destroy();
            if (error instanceof PeerError && error.kind === "unavailable-id") throw new FatalError("id-taken");
            if (error instanceof PeerError && (error.kind === "invalid-key" || error.kind === "invalid-id")) throw new FatalError("server-refused");
            throw error;
          }
        },
        {
          ...this.options.backoff,
          sleep: this.options.sleep,
          signal: this.abort.signal,
          shouldRetry: (error) => !(error instanceof FatalError),
          onAttempt: (attempt, total) => this.setStatus({ phase: "signaling", attempt, total }),
          onRetry: (_n, delay) => this.setStatus({ phase: "signaling-retry", retryInMs: delay }),
        },
      );
    } catch (error) {
      const reason = error instanceof RetriesExhaustedError && error.lastError instanceof FatalError ? error.lastError.reason : "server-unreachable";
      this.setStatus({ phase: "failed", reason });
      throw error;
    }
  }

  private attach(channel: ChannelPort, onLeft: () => void): void {
    this.channel = channel;
    let left = false;
    const leave = () => {
      if (left || this.channel !== channel) return;
      left = true;
      this.channel = null;
      if (!this.closed) onLeft();
    };
    channel.onData((data) => {
      const wire = decodeWire(data);
      if (!wire) return; // malformed frames from the peer are ignored
      if (wire.t === "bye") {
        leave();
        channel.close();
        return;
      }
      this.events.emit("message", wire);
    });
    channel.onClose(leave);
    channel.onIceState((state) => {
      if (this.channel !== channel) return;
      if (state === "disconnected") this.setStatus({ phase: "reconnecting" });
      else if ((state === "connected" || state === "completed") && this.status.phase === "reconnecting") this.setStatus({ phase: "connected" });
      else if (state === "failed" || state === "closed") leave();
    });
    this.setStatus({ phase: "connected" });
  }

  private async onSignalingLost(): Promise<void> {
    if (this.closed || !this.peer) return;
    const peer = this.peer;
    const wasConnected = this.channel !== null;
    if (!wasConnected) this.setStatus({ phase: "server-lost" });
    try {
      await retry(() => peer.reconnect(), { ...this.options.backoff, sleep: this.options.sleep, signal: this.abort.signal });
      if (!this.closed && !this.channel && this.status.phase === "server-lost") {
        this.setStatus(this.role === "host" && this.ownId !== null ? { phase: "waiting", peerId: this.ownId } : { phase: "peer-left" });
      }
    } catch {
      if (!this.closed && !this.channel) this.setStatus({ phase: "failed", reason: "server-unreachable" });
    }
  }

  private setStatus(status: SessionStatus): void {
    this.status = status;
    this.events.emit("status", status);
  }
}

class FatalError extends Error {
  constructor(readonly reason: FailureReason) {
    super(reason);
  }
}
