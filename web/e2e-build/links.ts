import { PeerError, type ChannelPort, type PeerPort } from "../src/core/connection/ports";
import { followChannels } from "../src/ui/resume";

/**
 * A network cut between this page and one member, made under the session (the test build only):
 * the channels to that member close as if the path died, and new ones cannot open until restored.
 * The session is not told; it notices and recovers as it would after a real cut.
 */
export class LinkCutter {
  private readonly cuts = new Set<string>();
  private readonly channels = new Set<ChannelPort>();

  wrap(port: PeerPort): PeerPort {
    const followed = followChannels(port, (channel) => {
      if (this.cuts.has(channel.remoteId)) return null; // closed; a dial fails with a network error
      this.channels.add(channel);
      channel.onClose(() => this.channels.delete(channel));
      return channel;
    });
    return {
      ...followed,
      connect: async (remoteId, signal) => {
        if (this.cuts.has(remoteId)) throw new PeerError("network", `no path to ${remoteId} (cut by the test)`);
        return followed.connect(remoteId, signal);
      },
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
