import { PeerError, type ChannelPort, type PeerPort } from "../src/core/connection/ports";

/**
 * A network cut between this page and one member, made under the session (the test build only):
 * the channels to that member close as if the path died, and new ones cannot open until restored.
 * The session is not told; it notices and recovers as it would after a real cut.
 */
export class LinkCutter {
  private readonly cuts = new Set<string>();
  private readonly channels = new Set<ChannelPort>();

  wrap(port: PeerPort): PeerPort {
    const track = (channel: ChannelPort): ChannelPort => {
      this.channels.add(channel);
      channel.onClose(() => this.channels.delete(channel));
      return channel;
    };
    return {
      open: () => port.open(),
      connect: async (remoteId, signal) => {
        if (this.cuts.has(remoteId)) throw new PeerError("network", `no path to ${remoteId} (cut by the test)`);
        const channel = await port.connect(remoteId, signal);
        if (this.cuts.has(remoteId)) {
          channel.close();
          throw new PeerError("network", `no path to ${remoteId} (cut by the test)`);
        }
        return track(channel);
      },
      onIncoming: (handler) =>
        port.onIncoming((channel) => {
          if (this.cuts.has(channel.remoteId)) channel.close();
          else handler(track(channel));
        }),
      onDisconnected: (handler) => port.onDisconnected(handler),
      reconnect: () => port.reconnect(),
      refresh: port.refresh ? () => port.refresh?.() : undefined,
      destroy: () => port.destroy(),
    };
  }

  /** The link to `peer` dies (it is redialled as usual). */
  fail(peer: string): void {
    for (const c of [...this.channels]) if (c.remoteId === peer) c.close();
  }

  /** No path to `peer` until `restore`. */
  cut(peer: string): void {
    this.cuts.add(peer);
    this.fail(peer);
  }

  restore(peer: string): void {
    this.cuts.delete(peer);
  }
}
