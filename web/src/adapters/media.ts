import type { MediaPort } from "../core/connection/ports";

/**
 * Calls on the RTCPeerConnection that carries a room link's authenticated data channel (PeerJS's
 * `DataConnection.peerConnection`). PeerJS 1.5.5 sets no `onnegotiationneeded` handler and its
 * `ontrack` handler acts only for its own MediaConnections, so neither touches what is done here;
 * we listen with addEventListener and negotiate explicitly (core/calls).
 *
 * One negotiation at a time per connection: the call's offers and answers and the ICE restarts of
 * peerjs.ts (the same connection's offer/answer over the signaling server) run one after the other
 * through `exclusive`. Only the side that dialled the link makes either kind of offer.
 */

interface PcState {
  chain: Promise<unknown>;
  /**
   * Our call offer awaits its answer (an ICE restart's offer is not one). A flag, not the SDP: the
   * browser adds gathered candidates to `localDescription`, so its text changes.
   */
  mediaOffer: boolean;
  port: MediaPort | null;
}

const states = new WeakMap<RTCPeerConnection, PcState>();

function stateOf(pc: RTCPeerConnection): PcState {
  let s = states.get(pc);
  if (!s) states.set(pc, (s = { chain: Promise.resolve(), mediaOffer: false, port: null }));
  return s;
}

/** Runs `fn` once every earlier negotiation step on `pc` has ended. */
export function exclusive<T>(pc: RTCPeerConnection, fn: () => Promise<T>): Promise<T> {
  const s = stateOf(pc);
  const run = s.chain.then(fn, fn);
  s.chain = run.catch(() => undefined);
  return run;
}

/** True while our call offer awaits its answer: an ICE restart answer must not be applied to it. */
export function callOfferPending(pc: RTCPeerConnection): boolean {
  const s = states.get(pc);
  return !!s?.mediaOffer && pc.signalingState === "have-local-offer";
}

/** An ICE restart (peerjs.ts) replaced whatever offer was pending with its own. */
export function restartOffered(pc: RTCPeerConnection): void {
  stateOf(pc).mediaOffer = false;
}

type Kind = "audio" | "video";

function transceiver(pc: RTCPeerConnection, kind: Kind): RTCRtpTransceiver | null {
  return pc.getTransceivers().find((t) => t.currentDirection !== "stopped" && t.receiver.track.kind === kind) ?? null;
}

/**
 * The call port of `pc` (one per connection: a redial gives a new one). `sameCertificate` is the
 * adapter's check that a description names the certificate the connection uses now.
 */
export function mediaPort(pc: RTCPeerConnection, sameCertificate: (pc: RTCPeerConnection, sdp: string) => boolean): MediaPort {
  const s = stateOf(pc);
  if (s.port) return s.port;
  let audio: MediaStreamTrack | null = null;
  let video: MediaStreamTrack | null = null;
  /** The adaptation's last word on video (core/calls/adapt): paused when false. */
  let videoAllowed = true;
  /**
   * Encodings on only while there is a track to send (and, for video, the adaptation allows it):
   * Firefox goes on sending a black frame a second after `replaceTrack(null)`.
   */
  const setActive = async (sender: RTCRtpSender, active: boolean) => {
    const p = sender.getParameters();
    if (!p.encodings?.length || p.encodings.every((e) => e.active === active)) return;
    for (const e of p.encodings) e.active = active;
    await sender.setParameters(p);
  };
  const attach = async () => {
    for (const [kind, track] of [
      ["audio", audio],
      ["video", video],
    ] as const) {
      const t = transceiver(pc, kind);
      if (!t) continue;
      if (t.direction !== "sendrecv") t.direction = "sendrecv";
      if (t.sender.track !== track) await t.sender.replaceTrack(track);
      await setActive(t.sender, track !== null && (kind === "audio" || videoAllowed));
    }
  };
  const limit: NonNullable<MediaPort["limitVideo"]> = async ({ maxBitrate, scaleResolutionDownBy, active }) => {
    const sender = transceiver(pc, "video")?.sender;
    if (!sender) return;
    videoAllowed = active;
    const p = sender.getParameters();
    if (!p.encodings?.length) return; // not negotiated yet
    for (const e of p.encodings) {
      e.active = active && video !== null;
      if (maxBitrate === undefined) delete e.maxBitrate;
      else e.maxBitrate = maxBitrate;
      if (scaleResolutionDownBy === undefined) delete e.scaleResolutionDownBy;
      else e.scaleResolutionDownBy = scaleResolutionDownBy;
    }
    await sender.setParameters(p);
  };
  const port: MediaPort = {
    offer: () =>
      exclusive(pc, async () => {
        if (pc.signalingState !== "stable") return null; // an ICE restart awaits its answer
        for (const kind of ["audio", "video"] as const) if (!transceiver(pc, kind)) pc.addTransceiver(kind, { direction: "sendrecv" });
        await attach();
        await pc.setLocalDescription(await pc.createOffer());
        s.mediaOffer = true;
        return pc.localDescription?.sdp ?? null;
      }),
    answer: (sdp) =>
      exclusive(pc, async () => {
        if (pc.signalingState !== "stable" || !sameCertificate(pc, sdp)) return null;
        await pc.setRemoteDescription({ type: "offer", sdp });
        await attach();
        await pc.setLocalDescription(await pc.createAnswer());
        return pc.localDescription?.sdp ?? null;
      }),
    accept: (sdp) =>
      exclusive(pc, async () => {
        if (!callOfferPending(pc) || !sameCertificate(pc, sdp)) return false;
        s.mediaOffer = false;
        await pc.setRemoteDescription({ type: "answer", sdp });
        return true;
      }),
    rollback: () =>
      exclusive(pc, async () => {
        if (callOfferPending(pc)) await pc.setLocalDescription({ type: "rollback" });
        s.mediaOffer = false;
      }),
    send: async (a, v) => {
      audio = a;
      video = v;
      await exclusive(pc, attach);
    },
    received: () =>
      pc
        .getTransceivers()
        .filter((t) => t.currentDirection !== "stopped" && (t.currentDirection === "sendrecv" || t.currentDirection === "recvonly"))
        .map((t) => t.receiver.track),
    limitVideo: (l) => exclusive(pc, () => limit(l)),
  };
  s.port = port;
  return port;
}
