import { isAuthFrame, type AuthOutcome, type AuthStep, type Handshake, type RefusalCode } from "../auth";
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
  | { phase: "failed"; reason: FailureReason; refusal?: RefusalCode; by?: "us" | "peer" };

/** `refused`: the invite handshake failed; `refusal` says why and `by` which side refused. */
/** `ice-failed`: the host was found but no network path opened (PeerJS never reported the peer unknown). */
export type FailureReason = "server-unreachable" | "server-refused" | "peer-unreachable" | "id-taken" | "room-full" | "refused" | "ice-failed";

export type AuthSuccess = Extract<AuthOutcome, { ok: true }>;
export type AuthFailure = Extract<AuthOutcome, { ok: false }>;

export interface SessionEvents extends Record<string, unknown> {
  status: SessionStatus;
  message: WireMessage;
  /** The handshake succeeded on a channel (emitted just before "connected"). */
  authenticated: AuthSuccess;
  /** Host: a joiner's handshake failed (the host keeps waiting for others). */
  refused: AuthFailure;
  /** An answer to `ping(seq)` arrived (app-level round trip for the quality indicator). */
  pong: number;
}

/** What the session needs of core/ice's IceFailover. */
export interface IceSource {
  /** The list peers are built with; replaced in place. */
  readonly servers: RTCIceServer[];
  /** The server asked for relay candidates only. */
  readonly relayOnly: boolean;
  load(options?: { relayOnly?: boolean }): Promise<void>;
  /** True when servers were replaced by others. */
  failover(): Promise<boolean>;
}

export interface SessionOptions {
  createPeer: PeerFactory;
  /** ICE servers (from /api/ice or settings); errors fall back to an empty list. Unused with `ice`. */
  loadIce?: () => Promise<RTCIceServer[]>;
  /**
   * ICE servers with failover across providers (core/ice): peers get its live list, a joiner whose
   * attempt failed asks it for servers without the ones that failed before trying again.
   */
  ice?: IceSource;
  backoff?: BackoffOptions;
  sleep?: (ms: number) => Promise<void>;
  /** How long one attempt to reach the server or the peer may take. */
  attemptTimeoutMs?: number;
  /** Use relay (TURN) candidates only ("Try again through a relay"). */
  relayOnly?: boolean;
  /**
   * The invite handshake run on every new channel before any chat frame is accepted; null when
   * the channel cannot be bound to its keys (it is then refused). Without it channels are used as is.
   */
  handshake?: (role: "host" | "join", channel: ChannelPort) => Handshake | null | Promise<Handshake | null>;
  /** How long the handshake may take. Default 20 s. */
  authTimeoutMs?: number;
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
  private authenticating = 0;

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
      if (this.channel !== null || this.authenticating > 0) {
        if (this.options.handshake) {
          channel.send({ t: "auth-refuse", reason: "busy" });
          setTimeout(() => channel.close(), CLOSE_AFTER_REFUSAL_MS);
        } else {
          channel.send({ t: "bye" });
          channel.close();
        }
        return;
      }
      if (!this.options.handshake) {
        this.attach(channel, () => this.setStatus({ phase: "peer-left" }));
        return;
      }
      void this.authenticate("host", channel).then((result) => {
        if (this.closed) return;
        if (result.ok) this.attach(channel, () => this.setStatus({ phase: "peer-left" }), result.route);
        else this.events.emit("refused", result);
      });
    });
    this.setStatus({ phase: "waiting", peerId: id });
    return id;
  }

  /** Joiner: connects to `hostId` with retries. */
  async join(hostId: string): Promise<void> {
    this.role = "join";
    const { peer } = await this.start();
    const timeout = this.options.attemptTimeoutMs ?? 10_000;
    let failure: unknown = null;
    try {
      const channel = await retry(
        async () => {
          // The host is there but no path opened: try servers without the ones that failed.
          const unknownPeer = failure instanceof PeerError && failure.kind === "peer-unavailable";
          if (failure !== null && !unknownPeer && this.options.ice) await this.options.ice.failover().catch(() => false);
          try {
            return await withTimeout(peer.connect(hostId), timeout, "peer connection");
          } catch (error) {
            failure = error;
            throw error;
          }
        },
        {
          ...this.options.backoff,
          sleep: this.options.sleep,
          signal: this.abort.signal,
          onAttempt: (attempt, total) => this.setStatus({ phase: "connecting", attempt, total }),
          onRetry: (_n, delay) => this.setStatus({ phase: "connecting-retry", retryInMs: delay }),
        },
      );
      if (!this.options.handshake) {
        this.attach(channel, () => this.setStatus({ phase: "peer-left" }));
        return;
      }
      const result = await this.authenticate("join", channel);
      if (this.closed) return;
      if (result.ok) this.attach(channel, () => this.setStatus({ phase: "peer-left" }), result.route);
      else {
        this.setStatus({ phase: "failed", reason: result.reason === "busy" ? "room-full" : "refused", refusal: result.reason, by: result.by });
        throw new HandshakeFailedError(result);
      }
    } catch (error) {
      if (this.closed) return;
      if (error instanceof HandshakeFailedError) throw error;
      const last = error instanceof RetriesExhaustedError ? error.lastError : error;
      const unknownPeer = last instanceof PeerError && last.kind === "peer-unavailable";
      this.setStatus({ phase: "failed", reason: unknownPeer ? "peer-unreachable" : "ice-failed" });
      throw error;
    }
  }

  /** Stats of the open channel's connection, or null. */
  async stats(): Promise<RTCStatsReport | null> {
    return (await this.channel?.stats?.()) ?? null;
  }

  /** Sends an app-level ping; the peer answers and `pong` fires with `seq`. */
  ping(seq: number): boolean {
    if (!this.channel) return false;
    this.channel.send({ t: "ping", s: seq });
    return true;
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
    // filled when they arrive, and no connection is made before (start() awaits them). The relay
    // policy is read when each connection is made, so the server's relay-only hint applies too.
    const network = { relayOnly: this.options.relayOnly === true };
    const source = this.options.ice;
    const ice: RTCIceServer[] = source ? source.servers : [];
    const iceReady = source
      ? source.load({ relayOnly: network.relayOnly }).then(
          () => void (network.relayOnly ||= source.relayOnly),
          () => undefined, // no ICE servers: host candidates still work on one network
        )
      : (this.options.loadIce?.() ?? Promise.resolve([])).then(
          (servers) => void ice.push(...servers),
          () => undefined,
        );
    const opened = await this.openSignaling(ice, network);
    await iceReady;
    return opened;
  }

  private async openSignaling(ice: RTCIceServer[], network: { relayOnly: boolean }): Promise<{ peer: PeerPort; id: string }> {
    const timeout = this.options.attemptTimeoutMs ?? 10_000;
    try {
      return await retry(
        async () => {
          const peer = this.options.createPeer(ice, network);
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

  /**
   * Runs the handshake on a new channel. Frames arrive through one router: handshake frames go to
   * the state machine (one at a time, in order), chat frames that arrive meanwhile wait and are
   * replayed once the channel is accepted. On failure the refusal is sent and the channel closed.
   */
  private authenticate(role: "host" | "join", channel: ChannelPort): Promise<(AuthSuccess & { route: Router }) | AuthFailure> {
    this.authenticating++;
    const route = new Router(channel);
    return new Promise((resolve) => {
      let finished = false;
      let chain = Promise.resolve();
      const finish = (outcome: AuthOutcome) => {
        if (finished) return;
        finished = true;
        this.authenticating--;
        clearTimeout(timer);
        if (outcome.ok) {
          this.events.emit("authenticated", outcome);
          resolve({ ...outcome, route });
        } else {
          route.sink = () => undefined;
          setTimeout(() => channel.close(), CLOSE_AFTER_REFUSAL_MS);
          resolve(outcome);
        }
      };
      const apply = (step: AuthStep) => {
        if (finished) return;
        for (const m of step.send) channel.send(m);
        if (step.outcome) finish(step.outcome);
      };
      const timer = setTimeout(() => finish({ ok: false, reason: "timeout", by: "us" }), this.options.authTimeoutMs ?? 20_000);
      const protocolError = () => apply({ send: [{ t: "auth-refuse", reason: "protocol" }], outcome: { ok: false, reason: "protocol", by: "us" } });
      // The factory may take a moment (it may wait for the connection's descriptions): frames that
      // arrive meanwhile queue on the chain behind it.
      const made = Promise.resolve()
        .then(() => this.options.handshake?.(role, channel) ?? null)
        .catch(() => null);
      chain = made.then((handshake) => {
        if (handshake === null) apply({ send: [{ t: "auth-refuse", reason: "auth-failed" }], outcome: { ok: false, reason: "auth-failed", by: "us" } });
        else apply(handshake.start());
      });
      route.sink = (data) => {
        if (!isAuthFrame(data)) {
          route.hold(data);
          return;
        }
        chain = chain
          .then(() => made)
          .then((handshake) => (finished || !handshake ? undefined : handshake.receive(data).then(apply)))
          .catch(protocolError);
      };
      channel.onClose(() => finish({ ok: false, reason: "timeout", by: "peer" }));
    });
  }

  private attach(channel: ChannelPort, onLeft: () => void, route?: Router): void {
    this.channel = channel;
    let left = false;
    const leave = () => {
      if (left || this.channel !== channel) return;
      left = true;
      this.channel = null;
      if (!this.closed) onLeft();
    };
    const onData = (data: unknown) => {
      if (route && isAuthFrame(data)) {
        // After acceptance the only handshake frame that matters is the joiner's late refusal
        // (it could not verify the host's proof): the channel is not trusted, drop it.
        const reason = (data as { reason?: unknown }).reason;
        if ((data as { t: string }).t === "auth-refuse" && this.channel === channel) {
          this.channel = null;
          left = true;
          channel.close();
          this.events.emit("refused", { ok: false, reason: reason === "auth-failed" || reason === "replay" ? reason : "protocol", by: "peer" });
          if (!this.closed && this.role === "host" && this.ownId !== null) this.setStatus({ phase: "waiting", peerId: this.ownId });
        }
        return;
      }
      const probe = pingFrame(data);
      if (probe) {
        if (probe.t === "ping") channel.send({ t: "pong", s: probe.s });
        else this.events.emit("pong", probe.s);
        return;
      }
      const wire = decodeWire(data);
      if (!wire) return; // malformed frames from the peer are ignored
      if (wire.t === "bye") {
        leave();
        channel.close();
        return;
      }
      this.events.emit("message", wire);
    };
    if (route) route.attach(onData);
    else channel.onData(onData);
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

/** Refusals are sent, then the channel is closed a little later so the refusal gets out first. */
const CLOSE_AFTER_REFUSAL_MS = 400;

/** One data handler per channel whose target changes from the handshake to the chat. */
class Router {
  sink: (data: unknown) => void = (data) => this.held.push(data);
  private readonly held: unknown[] = [];
  constructor(channel: ChannelPort) {
    channel.onData((data) => this.sink(data));
  }
  /** Keeps a frame that arrived before the channel was accepted (bounded: the rest are dropped). */
  hold(data: unknown): void {
    if (this.held.length < 256) this.held.push(data);
  }
  /** Hands held frames, then every later one, to the chat handler. */
  attach(handler: (data: unknown) => void): void {
    this.sink = handler;
    for (const d of this.held.splice(0)) handler(d);
  }
}

export class HandshakeFailedError extends Error {
  constructor(readonly outcome: AuthFailure) {
    super(`handshake refused: ${outcome.reason} (${outcome.by})`);
    this.name = "HandshakeFailedError";
  }
}

class FatalError extends Error {
  constructor(readonly reason: FailureReason) {
    super(reason);
  }
}

/** `{t:"ping"|"pong", s:<uint>}` frames of the quality indicator; anything else is null. */
function pingFrame(data: unknown): { t: "ping" | "pong"; s: number } | null {
  if (typeof data !== "object" || data === null) return null;
  const d = data as { t?: unknown; s?: unknown };
  if ((d.t !== "ping" && d.t !== "pong") || typeof d.s !== "number" || !Number.isSafeInteger(d.s) || d.s < 0) return null;
  return { t: d.t, s: d.s };
}
