import { describe, expect, it } from "vitest";
import {
  explainErrorCode,
  isPublicAddress,
  natMapping,
  parseCandidate,
  parseIceConfig,
  parseIceUrl,
  runDiagnostics,
  stunResult,
  summarize,
  turnResult,
  VERDICTS,
  type CandidateRecord,
  type DiagnosticsPorts,
  type GatherResult,
} from "../src/core/diagnostics";
import { isStringKey } from "../src/core/strings";

// Candidate lines as Chromium reported them in the lab (addresses from the documentation ranges).
const HOST = "candidate:1 1 udp 2122260223 10.1.0.2 40001 typ host generation 0 ufrag a network-id 1";
const HOST_MDNS = "candidate:1 1 udp 2122260223 6f1c0a8e-1c2b-4b52-9d3e-5c1a2f0e9b7d.local 40001 typ host generation 0";
const SRFLX = (port: number, rport = 40001) => `candidate:2 1 udp 1686052607 203.0.113.20 ${port} typ srflx raddr 10.1.0.2 rport ${rport} generation 0`;
const SRFLX_REDACTED = (port: number) => `candidate:2 1 udp 1686052607 203.0.113.20 ${port} typ srflx raddr 0.0.0.0 rport 0 generation 0`;
const RELAY = "candidate:3 1 udp 41885439 198.51.100.1 50123 typ relay raddr 203.0.113.20 rport 40001 generation 0";

function gathered(lines: string[], errors: GatherResult["errors"] = [], timedOut = false): GatherResult {
  return { candidates: lines.map((l) => parseCandidate(l)).filter((c): c is CandidateRecord => c !== null), errors, timedOut, durationMs: 120 };
}

describe("candidates", () => {
  it("parseCandidate_Srflx_WithRelated", () => {
    expect(parseCandidate("a=" + SRFLX(62000))).toEqual({
      type: "srflx",
      protocol: "udp",
      address: "203.0.113.20",
      port: 62000,
      relatedAddress: "10.1.0.2",
      relatedPort: 40001,
      url: null,
      relayProtocol: null,
    });
  });

  it("parseCandidate_RelayProtocol_OnlyForRelay", () => {
    expect(parseCandidate(RELAY, "turn:x", "TLS")?.relayProtocol).toBe("tls");
    expect(parseCandidate(HOST, "turn:x", "tls")?.relayProtocol).toBeNull();
    expect(parseCandidate(RELAY, "", "bogus")).toMatchObject({ relayProtocol: null, url: null });
  });

  it("parseCandidate_Malformed_Null", () => {
    for (const bad of [
      "",
      "candidate:",
      "candidate:1 1 udp 1 10.0.0.1 99999 typ host",
      "candidate:1 1 sctp 1 10.0.0.1 9 typ host",
      "candidate:1 1 udp 1 10.0.0.1 9 type host",
      "candidate:1 1 udp 1 10.0.0.1 9 typ weird",
      "candidate:1 1 udp 1 <script> 9 typ host",
      "x".repeat(5000),
      "not a candidate",
    ])
      expect(parseCandidate(bad), bad).toBeNull();
    expect(parseCandidate(42 as unknown as string)).toBeNull();
  });

  it("parseIceUrl_DefaultsAndTransports", () => {
    expect(parseIceUrl("turn:h.example:3478?transport=udp")).toMatchObject({ scheme: "turn", host: "h.example", port: 3478, transport: "udp" });
    expect(parseIceUrl("turn:h.example?transport=tcp")).toMatchObject({ port: 3478, transport: "tcp" });
    expect(parseIceUrl("turns:h.example:443?transport=tcp")).toMatchObject({ port: 443, transport: "tls" });
    expect(parseIceUrl("stuns:h.example")).toMatchObject({ port: 5349, transport: "tls" });
    expect(parseIceUrl("stun:[2001:db8::1]:3479")).toMatchObject({ host: "[2001:db8::1]", port: 3479 });
    for (const bad of ["http://h", "turn:", "turn:h:0", "turn:h:70000", "turn:h?transport=sctp", "turn:h u", "stun:h:3478#x"])
      expect(parseIceUrl(bad), bad).toBeNull();
  });

  it("isPublicAddress", () => {
    expect(isPublicAddress("203.0.113.20")).toBe(true);
    for (const a of ["10.1.0.2", "192.168.1.4", "172.20.0.1", "100.64.0.1", "169.254.1.1", "127.0.0.1", "x.local", "fe80::1", "fd00::1", "0.0.0.0"])
      expect(isPublicAddress(a), a).toBe(false);
    expect(isPublicAddress("2001:db8::1")).toBe(true);
  });
});

describe("NAT mapping from two STUN endpoints", () => {
  const servers = ["stun:198.51.100.1:3478", "stun:198.51.100.1:3479"];

  it("SamePortFromBothServers_EndpointIndependent", () => {
    expect(natMapping(gathered([HOST, SRFLX(40001)]), servers)).toEqual({ behaviour: "endpoint-independent", mapped: ["203.0.113.20:40001"], servers });
  });

  it("SameBaseDifferentPorts_Symmetric", () => {
    const r = natMapping(gathered([HOST, SRFLX(61000), SRFLX(61544)]), servers);
    expect(r.behaviour).toBe("address-port-dependent");
    expect(r.mapped).toEqual(["203.0.113.20:61000", "203.0.113.20:61544"]);
  });

  it("DifferentBases_DifferentPorts_NotSymmetric", () => {
    // Two interfaces (two sockets), each mapped once: different ports are expected.
    expect(natMapping(gathered([HOST, SRFLX(40001, 40001), SRFLX(40002, 40002)]), servers).behaviour).toBe("endpoint-independent");
  });

  it("RedactedRelatedAddress_UnderMdns_StillDetectsSymmetric", () => {
    expect(natMapping(gathered([HOST_MDNS, SRFLX_REDACTED(61000), SRFLX_REDACTED(61544)]), servers).behaviour).toBe("address-port-dependent");
    expect(natMapping(gathered([HOST_MDNS, SRFLX_REDACTED(40001)]), servers).behaviour).toBe("endpoint-independent");
  });

  it("NoSrflx_PrivateHost_UdpBlocked", () => {
    expect(natMapping(gathered([HOST], [{ url: servers[0]!, errorCode: 701, errorText: "STUN binding request timed out." }]), servers).behaviour).toBe(
      "udp-blocked",
    );
  });

  it("SrflxEqualsHost_NoNat", () => {
    // Chromium on a public address: the srflx repeats the host candidate (as seen in the lab's "open" side).
    const pub = "candidate:1 1 udp 2122260223 192.0.2.18 42750 typ host generation 0";
    const same = "candidate:2 1 udp 1686052607 192.0.2.18 42750 typ srflx raddr 192.0.2.18 rport 42750 generation 0";
    expect(natMapping(gathered([pub, same]), servers)).toMatchObject({ behaviour: "no-nat", mapped: ["192.0.2.18:42750"] });
  });

  it("NoSrflx_PublicHost_NoNat", () => {
    const pub = "candidate:1 1 udp 2122260223 203.0.113.7 40001 typ host generation 0";
    expect(natMapping(gathered([pub]), servers).behaviour).toBe("no-nat");
  });

  it("OneServerOnly_Unknown_NothingGathered_Unknown", () => {
    expect(natMapping(gathered([HOST, SRFLX(40001)]), [servers[0]!]).behaviour).toBe("unknown");
    expect(natMapping(gathered([]), servers).behaviour).toBe("unknown");
  });

  it("TcpCandidates_Ignored", () => {
    const tcp = "candidate:5 1 tcp 1518280447 203.0.113.20 9 typ srflx raddr 10.1.0.2 rport 9 tcptype active";
    expect(natMapping(gathered([HOST, SRFLX(40001), tcp]), servers).behaviour).toBe("endpoint-independent");
  });
});

describe("TURN and STUN results", () => {
  it("turnResult_Relay_Ok_TransportFromUrl", () => {
    const r = turnResult("embedded", "turns:turn.example:443?transport=tcp", gathered([RELAY]));
    expect(r).toMatchObject({ provider: "embedded", transport: "tls", port: 443, ok: true, relay: "198.51.100.1:50123", errorCode: null, explanation: null });
  });

  it("turnResult_401_ExplainedAsCredentials", () => {
    const url = "turn:turn.example:3478?transport=udp";
    const r = turnResult(
      "coturn",
      url,
      gathered(
        [],
        [
          { url, errorCode: 701, errorText: "timeout" },
          { url, errorCode: 401, errorText: "Unauthorized" },
        ],
      ),
    );
    expect(r).toMatchObject({ ok: false, errorCode: 401, explanation: "diag.code.401" });
  });

  it("turnResult_NothingAndTimeout_Is701", () => {
    const r = turnResult("x", "turn:turn.example:3478?transport=tcp", gathered([], [], true));
    expect(r).toMatchObject({ ok: false, errorCode: 701, errorText: "timeout", explanation: "diag.code.701", transport: "tcp" });
  });

  it("explainErrorCode_KnownAndOther_AreStringKeys", () => {
    for (const c of [300, 400, 401, 403, 420, 437, 438, 440, 441, 442, 486, 508, 701, 599]) expect(isStringKey(explainErrorCode(c)!)).toBe(true);
    expect(explainErrorCode(599)).toBe("diag.code.other");
    expect(explainErrorCode(null)).toBeNull();
  });

  it("stunResult_MappedOrError", () => {
    expect(stunResult("stun:h:3478", gathered([HOST, SRFLX(40001)]))).toMatchObject({
      ok: true,
      mapped: ["203.0.113.20:40001"],
      error: null,
      hostCandidates: 1,
    });
    expect(stunResult("stun:h:3478", gathered([HOST], [{ url: "stun:h:3478", errorCode: 701, errorText: "STUN binding request timed out." }]))).toMatchObject({
      ok: false,
      error: "701 STUN binding request timed out.",
    });
  });
});

const caps = { peerConnection: true, dataChannel: true, getStats: true, secureContext: true, userAgent: "test" };
const base = {
  capabilities: caps,
  signaling: { ok: true, latencyMs: 5, status: 200, error: null },
  ice: { ok: true, servers: 1, providers: ["embedded"], relayOnly: false, stunProbes: [], error: null },
};
const turn = (transport: "udp" | "tcp" | "tls", port: number, ok: boolean, errorCode: number | null = ok ? null : 701) => ({
  provider: "embedded",
  url: `${transport === "tls" ? "turns" : "turn"}:h:${port}`,
  transport,
  port,
  ok,
  relay: ok ? "198.51.100.1:50000" : null,
  errorCode,
  errorText: null,
  explanation: null,
  timeMs: 10,
});

describe("summary", () => {
  it("UdpBlocked_TcpTurnWorks_RelayOutlook", () => {
    const s = summarize({
      ...base,
      stun: [{ url: "stun:h:3478", ok: false, mapped: [], hostCandidates: 1, error: "701" }],
      nat: { behaviour: "udp-blocked", mapped: [], servers: [] },
      turn: [turn("udp", 3478, false), turn("tcp", 3478, true)],
    });
    expect(s.verdicts).toEqual(["udp-blocked", "turn-tcp-ok"]);
    expect(s.outlook).toBe("relay");
    expect(s.headline).toBe("diag.headline.relay");
    expect(s.advice).toContain("diag.advice.udp-blocked");
  });

  it("Only443Passes", () => {
    const s = summarize({
      ...base,
      stun: [],
      nat: { behaviour: "udp-blocked", mapped: [], servers: [] },
      turn: [turn("udp", 3478, false), turn("tcp", 3478, false), turn("tls", 443, true)],
    });
    expect(s.verdicts).toEqual(["udp-blocked", "turn-tls-ok", "only-443"]);
    expect(s.outlook).toBe("relay");
  });

  it("UdpFailsTcp443Works_UdpBlockedNotOnly443", () => {
    const s = summarize({
      ...base,
      stun: [],
      nat: { behaviour: "udp-blocked", mapped: [], servers: [] },
      turn: [turn("udp", 3478, false), turn("tcp", 443, true)],
    });
    expect(s.verdicts).toEqual(["udp-blocked", "turn-tcp-ok"]);
  });

  it("SymmetricNat_TurnUdpWorks", () => {
    const s = summarize({
      ...base,
      stun: [{ url: "stun:h:3478", ok: true, mapped: ["a:1"], hostCandidates: 1, error: null }],
      nat: { behaviour: "address-port-dependent", mapped: ["a:1", "a:2"], servers: [] },
      turn: [turn("udp", 3478, true), turn("tcp", 3478, true)],
    });
    expect(s.verdicts).toEqual(["symmetric-nat", "turn-udp-ok", "turn-tcp-ok"]);
    expect(s.outlook).toBe("relay");
  });

  it("FriendlyNat_DirectOutlook", () => {
    const s = summarize({
      ...base,
      stun: [{ url: "stun:h:3478", ok: true, mapped: ["a:1"], hostCandidates: 1, error: null }],
      nat: { behaviour: "endpoint-independent", mapped: ["a:1"], servers: [] },
      turn: [turn("udp", 3478, true)],
    });
    expect(s.outlook).toBe("direct");
    expect(s.verdicts).toContain("nat-friendly");
  });

  it("NothingReachable_None_WithReason", () => {
    const refused = summarize({
      ...base,
      stun: [],
      nat: { behaviour: "udp-blocked", mapped: [], servers: [] },
      turn: [turn("udp", 3478, false, 401), turn("tcp", 3478, false, 701)],
    });
    expect(refused.verdicts).toContain("turn-credentials-refused");
    expect(refused.outlook).toBe("none");
    const blocked = summarize({
      ...base,
      stun: [],
      nat: { behaviour: "udp-blocked", mapped: [], servers: [] },
      turn: [turn("udp", 3478, false), turn("tcp", 3478, false)],
    });
    expect(blocked.verdicts).toEqual(["udp-blocked", "relay-unreachable"]);
    expect(blocked.headline).toBe("diag.headline.none");
  });

  it("NoWebRtc_SignalingDown_None", () => {
    expect(summarize({ ...base, capabilities: { ...caps, peerConnection: false }, stun: [], nat: null, turn: [] }).verdicts).toContain("no-webrtc");
    const down = summarize({ ...base, signaling: { ok: false, latencyMs: null, status: null, error: "x" }, stun: [], nat: null, turn: [] });
    expect(down.outlook).toBe("none");
    expect(down.verdicts).toEqual(["signaling-down", "no-relay-configured"]);
  });

  it("EveryVerdict_HasAdviceString", () => {
    const all = VERDICTS;
    for (const v of all) expect(isStringKey(`diag.advice.${v}`), v).toBe(true);
    for (const o of ["direct", "relay", "none", "unknown"]) expect(isStringKey(`diag.headline.${o}`)).toBe(true);
  });
});

describe("parseIceConfig (contract C2)", () => {
  it("FullBody", () => {
    const c = parseIceConfig({
      iceServers: [{ urls: ["turn:h:3478?transport=udp", "turns:h:443?transport=tcp"], username: "u", credential: "c" }, { urls: "stun:s:3478" }],
      providers: ["embedded", "google"],
      expiresAt: null,
      relayOnly: true,
      stunProbes: ["stun:h:3478", "stun:h:3479"],
    });
    expect(c).toEqual({
      iceServers: [{ urls: ["turn:h:3478?transport=udp", "turns:h:443?transport=tcp"], username: "u", credential: "c" }, { urls: ["stun:s:3478"] }],
      providers: ["embedded", "google"],
      relayOnly: true,
      stunProbes: ["stun:h:3478", "stun:h:3479"],
    });
  });

  it("OldShape_NoProviders_NamesServers", () => {
    expect(parseIceConfig({ iceServers: [{ urls: ["stun:s:3478"] }] })).toMatchObject({ providers: ["server 1"], stunProbes: [], relayOnly: false });
  });

  it("Malformed", () => {
    for (const bad of [null, 1, "x", [], {}, { iceServers: "x" }]) expect(parseIceConfig(bad)).toBeNull();
    const c = parseIceConfig({
      iceServers: [null, 5, { urls: ["http://x", 7] }, { urls: ["stun:ok:1"] }],
      providers: ["<b>", 3],
      stunProbes: ["turn:x:1", "stun:a:1", 9],
      relayOnly: "yes",
    });
    expect(c).toEqual({ iceServers: [{ urls: ["stun:ok:1"] }], providers: ["server 4"], relayOnly: false, stunProbes: ["stun:a:1"] });
  });
});

describe("runDiagnostics", () => {
  function ports(
    overrides: Partial<DiagnosticsPorts> = {},
    byUrl: Record<string, GatherResult> = {},
  ): DiagnosticsPorts & { gathers: { servers: RTCIceServer[]; policy: string }[] } {
    const gathers: { servers: RTCIceServer[]; policy: string }[] = [];
    let clock = 1_000;
    return {
      gathers,
      now: () => (clock += 7),
      capabilities: () => caps,
      pingSignaling: async () => ({ status: 200, error: null }),
      loadIce: async () => ({
        iceServers: [{ urls: ["stun:h:3478", "turn:h:3478?transport=udp", "turn:h:3478?transport=tcp"], username: "u", credential: "c" }],
        providers: ["embedded"],
        relayOnly: false,
        stunProbes: ["stun:h:3478", "stun:h:3479"],
      }),
      gather: async (servers, policy) => {
        gathers.push({ servers, policy });
        const key = (servers[0]!.urls as string[]).join(" ");
        return byUrl[key] ?? gathered([HOST]);
      },
      ...overrides,
    };
  }

  it("RunsEveryCheck_ProbesEachTurnUrlAlone_RelayOnly_WithCredentials", async () => {
    const p = ports(
      {},
      {
        "stun:h:3478": gathered([HOST, SRFLX(61000)]),
        "stun:h:3478 stun:h:3479": gathered([HOST, SRFLX(61000), SRFLX(61002)]),
        "turn:h:3478?transport=udp": gathered([RELAY]),
        "turn:h:3478?transport=tcp": gathered([RELAY]),
      },
    );
    const steps: string[] = [];
    const fractions: number[] = [];
    const report = await runDiagnostics(p, (pr) => {
      steps.push(pr.step);
      fractions.push(pr.fraction);
    });
    expect(p.gathers.map((g) => [g.policy, g.servers[0]!.urls])).toEqual([
      ["all", ["stun:h:3478"]],
      ["all", ["stun:h:3478", "stun:h:3479"]],
      ["relay", ["turn:h:3478?transport=udp"]],
      ["relay", ["turn:h:3478?transport=tcp"]],
    ]);
    expect(p.gathers[2]!.servers[0]).toMatchObject({ username: "u", credential: "c" });
    expect(steps).toEqual(["capabilities", "signaling", "ice", "stun", "nat", "turn", "turn", "summary", "summary"]);
    expect(fractions.at(-1)).toBe(1);
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]!).toBeGreaterThanOrEqual(fractions[i - 1]!);
    expect(report.nat?.behaviour).toBe("address-port-dependent");
    expect(report.summary?.verdicts).toEqual(["symmetric-nat", "turn-udp-ok", "turn-tcp-ok"]);
    expect(report.signaling).toMatchObject({ ok: true, status: 200 });
    expect(report.finishedAt).not.toBeNull();
    // The copied report never carries credentials.
    expect(JSON.stringify(report)).not.toMatch(/"credential"|"username"/);
  });

  it("IceUnavailable_And_SignalingDown_ReportedNotThrown", async () => {
    const p = ports({
      pingSignaling: async () => {
        throw new Error("net::ERR_CONNECTION_REFUSED");
      },
      loadIce: async () => {
        throw new Error("HTTP 429");
      },
    });
    const report = await runDiagnostics(p);
    expect(report.signaling).toMatchObject({ ok: false, latencyMs: null });
    expect(report.ice).toMatchObject({ ok: false, error: "HTTP 429" });
    expect(p.gathers).toEqual([]);
    expect(report.summary?.verdicts).toEqual(["signaling-down", "ice-config-down", "no-relay-configured"]);
    expect(report.summary?.outlook).toBe("none");
  });

  it("NoWebRtc_NoGathering", async () => {
    const p = ports({ capabilities: () => ({ ...caps, peerConnection: false, dataChannel: false }) });
    const report = await runDiagnostics(p);
    expect(p.gathers).toEqual([]);
    expect(report.summary?.outlook).toBe("none");
  });

  it("WithoutStunProbes_UsesTwoConfiguredStunServers", async () => {
    const p = ports({
      loadIce: async () => ({ iceServers: [{ urls: ["stun:a:3478"] }, { urls: ["stun:b:3478"] }], providers: ["a", "b"], relayOnly: false, stunProbes: [] }),
    });
    await runDiagnostics(p);
    expect(p.gathers.map((g) => g.servers[0]!.urls)).toEqual([["stun:a:3478"], ["stun:b:3478"], ["stun:a:3478", "stun:b:3478"]]);
  });
});
