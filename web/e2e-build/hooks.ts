import type { MeshRoom, MeshSession } from "../src/core/room";
import type { LinkCutter } from "./links";

/** What the e2e suite and bench/browser/mesh.mjs read and do through `window.__ghostchatMesh`. */
export function exposeRoom(session: MeshSession, links: LinkCutter): void {
  const arrivals: { text: string; at: number }[] = [];
  let room: MeshRoom | null = null;
  session.events.on("room", (r) => {
    room = r;
    r.events.on("message", (m) => arrivals.push({ text: m.text, at: performance.timeOrigin + performance.now() }));
  });
  (window as unknown as { __ghostchatMesh: unknown }).__ghostchatMesh = {
    arrivals: () => arrivals,
    now: () => performance.timeOrigin + performance.now(),
    fail: (peer: string) => links.fail(peer),
    id: () => session.id,
    members: () => room?.members() ?? [],
    links: () => session.connectedPeers,
    cut: (peer: string) => links.cut(peer),
    restore: (peer: string) => links.restore(peer),
    send: (text: string) => room?.send(text) ?? null,
    stats: () => room?.stats ?? null,
    /** The inbound and outbound RTP entries of the connection to `peer`, and the sources it sends (calls). */
    rtp: async (peer: string) =>
      [...((await session.stats(peer))?.values() ?? [])].filter(
        (s: { type: string }) => s.type === "inbound-rtp" || s.type === "outbound-rtp" || s.type === "media-source",
      ) as unknown[],
    pending: () => [...(room?.roster.members.keys() ?? [])].reduce((n, id) => n + (room?.pendingFor(id) ?? 0), 0),
  };
}
