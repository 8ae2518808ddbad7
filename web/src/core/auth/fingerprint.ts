/**
 * DTLS certificate fingerprints as each side actually used them: read from the `a=fingerprint`
 * lines of the local and remote SDP of the RTCPeerConnection that carries the data channel.
 */

/** Longest fingerprint line we accept (SHA-512 is 64 bytes = 191 hex characters with colons). */
const MAX_FINGERPRINT = 200;
const LINE = /^a=fingerprint:([A-Za-z0-9-]{1,16}) ([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){15,63})\s*$/;

/** Normal form: lower-case algorithm, one space, upper-case hex pairs with colons. */
export function normalizeFingerprint(algorithm: string, hex: string): string {
  return `${algorithm.toLowerCase()} ${hex.toUpperCase()}`;
}

export type FingerprintResult = { ok: true; fingerprint: string } | { ok: false; error: "none" | "ambiguous" | "malformed" };

/**
 * The one SHA-256 fingerprint an SDP carries. Every `a=fingerprint` line (session or media level)
 * is read; a description with none, with a malformed one, or with two different SHA-256
 * fingerprints is refused: we bind to exactly the certificate DTLS checks.
 */
export function sdpFingerprint(sdp: string): FingerprintResult {
  if (typeof sdp !== "string") return { ok: false, error: "malformed" };
  const found = new Set<string>();
  for (const raw of sdp.split(/\r?\n/)) {
    if (!raw.startsWith("a=fingerprint:")) continue;
    if (raw.length > MAX_FINGERPRINT + 20) return { ok: false, error: "malformed" };
    const m = LINE.exec(raw);
    if (!m) return { ok: false, error: "malformed" };
    const algorithm = m[1]!.toLowerCase();
    if (algorithm !== "sha-256") continue; // other hashes of the same certificate add nothing
    if (m[2]!.length !== 32 * 3 - 1) return { ok: false, error: "malformed" };
    found.add(normalizeFingerprint(algorithm, m[2]!));
  }
  if (found.size === 0) return { ok: false, error: "none" };
  if (found.size > 1) return { ok: false, error: "ambiguous" };
  return { ok: true, fingerprint: [...found][0]! };
}

export interface ChannelFingerprints {
  /** This side's certificate, from the local description. */
  local: string;
  /** The other side's certificate, from the remote description DTLS verified against. */
  remote: string;
}

/** Both fingerprints of a connection, or null when either description lacks a usable one. */
export function connectionFingerprints(localSdp: string | undefined | null, remoteSdp: string | undefined | null): ChannelFingerprints | null {
  if (!localSdp || !remoteSdp) return null;
  const local = sdpFingerprint(localSdp);
  const remote = sdpFingerprint(remoteSdp);
  if (!local.ok || !remote.ok) return null;
  return { local: local.fingerprint, remote: remote.fingerprint };
}

/** Order-independent: both sides list the same two fingerprints in the same order. */
export function sortedFingerprints(f: ChannelFingerprints): [string, string] {
  return f.local <= f.remote ? [f.local, f.remote] : [f.remote, f.local];
}
