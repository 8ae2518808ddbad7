import type { MeshRoom, MeshSession } from "../src/core/room";
import type { LinkCutter } from "./links";

/** What the e2e suite and bench/browser/mesh.mjs read and do through `window.__ghostchatMesh`. */
export function exposeRoom(session: MeshSession, links: LinkCutter): void {
  const arrivals: { text: string; at: number }[] = [];
  const refusals: { from: string; reason: string }[] = [];
  const callFrames: { from: string; k: string; n: number | null }[] = [];
  let room: MeshRoom | null = null;
  session.events.on("room", (r) => {
    room = r;
    r.events.on("message", (m) => arrivals.push({ text: m.text, at: performance.timeOrigin + performance.now() }));
    r.events.on("refused", (x) => void refusals.push({ from: x.from, reason: x.reason }));
    r.events.on("call", ({ from, frame }) => void callFrames.push({ from, k: frame.k, n: "n" in frame ? frame.n : null }));
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
    /** Call frames the room took (valid, from a direct link), oldest first. */
    callFrames: () => callFrames,
    /** Frames the room refused (malformed, too large, …), oldest first. */
    refusals: () => refusals,
    /**
     * The certificates the handshake of the link to `peer` bound ("sha-256 AB:…") and whether this
     * side dialled it (the dialling side makes the call's offers); null while it is not up.
     */
    link: (peer: string) => {
      const m = session.media(peer);
      return m ? { ...m.bound, dialled: m.dialled } : null;
    },
    /** Tracks the link's connection receives now: 0 until a call was negotiated on it. */
    received: (peer: string) => session.media(peer)?.port.received().length ?? 0,
    pending: () => [...(room?.roster.members.keys() ?? [])].reduce((n, id) => n + (room?.pendingFor(id) ?? 0), 0),
  };
}
