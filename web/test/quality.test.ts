import { describe, expect, it } from "vitest";
import { formatRate, pathKey, QualityTracker, snapshotFromStats, type StatsSnapshot } from "../src/core/quality";
import { isStringKey } from "../src/core/strings";

// Shapes as Chromium's getStats() reports them (trimmed to the fields we read).
function chromiumStats(local: Record<string, unknown>, remote: Record<string, unknown>, pair: Record<string, unknown> = {}) {
  return new Map<string, unknown>([
    ["T01", { id: "T01", type: "transport", selectedCandidatePairId: "CP1" }],
    ["CP0", { id: "CP0", type: "candidate-pair", localCandidateId: "Lx", remoteCandidateId: "Rx", state: "failed", currentRoundTripTime: 9 }],
    [
      "CP1",
      {
        id: "CP1",
        type: "candidate-pair",
        localCandidateId: "L1",
        remoteCandidateId: "R1",
        state: "succeeded",
        nominated: true,
        currentRoundTripTime: 0.052,
        bytesSent: 1000,
        bytesReceived: 2000,
        ...pair,
      },
    ],
    ["L1", { id: "L1", type: "local-candidate", protocol: "udp", ...local }],
    ["R1", { id: "R1", type: "remote-candidate", protocol: "udp", ...remote }],
  ]);
}

describe("snapshotFromStats", () => {
  it("DirectHostPair_Chromium", () => {
    expect(snapshotFromStats(chromiumStats({ candidateType: "host" }, { candidateType: "srflx" }))).toEqual({
      pairRttMs: 52,
      bytesSent: 1000,
      bytesReceived: 2000,
      path: { kind: "direct", localType: "host", remoteType: "srflx", protocol: "udp", relayProtocol: null, provider: null },
    });
  });

  it("RelayedOverTls_ProviderFromUrl", () => {
    const url = "turns:turn.example:443?transport=tcp";
    const snap = snapshotFromStats(
      chromiumStats({ candidateType: "relay", relayProtocol: "tls", url }, { candidateType: "host" }),
      new Map([[url, "embedded"]]),
    );
    expect(snap?.path).toEqual({ kind: "relayed", localType: "relay", remoteType: "host", protocol: "udp", relayProtocol: "tls", provider: "embedded" });
  });

  it("RemoteRelay_IsRelayedToo_ButNoLocalRelayProtocol", () => {
    expect(snapshotFromStats(chromiumStats({ candidateType: "srflx", relayProtocol: "tcp" }, { candidateType: "relay" }))?.path).toMatchObject({
      kind: "relayed",
      relayProtocol: null,
    });
  });

  it("FirefoxStyle_SelectedPairWithoutTransport", () => {
    const stats = [
      { id: "p", type: "candidate-pair", localCandidateId: "l", remoteCandidateId: "r", selected: true, state: "succeeded", bytesSent: 5, bytesReceived: 6 },
      { id: "l", type: "local-candidate", candidateType: "host", protocol: "tcp" },
      { id: "r", type: "remote-candidate", candidateType: "host" },
    ];
    expect(snapshotFromStats(stats)).toMatchObject({ pairRttMs: null, bytesSent: 5, path: { kind: "direct", protocol: "tcp" } });
  });

  it("NoSelectedPair_Or_Garbage_Null", () => {
    expect(snapshotFromStats([])).toBeNull();
    expect(snapshotFromStats([null, 3, "x", { id: 1, type: "candidate-pair" }, { id: "p", type: "candidate-pair", state: "in-progress" }])).toBeNull();
    const weird = snapshotFromStats(chromiumStats({ candidateType: 7 }, {}, { currentRoundTripTime: -1, bytesSent: "many", bytesReceived: Number.NaN }));
    expect(weird).toMatchObject({ pairRttMs: null, bytesSent: 0, bytesReceived: 0, path: { localType: "unknown", remoteType: "unknown" } });
  });
});

const snap = (
  rtt: number | null,
  sent: number,
  received: number,
  kind: "direct" | "relayed" = "direct",
  relayProtocol: "udp" | "tcp" | "tls" | null = null,
): StatsSnapshot => ({
  pairRttMs: rtt,
  bytesSent: sent,
  bytesReceived: received,
  path: { kind, localType: kind === "relayed" ? "relay" : "host", remoteType: "host", protocol: "udp", relayProtocol, provider: null },
});

describe("QualityTracker", () => {
  it("Levels_FromRtt", () => {
    const q = new QualityTracker();
    expect(q.current(0)).toMatchObject({ level: "unknown", reasons: ["quality.reason.measuring"] });
    q.addStats(0, snap(40, 0, 0));
    expect(q.current(0)).toMatchObject({ level: "good", rttMs: 40, reasons: ["quality.reason.fast", "quality.reason.direct"] });
    q.addStats(1000, snap(250, 0, 0));
    expect(q.current(1000).level).toBe("fair");
    q.addStats(2000, snap(900, 0, 0, "relayed", "tls"));
    expect(q.current(2000)).toMatchObject({ level: "poor", reasons: ["quality.reason.veryslow", "quality.reason.relayTcp"] });
  });

  it("Throughput_FromByteDeltas", () => {
    const q = new QualityTracker();
    q.addStats(0, snap(10, 1000, 5000));
    q.addStats(2000, snap(10, 3000, 5000 + 250_000));
    expect(q.current(2000)).toMatchObject({ outBps: 8000, inBps: 1_000_000 });
    // Counters reset (new connection): never negative.
    q.addStats(3000, snap(10, 0, 0));
    expect(q.current(3000)).toMatchObject({ outBps: 0, inBps: 0 });
    // Same timestamp twice: no division by zero.
    q.addStats(3000, snap(10, 50, 50));
    expect(Number.isFinite(q.current(3000).inBps)).toBe(true);
  });

  it("AppPing_PreferredOverPairRtt_WhileFresh", () => {
    const q = new QualityTracker();
    q.addStats(0, snap(20, 0, 0));
    const seq = q.ping(1000);
    q.pong(1300, seq);
    expect(q.current(1300)).toMatchObject({ rttMs: 300, pingRttMs: 300, pairRttMs: 20, level: "fair" });
    // Stale ping (older than 2 × timeout): the pair RTT again.
    expect(q.current(1300 + 20_000)).toMatchObject({ rttMs: 20, pingRttMs: null });
  });

  it("UnansweredPing_Stalled_Poor", () => {
    const q = new QualityTracker();
    q.addStats(0, snap(20, 0, 0));
    q.ping(0);
    expect(q.current(4000).level).toBe("good");
    expect(q.current(6000)).toMatchObject({ level: "poor", reasons: ["quality.reason.stalled", "quality.reason.direct"] });
  });

  it("Pong_UnknownRepeatedOrFromThePast_Ignored", () => {
    const q = new QualityTracker();
    q.pong(10, 99);
    const seq = q.ping(100);
    q.pong(50, seq);
    expect(q.current(100).pingRttMs).toBeNull();
    q.pong(180, seq);
    q.pong(900, seq);
    expect(q.current(900).pingRttMs).toBe(80);
  });
});

describe("formatting", () => {
  it("formatRate", () => {
    expect(formatRate(0)).toBe("0 bit/s");
    expect(formatRate(1500)).toBe("1.5 kbit/s");
    expect(formatRate(2_340_000)).toBe("2.3 Mbit/s");
    expect(formatRate(-1)).toBe("0 bit/s");
    expect(formatRate(Number.NaN)).toBe("0 bit/s");
  });

  it("pathKey_AllKeysExist", () => {
    expect(pathKey(null)).toBe("quality.path.unknown");
    expect(pathKey(snap(1, 0, 0).path)).toBe("quality.path.directUdp");
    expect(pathKey(snap(1, 0, 0, "relayed", "tls").path)).toBe("quality.path.relayTls");
    expect(pathKey(snap(1, 0, 0, "relayed", "tcp").path)).toBe("quality.path.relayTcp");
    expect(pathKey(snap(1, 0, 0, "relayed", "udp").path)).toBe("quality.path.relayUdp");
    expect(pathKey(snap(1, 0, 0, "relayed", null).path)).toBe("quality.path.relay");
    expect(pathKey({ ...snap(1, 0, 0, "relayed", null).path!, localType: "srflx", remoteType: "relay" })).toBe("quality.path.relayRemote");
    for (const k of ["good", "fair", "poor", "unknown"]) expect(isStringKey(`quality.level.${k}`)).toBe(true);
  });
});
