import { parseCandidate, type CandidateRecord, type GatherResult } from "../core/diagnostics";

/**
 * One ICE gathering with a data channel (one socket per interface); never rejects. Under the relay
 * policy it ends at the first relay candidate. Used by the diagnostics page and the ICE failover check.
 */
export function gather(servers: RTCIceServer[], policy: RTCIceTransportPolicy, timeoutMs: number): Promise<GatherResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const candidates: CandidateRecord[] = [];
    const errors: GatherResult["errors"] = [];
    let pc: RTCPeerConnection;
    try {
      pc = new RTCPeerConnection({ iceServers: servers, iceTransportPolicy: policy });
    } catch (e) {
      resolve({ candidates, errors: [{ url: null, errorCode: 0, errorText: e instanceof Error ? e.message : String(e) }], timedOut: false, durationMs: 0 });
      return;
    }
    let done = false;
    const finish = (timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      pc.close();
      resolve({ candidates, errors, timedOut, durationMs: performance.now() - started });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    pc.addEventListener("icecandidate", (e) => {
      if (!e.candidate) return finish(false);
      const c = e.candidate as RTCIceCandidate & { url?: string | null; relayProtocol?: string | null };
      const parsed = parseCandidate(c.candidate, c.url ?? null, c.relayProtocol ?? null);
      if (parsed) candidates.push(parsed);
      // A relay probe has its answer at the first relay candidate.
      if (parsed?.type === "relay" && policy === "relay") finish(false);
    });
    pc.addEventListener("icecandidateerror", (e) => {
      const ev = e as RTCPeerConnectionIceErrorEvent;
      errors.push({ url: ev.url || null, errorCode: ev.errorCode, errorText: ev.errorText ?? "" });
    });
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") finish(false);
    });
    pc.createDataChannel("diagnostics");
    pc.createOffer()
      .then((offer) => pc.setLocalDescription(offer))
      .catch((e: unknown) => {
        errors.push({ url: null, errorCode: 0, errorText: e instanceof Error ? e.message : String(e) });
        finish(false);
      });
  });
}
