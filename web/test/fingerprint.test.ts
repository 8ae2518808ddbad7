import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  checkRemoteCertificate,
  connectionFingerprints,
  remoteCertificateAgrees,
  reportedRemoteCertificates,
  sdpFingerprint,
  type StatsLike,
} from "../src/core/auth";

/**
 * The one-fingerprint rule (issue 15, item 1): a description whose fingerprint lines could let DTLS
 * accept a certificate other than the one the proofs bind to is refused, and so is a connection
 * whose browser reports such a certificate.
 */
const hex = (b: Uint8Array | number[]) => [...b].map((x) => x.toString(16).padStart(2, "0").toUpperCase()).join(":");
const REAL = hex([...Array(32).keys()]); // the peer's certificate, SHA-256
const SHA512 = hex([...Array(64).keys()].map((i) => 255 - i)); // an attacker's, SHA-512
const FP_REAL = `sha-256 ${REAL}`;

/** A data-channel description in Chromium's layout (fingerprint at media level) or Firefox's (session level). */
function sdp(session: string[], media: string[]): string {
  return (
    [
      "v=0",
      "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
      "s=-",
      "t=0 0",
      ...session,
      "a=group:BUNDLE 0",
      "a=msid-semantic: WMS",
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
      "c=IN IP4 0.0.0.0",
      "a=ice-ufrag:abcd",
      "a=ice-pwd:abcdefghijklmnopqrstuvwx",
      "a=ice-options:trickle",
      ...media,
      "a=setup:actpass",
      "a=mid:0",
      "a=sctp-port:5000",
      "a=max-message-size:262144",
    ].join("\r\n") + "\r\n"
  );
}
const line = (alg: string, h: string) => `a=fingerprint:${alg} ${h}`;

describe("sdpFingerprint: exactly one line, SHA-256", () => {
  it("oneSha256_MediaLevel_Ok", () => {
    expect(sdpFingerprint(sdp([], [line("sha-256", REAL)]))).toEqual({ ok: true, fingerprint: FP_REAL });
  });

  it("oneSha256_SessionLevel_Ok", () => {
    expect(sdpFingerprint(sdp([line("sha-256", REAL.toLowerCase())], []))).toEqual({ ok: true, fingerprint: FP_REAL });
  });

  it("lfLineEndings_Ok", () => {
    expect(sdpFingerprint(sdp([], [line("sha-256", REAL)]).replace(/\r\n/g, "\n"))).toEqual({ ok: true, fingerprint: FP_REAL });
  });

  // The attack: the peer's real SHA-256 line passed along, the attacker's own line added — before or
  // after it, at the same level or the other one.
  it.each([
    ["sha512After_Media", [], [line("sha-256", REAL), line("sha-512", SHA512)]],
    ["sha512Before_Media", [], [line("sha-512", SHA512), line("sha-256", REAL)]],
    ["sha512Session_Sha256Media", [line("sha-512", SHA512)], [line("sha-256", REAL)]],
    ["sha256Session_Sha512Media", [line("sha-256", REAL)], [line("sha-512", SHA512)]],
    ["twoSha256_Different", [], [line("sha-256", REAL), line("sha-256", hex(Array(32).fill(7)))]],
    ["sha1Added", [], [line("sha-256", REAL), line("sha-1", hex(Array(20).fill(1)))]],
    ["secondLineMalformed", [], [line("sha-256", REAL), "a=fingerprint:sha-512"]],
    ["secondLineUpperCaseAttribute", [], [line("sha-256", REAL), `A=FINGERPRINT:sha-512 ${SHA512}`]],
  ])("twoLines_%s_Refused", (_name, session, media) => {
    expect(sdpFingerprint(sdp(session as string[], media as string[]))).toEqual({ ok: false, error: "several" });
  });

  // Chromium writes the line once per m-section when a call adds audio and video: the same SHA-256
  // certificate repeated names one certificate, for DTLS and for the proofs alike.
  it.each([
    ["sameSha256_BothLevels", [line("sha-256", REAL)], [line("sha-256", REAL)]],
    ["sameSha256_ThreeMedia_CaseDiffers", [], [line("sha-256", REAL), line("sha-256", REAL.toLowerCase()), line("SHA-256", REAL)]],
  ])("repeatedLine_%s_Ok", (_name, session, media) => {
    expect(sdpFingerprint(sdp(session as string[], media as string[]))).toEqual({ ok: true, fingerprint: FP_REAL });
  });

  it("secondLineBehindBareCarriageReturn_Refused", () => {
    const text = sdp([], [line("sha-256", REAL)]).replace("a=mid:0\r\n", `a=mid:0\r${line("sha-512", SHA512)}\r\n`);
    expect(sdpFingerprint(text)).toEqual({ ok: false, error: "several" });
  });

  it("oneSha512Only_Refused", () => {
    // What Chromium shows in currentRemoteDescription after the attack: only the line it used.
    expect(sdpFingerprint(sdp([], [line("sha-512", SHA512)]))).toEqual({ ok: false, error: "not-sha-256" });
  });

  it("oneSha1Only_Refused", () => {
    expect(sdpFingerprint(sdp([], [line("sha-1", hex(Array(20).fill(1)))]))).toEqual({ ok: false, error: "not-sha-256" });
  });

  it("noLine_Refused", () => {
    expect(sdpFingerprint(sdp([], []))).toEqual({ ok: false, error: "none" });
  });

  it.each([
    ["noValue", "a=fingerprint:sha-256"],
    ["noAlgorithm", `a=fingerprint: ${REAL}`],
    ["spaceBeforeColon", `a=fingerprint :sha-256 ${REAL}`],
    ["sha256Short", line("sha-256", hex(Array(20).fill(1)))],
    ["sha256Long", line("sha-256", hex(Array(33).fill(1)))],
    ["notHex", line("sha-256", REAL.replace("0A", "G0"))],
    ["noColons", line("sha-256", REAL.replace(/:/g, ""))],
    ["trailingJunk", `${line("sha-256", REAL)} extra`],
    ["oversized", line("sha-256", `${"AB:".repeat(500)}AB`)],
  ])("malformed_%s_Refused", (_name, l) => {
    expect(sdpFingerprint(sdp([], [l]))).toEqual({ ok: false, error: "malformed" });
  });

  it("notAString_Refused", () => {
    expect(sdpFingerprint(undefined as unknown as string)).toEqual({ ok: false, error: "malformed" });
  });

  it("connectionFingerprints_RemoteWithTwoLines_Null", () => {
    const local = sdp([], [line("sha-256", hex(Array(32).fill(9)))]);
    expect(connectionFingerprints(local, sdp([], [line("sha-256", REAL)]))).toEqual({ local: `sha-256 ${hex(Array(32).fill(9))}`, remote: FP_REAL });
    expect(connectionFingerprints(local, sdp([], [line("sha-256", REAL), line("sha-512", SHA512)]))).toBeNull();
    expect(connectionFingerprints(local, sdp([], [line("sha-512", SHA512)]))).toBeNull();
  });
});

// ---- the certificate the browser reports (Chromium's getStats; Firefox reports none) ----

const DER = randomBytes(420); // stands for a certificate: only its SHA-256 matters here
const DER_B64 = DER.toString("base64");
const DER_FP = `sha-256 ${hex(createHash("sha256").update(DER).digest())}`;
const OTHER = randomBytes(400);

/** A Chromium-shaped report: one transport naming its local and remote certificates. */
function chromiumStats(remote: Record<string, unknown> | null, extra: Record<string, unknown>[] = []): StatsLike {
  const entries: Record<string, unknown>[] = [
    { id: "T01", type: "transport", dtlsState: "connected", localCertificateId: "CFlocal", ...(remote ? { remoteCertificateId: "CFremote" } : {}) },
    { id: "CFlocal", type: "certificate", fingerprint: hex(Array(32).fill(3)), fingerprintAlgorithm: "sha-256", base64Certificate: OTHER.toString("base64") },
    ...(remote ? [{ id: "CFremote", type: "certificate", ...remote }] : []),
    { id: "P1", type: "peer-connection", dataChannelsOpened: 1 },
    ...extra,
  ];
  return new Map(entries.map((e) => [e.id as string, e]));
}

describe("checkRemoteCertificate: the certificate DTLS accepted is the one the proofs use", () => {
  it("derMatches_Match", async () => {
    const stats = chromiumStats({ fingerprint: "00", fingerprintAlgorithm: "sha-512", base64Certificate: DER_B64 });
    expect(await checkRemoteCertificate(DER_FP, stats)).toBe("match");
  });

  it("derOfAnotherCertificate_Mismatch", async () => {
    const stats = chromiumStats({ fingerprint: DER_FP.slice(8), fingerprintAlgorithm: "sha-256", base64Certificate: OTHER.toString("base64") });
    expect(await checkRemoteCertificate(DER_FP, stats)).toBe("mismatch");
  });

  it("noDer_Sha256FingerprintCompared", async () => {
    expect(await checkRemoteCertificate(FP_REAL, chromiumStats({ fingerprint: REAL.toLowerCase(), fingerprintAlgorithm: "sha-256" }))).toBe("match");
    expect(await checkRemoteCertificate(FP_REAL, chromiumStats({ fingerprint: hex(Array(32).fill(7)), fingerprintAlgorithm: "sha-256" }))).toBe("mismatch");
  });

  it("noDer_OtherHash_CannotCompare_Mismatch", async () => {
    expect(await checkRemoteCertificate(FP_REAL, chromiumStats({ fingerprint: SHA512, fingerprintAlgorithm: "sha-512" }))).toBe("mismatch");
  });

  it("derNotBase64_Mismatch", async () => {
    expect(await checkRemoteCertificate(FP_REAL, chromiumStats({ fingerprint: REAL, fingerprintAlgorithm: "sha-256", base64Certificate: "not base64!" }))).toBe(
      "mismatch",
    );
    expect(await checkRemoteCertificate(FP_REAL, chromiumStats({ fingerprint: REAL, fingerprintAlgorithm: "sha-256", base64Certificate: "" }))).toBe(
      "mismatch",
    );
  });

  it("localCertificateIgnored_OnlyTheRemoteOneCounts", async () => {
    // The transport's local certificate (OTHER) differs from the expected remote one: irrelevant.
    expect(await checkRemoteCertificate(DER_FP, chromiumStats({ fingerprint: "", fingerprintAlgorithm: "sha-256", base64Certificate: DER_B64 }))).toBe("match");
  });

  it("twoTransports_EachRemoteMustMatch", async () => {
    const second = [
      { id: "T02", type: "transport", remoteCertificateId: "CFremote2" },
      { id: "CFremote2", type: "certificate", fingerprint: "", fingerprintAlgorithm: "sha-256", base64Certificate: OTHER.toString("base64") },
    ];
    expect(await checkRemoteCertificate(DER_FP, chromiumStats({ base64Certificate: DER_B64 }, second))).toBe("mismatch");
  });

  it("unreported_FirefoxOrNoStats", async () => {
    expect(await checkRemoteCertificate(FP_REAL, null)).toBe("unreported");
    expect(await checkRemoteCertificate(FP_REAL, new Map())).toBe("unreported");
    expect(await checkRemoteCertificate(FP_REAL, chromiumStats(null))).toBe("unreported");
    // Firefox's report: transports without certificate ids, no certificate entries.
    const firefox = new Map([
      ["t", { id: "t", type: "transport" }],
      ["x", { id: "x", type: "data-channel" }],
      ["n", null],
    ]);
    expect(await checkRemoteCertificate(FP_REAL, firefox)).toBe("unreported");
  });

  it("reportedRemoteCertificates_Normalised", () => {
    expect(reportedRemoteCertificates(chromiumStats({ fingerprint: REAL.toLowerCase(), fingerprintAlgorithm: "SHA-256" }))).toEqual([{ fingerprint: FP_REAL }]);
  });

  it("remoteCertificateAgrees_RefusesOnlyOnMismatch", async () => {
    const f = { local: `sha-256 ${hex(Array(32).fill(3))}`, remote: DER_FP };
    expect(await remoteCertificateAgrees(f, { stats: async () => chromiumStats({ base64Certificate: DER_B64 }) })).toBe(true);
    expect(await remoteCertificateAgrees(f, { stats: async () => chromiumStats({ base64Certificate: OTHER.toString("base64") }) })).toBe(false);
    expect(await remoteCertificateAgrees(f, {})).toBe(true);
    expect(await remoteCertificateAgrees(f, { stats: async () => null })).toBe(true);
    expect(await remoteCertificateAgrees(f, { stats: () => Promise.reject(new Error("closed")) })).toBe(true);
  });
});
