/**
 * DTLS certificate fingerprints as each side actually used them: read from the `a=fingerprint`
 * lines of the local and remote SDP of the RTCPeerConnection that carries the data channel.
 */

/** Longest fingerprint line we accept (SHA-512 is 64 bytes = 191 hex characters with colons). */
const MAX_FINGERPRINT = 200;
const LINE = /^a=fingerprint:([A-Za-z0-9-]{1,16}) ([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){15,63})\s*$/;
/**
 * Anything a browser's SDP parser might read as a fingerprint attribute, whatever its case or
 * spacing: every such line counts, well-formed or not.
 */
const FINGERPRINT_LIKE = /^\s*a\s*=\s*fingerprint/i;

/** Normal form: lower-case algorithm, one space, upper-case hex pairs with colons. */
export function normalizeFingerprint(algorithm: string, hex: string): string {
  return `${algorithm.toLowerCase()} ${hex.toUpperCase()}`;
}

/**
 * Why a description is refused: `none` (no fingerprint line), `several` (more than one line, at
 * any levels, not all naming the same SHA-256 fingerprint), `not-sha-256` (its one line uses another
 * hash) or `malformed`.
 */
export type FingerprintError = "none" | "several" | "not-sha-256" | "malformed";
export type FingerprintResult = { ok: true; fingerprint: string } | { ok: false; error: FingerprintError };

/**
 * The SHA-256 fingerprint of the one certificate an SDP allows. Every `a=fingerprint` line of the
 * description (session and media level together) must be SHA-256 and name the same certificate;
 * anything else is refused. Browsers differ on several different lines — Firefox accepts a
 * certificate that matches any of them, Chromium checks only the last one — so a signaling server
 * could pass the peer's real SHA-256 line along (which the proofs would then bind to) and add its
 * own line of another hash that DTLS accepts: with one fingerprint, DTLS and the proofs check the
 * same one. The same line repeated is allowed: Chromium writes one per m-section once a call added
 * audio and video to the connection (core/calls).
 */
export function sdpFingerprint(sdp: string): FingerprintResult {
  if (typeof sdp !== "string") return { ok: false, error: "malformed" };
  const lines = sdp.split(/\r\n|\r|\n/).filter((l) => FINGERPRINT_LIKE.test(l));
  if (lines.length === 0) return { ok: false, error: "none" };
  if (lines.length > 1) {
    const each = lines.map((l) => sdpFingerprint(l));
    const first = each[0]!;
    return first.ok && each.every((f) => f.ok && f.fingerprint === first.fingerprint) ? first : { ok: false, error: "several" };
  }
  const raw = lines[0]!;
  if (raw.length > MAX_FINGERPRINT + 20) return { ok: false, error: "malformed" };
  const m = LINE.exec(raw);
  if (!m) return { ok: false, error: "malformed" };
  const algorithm = m[1]!.toLowerCase();
  if (algorithm !== "sha-256") return { ok: false, error: "not-sha-256" };
  if (m[2]!.length !== 32 * 3 - 1) return { ok: false, error: "malformed" };
  return { ok: true, fingerprint: normalizeFingerprint(algorithm, m[2]!) };
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

// ---- the certificate the browser reports ----------------------------------------------------

/**
 * What `RTCPeerConnection.getStats()` resolves to, reduced to what is read here: a map-like of
 * stats objects (an `RTCStatsReport`, or a plain `Map` in tests).
 */
export interface StatsLike {
  values(): Iterable<unknown>;
}

/** The peer's certificate as the browser reports it (`certificate` stats entry). */
export interface ReportedCertificate {
  /** The entry's `fingerprint` in normal form, with its `fingerprintAlgorithm`. */
  fingerprint: string;
  /** The certificate itself (DER, base64), when reported. */
  base64Certificate?: string;
}

type Entry = Record<string, unknown>;
const isEntry = (v: unknown): v is Entry => typeof v === "object" && v !== null;

/**
 * The remote certificates the transports name (`transport.remoteCertificateId` → `certificate`
 * entry). Empty when the browser reports none (Firefox), or none yet.
 */
export function reportedRemoteCertificates(stats: StatsLike | null | undefined): ReportedCertificate[] {
  if (!stats) return [];
  const entries = [...stats.values()].filter(isEntry);
  const out: ReportedCertificate[] = [];
  for (const t of entries) {
    if (t.type !== "transport" || typeof t.remoteCertificateId !== "string") continue;
    const c = entries.find((e) => e.type === "certificate" && e.id === t.remoteCertificateId);
    if (!c) continue;
    const algorithm = typeof c.fingerprintAlgorithm === "string" ? c.fingerprintAlgorithm : "";
    const hex = typeof c.fingerprint === "string" ? c.fingerprint : "";
    out.push({
      fingerprint: normalizeFingerprint(algorithm, hex),
      ...(typeof c.base64Certificate === "string" ? { base64Certificate: c.base64Certificate } : {}),
    });
  }
  return out;
}

/** SHA-256 fingerprint (normal form) of a DER certificate given in base64; null if not base64. */
export async function certificateSha256(base64Certificate: string): Promise<string | null> {
  let der: Uint8Array<ArrayBuffer>;
  try {
    der = Uint8Array.from(atob(base64Certificate), (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
  if (der.length === 0) return null;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return normalizeFingerprint("sha-256", [...digest].map((b) => b.toString(16).padStart(2, "0")).join(":"));
}

export type CertificateCheck = "match" | "mismatch" | "unreported";

/**
 * Checks the peer certificate DTLS actually accepted, where the browser reports it, against the
 * remote fingerprint the proofs use (`expected`, normal form). Every reported remote certificate
 * must be that one: its DER hashed with SHA-256 when given, else its reported fingerprint when it
 * is a SHA-256 one. A reported certificate that cannot be compared counts as a mismatch.
 * `unreported` when the browser names none (Firefox has no `certificate` stats).
 */
export async function checkRemoteCertificate(expected: string, stats: StatsLike | null | undefined): Promise<CertificateCheck> {
  const certs = reportedRemoteCertificates(stats);
  if (certs.length === 0) return "unreported";
  for (const c of certs) {
    const actual =
      c.base64Certificate !== undefined ? await certificateSha256(c.base64Certificate) : c.fingerprint.startsWith("sha-256 ") ? c.fingerprint : null;
    if (actual !== expected) return "mismatch";
  }
  return "match";
}

/**
 * False when the channel's browser reports a remote certificate other than `fingerprints.remote`:
 * the handshake must then not start. A channel without stats, or whose stats fail, passes (the
 * SDP check stands alone there).
 */
export async function remoteCertificateAgrees(fingerprints: ChannelFingerprints, channel: { stats?(): Promise<StatsLike | null> }): Promise<boolean> {
  let stats: StatsLike | null;
  try {
    stats = (await channel.stats?.()) ?? null;
  } catch {
    stats = null;
  }
  return (await checkRemoteCertificate(fingerprints.remote, stats)) !== "mismatch";
}
