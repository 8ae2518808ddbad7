import { PeerError, type ChannelPort, type PeerPort } from "../core/connection";

/** What `watchComeBack` listens to: the window and the document (or fakes, test/phone.test.ts). */
export interface ComeBackTargets {
  readonly window: EventTarget;
  readonly document: EventTarget & { readonly visibilityState: DocumentVisibilityState };
}

/**
 * Calls `back` whenever the page may have missed time: shown again (`visibilitychange` to visible),
 * restored from the back/forward cache (`pageshow` persisted), unfrozen (`resume`, Chromium's page
 * lifecycle; WebKit has no such event and only says `visibilitychange`), or the network is back
 * (`online`: `networkChanged`, the address may be new). Returns the unsubscribe.
 */
export function watchComeBack(back: (networkChanged: boolean) => void, targets: ComeBackTargets = { window, document }): () => void {
  const { window: win, document: doc } = targets;
  const shown = () => doc.visibilityState === "visible" && back(false);
  const restored = (e: Event) => (e as PageTransitionEvent).persisted && back(false);
  const unfrozen = () => back(false);
  const online = () => back(true);
  doc.addEventListener("visibilitychange", shown);
  doc.addEventListener("resume", unfrozen);
  win.addEventListener("pageshow", restored);
  win.addEventListener("online", online);
  return () => {
    doc.removeEventListener("visibilitychange", shown);
    doc.removeEventListener("resume", unfrozen);
    win.removeEventListener("pageshow", restored);
    win.removeEventListener("online", online);
  };
}

/**
 * The data channels of a room, checked when the page comes back. WebKit (iOS Safari) closes the data
 * channels of a page that spent a while in the background, in some versions without a `close` event,
 * so the room would go on sending into a dead channel until its timers noticed. `check()` looks at
 * each channel's `readyState` and closes every one that is no longer open: its close handlers run,
 * and the session drops the link and makes it again (redial, outbox resent) like any lost link.
 * Where a channel cannot tell its state (`readyState` absent), it is left to the session's own checks.
 */
export class ChannelCheck {
  private readonly channels = new Set<ChannelPort>();

  /** The signaling peer with its channels followed (incoming and dialled). */
  wrap(port: PeerPort): PeerPort {
    return followChannels(port, (channel) => {
      this.channels.add(channel);
      channel.onClose(() => this.channels.delete(channel));
      return channel;
    });
  }

  /** Closes the channels that died while the page was away; returns how many. */
  check(): number {
    let dead = 0;
    for (const channel of [...this.channels]) {
      const state = channel.readyState?.();
      if (state === undefined || state === "open") continue;
      dead++;
      this.channels.delete(channel);
      channel.close();
    }
    return dead;
  }

  /** Channels followed now (open or not yet noticed dead). */
  get size(): number {
    return this.channels.size;
  }
}

/**
 * `port` with every channel it opens (dialled or incoming) handed to `follow` first; the rest passes
 * through. `follow` may refuse a channel (null): it is closed, a dial fails with a network error and
 * an incoming one is not delivered. (The e2e test build's link cutter is made with it, too.)
 */
export function followChannels(port: PeerPort, follow: (channel: ChannelPort) => ChannelPort | null): PeerPort {
  const take = (channel: ChannelPort): ChannelPort | null => {
    const kept = follow(channel);
    if (!kept) channel.close();
    return kept;
  };
  return {
    open: () => port.open(),
    connect: async (remoteId, signal) => {
      const kept = take(await port.connect(remoteId, signal));
      if (!kept) throw new PeerError("network", `the channel to ${remoteId} was refused`);
      return kept;
    },
    onIncoming: (handler) =>
      port.onIncoming((channel) => {
        const kept = take(channel);
        if (kept) handler(kept);
      }),
    onDisconnected: (handler) => port.onDisconnected(handler),
    reconnect: () => port.reconnect(),
    refresh: port.refresh ? () => port.refresh?.() : undefined,
    destroy: () => port.destroy(),
  };
}
