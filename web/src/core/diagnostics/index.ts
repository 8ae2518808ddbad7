import type { StringKey } from "../strings";
import { endpoint, parseIceUrl, type CandidateRecord, type TurnTransport } from "./candidates";

export { endpoint, parseCandidate, parseIceUrl, type CandidateRecord, type IceUrl, type TurnTransport } from "./candidates";

// ---- recorded results ---------------------------------------------------------------------------

/** One ICE gathering run as the browser reported it. */
export interface GatherResult {
  candidates: CandidateRecord[];
  errors: { url: string | null; errorCode: number; errorText: string }[];
  /** Gathering did not reach "complete" before the timeout. */
  timedOut: boolean;
  durationMs: number;
}

export interface Capabilities {
  peerConnection: boolean;
  dataChannel: boolean;
  getStats: boolean;
  secureContext: boolean;
  userAgent: string;
}

export interface SignalingResult {
  ok: boolean;
  latencyMs: number | null;
  status: number | null;
  error: string | null;
}

export interface IceConfigResult {
  ok: boolean;
  servers: number;
  providers: string[];
  relayOnly: boolean;
  stunProbes: string[];
  error: string | null;
}

export interface StunResult {
  url: string;
  ok: boolean;
  /** Server-reflexive addresses seen (ip:port). */
  mapped: string[];
  hostCandidates: number;
  error: string | null;
}

export type NatBehaviour = "no-nat" | "endpoint-independent" | "address-port-dependent" | "udp-blocked" | "unknown";

export interface NatResult {
  behaviour: NatBehaviour;
  /** Distinct mapped addresses seen for one local socket. */
  mapped: string[];
  servers: string[];
}

export interface TurnResult {
  provider: string;
  url: string;
  transport: TurnTransport;
  port: number;
  ok: boolean;
  relay: string | null;
  errorCode: number | null;
  errorText: string | null;
  /** String key explaining errorCode in plain words. */
  explanation: StringKey | null;
  timeMs: number;
}

/** Every verdict the summary can give (field data sends these names: core/telemetry). */
export const VERDICTS = [
  "no-webrtc",
  "insecure-context",
  "signaling-down",
  "ice-config-down",
  "udp-blocked",
  "symmetric-nat",
  "nat-friendly",
  "no-nat",
  "turn-udp-ok",
  "turn-tcp-ok",
  "turn-tls-ok",
  "only-443",
  "turn-credentials-refused",
  "relay-unreachable",
  "no-relay-configured",
] as const;
export type Verdict = (typeof VERDICTS)[number];

export type Outlook = "direct" | "relay" | "none" | "unknown";

export interface Summary {
  verdicts: Verdict[];
  /** What a chat from this network can expect. */
  outlook: Outlook;
  headline: StringKey;
  advice: StringKey[];
}

export interface DiagnosticsReport {
  version: 1;
  startedAt: string;
  finishedAt: string | null;
  capabilities: Capabilities | null;
  signaling: SignalingResult | null;
  ice: IceConfigResult | null;
  stun: StunResult[];
  nat: NatResult | null;
  turn: TurnResult[];
  summary: Summary | null;
}

// ---- verdict logic (pure) -----------------------------------------------------------------------

const PRIVATE_V4 = [/^10\./, /^192\.168\./, /^172\.(1[6-9]|2\d|3[01])\./, /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./, /^169\.254\./, /^127\./];

/** True for an IP address that is not private, CGNAT, link-local, loopback or an mDNS name. */
export function isPublicAddress(address: string): boolean {
  if (address.endsWith(".local") || address === "0.0.0.0" || address === "::") return false;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(address)) return !PRIVATE_V4.some((r) => r.test(address));
  const lower = address.toLowerCase();
  return lower.includes(":") && !lower.startsWith("fe80") && !lower.startsWith("fc") && !lower.startsWith("fd") && lower !== "::1";
}

/**
 * NAT mapping from one gathering with two (or more) STUN servers on one socket per interface:
 * server-reflexive candidates for the same base with the same public IP but different ports mean
 * address/port-dependent (symmetric) mapping; one mapping for every server means endpoint-independent.
 * Under mDNS obfuscation Chromium redacts the related address/port (0.0.0.0:0); all srflx are then
 * taken as one base (one interface). No srflx at all: UDP to the STUN servers is blocked, unless the
 * host address is itself public (the browser drops a srflx equal to its host candidate).
 */
export function natMapping(gather: GatherResult, servers: string[]): NatResult {
  const udp = gather.candidates.filter((c) => c.protocol === "udp");
  const srflx = udp.filter((c) => c.type === "srflx");
  const hosts = udp.filter((c) => c.type === "host");
  if (srflx.length === 0) {
    if (hosts.length > 0 && hosts.some((h) => isPublicAddress(h.address))) return { behaviour: "no-nat", mapped: [], servers };
    return { behaviour: hosts.length > 0 && servers.length > 0 ? "udp-blocked" : "unknown", mapped: [], servers };
  }
  // Mapped to the very address and port the socket has: no NAT in between.
  const hostAddresses = new Set(hosts.map((h) => h.address));
  if (
    srflx.every((c) => (c.relatedAddress === c.address && c.relatedPort === c.port) || (hostAddresses.has(c.address) && hosts.some((h) => h.port === c.port)))
  ) {
    return { behaviour: "no-nat", mapped: [...new Set(srflx.map(endpoint))], servers };
  }
  const groups = new Map<string, Set<string>>();
  for (const c of srflx) {
    const redacted = c.relatedPort === null || c.relatedPort === 0;
    const key = redacted ? "*" : `${c.relatedAddress ?? ""}|${c.relatedPort}`;
    let set = groups.get(key);
    if (!set) groups.set(key, (set = new Set()));
    set.add(endpoint(c));
  }
  const mapped = [...new Set(srflx.map(endpoint))];
  for (const set of groups.values()) {
    const byIp = new Map<string, Set<number>>();
    for (const e of set) {
      const i = e.lastIndexOf(":");
      const ip = e.slice(0, i);
      const ports = byIp.get(ip) ?? new Set<number>();
      ports.add(Number(e.slice(i + 1)));
      byIp.set(ip, ports);
    }
    if ([...byIp.values()].some((ports) => ports.size > 1)) return { behaviour: "address-port-dependent", mapped, servers };
  }
  // One mapping per base. With a single server we cannot tell the mapping apart.
  if (servers.length < 2) return { behaviour: "unknown", mapped, servers };
  return { behaviour: "endpoint-independent", mapped, servers };
}

/** STUN check for one server: did it give a server-reflexive address? */
export function stunResult(url: string, gather: GatherResult): StunResult {
  const mapped = [...new Set(gather.candidates.filter((c) => c.type === "srflx").map(endpoint))];
  const hostCandidates = gather.candidates.filter((c) => c.type === "host").length;
  const error = gather.errors.find((e) => e.url === null || e.url === url) ?? null;
  return {
    url,
    ok: mapped.length > 0,
    mapped,
    hostCandidates,
    error: mapped.length > 0 ? null : error ? `${error.errorCode} ${error.errorText}`.trim() : gather.timedOut ? "timeout" : "no answer",
  };
}

const EXPLAINED_CODES = [300, 400, 401, 403, 420, 437, 438, 440, 441, 442, 486, 508, 701] as const;
export type ExplainedCode = (typeof EXPLAINED_CODES)[number];

/** The plain-words explanation of a STUN/TURN or ICE error code (`icecandidateerror`). */
export function explainErrorCode(code: number | null): StringKey | null {
  if (code === null) return null;
  return (EXPLAINED_CODES as readonly number[]).includes(code) ? (`diag.code.${code as ExplainedCode}` as StringKey) : "diag.code.other";
}

/** TURN check for one URL of one provider, gathered with iceTransportPolicy "relay". */
export function turnResult(provider: string, url: string, gather: GatherResult): TurnResult {
  const parsed = parseIceUrl(url);
  const relay = gather.candidates.find((c) => c.type === "relay") ?? null;
  // Errors for other URLs cannot occur (one URL per probe) but a browser may omit the url.
  const errors = gather.errors.filter((e) => e.url === null || e.url === url || sameServer(e.url, url));
  // Prefer the most telling code: a refusal (4xx/5xx) over "no answer" (701).
  const error = errors.find((e) => e.errorCode !== 701) ?? errors[0] ?? null;
  const errorCode = relay ? null : error ? error.errorCode : gather.timedOut ? 701 : null;
  return {
    provider,
    url,
    transport: parsed?.transport ?? "udp",
    port: parsed?.port ?? 0,
    ok: relay !== null,
    relay: relay ? endpoint(relay) : null,
    errorCode,
    errorText: relay ? null : (error?.errorText ?? (gather.timedOut ? "timeout" : "no relay candidate")),
    explanation: relay ? null : explainErrorCode(errorCode ?? 701),
    timeMs: Math.round(gather.durationMs),
  };
}

function sameServer(a: string, b: string): boolean {
  const pa = parseIceUrl(a);
  const pb = parseIceUrl(b);
  return pa !== null && pb !== null && pa.host === pb.host && pa.port === pb.port && pa.transport === pb.transport;
}

/** The verdicts, the outlook for a chat, a headline and advice, from whatever checks ran. */
export function summarize(report: Pick<DiagnosticsReport, "capabilities" | "signaling" | "ice" | "stun" | "nat" | "turn">): Summary {
  const verdicts: Verdict[] = [];
  const caps = report.capabilities;
  if (caps && (!caps.peerConnection || !caps.dataChannel)) verdicts.push("no-webrtc");
  if (caps && !caps.secureContext) verdicts.push("insecure-context");
  if (report.signaling && !report.signaling.ok) verdicts.push("signaling-down");
  if (report.ice && !report.ice.ok) verdicts.push("ice-config-down");

  const turn = report.turn;
  const okTurn = turn.filter((r) => r.ok);
  const turnUdpOk = okTurn.some((r) => r.transport === "udp");
  const stunOk = report.stun.some((s) => s.ok);
  const nat = report.nat?.behaviour ?? "unknown";
  const udpBlocked = !stunOk && !turnUdpOk && (nat === "udp-blocked" || (report.stun.length > 0 && report.stun.every((s) => !s.ok && s.hostCandidates > 0)));
  if (udpBlocked) verdicts.push("udp-blocked");
  else if (nat === "address-port-dependent") verdicts.push("symmetric-nat");
  else if (nat === "endpoint-independent") verdicts.push("nat-friendly");
  else if (nat === "no-nat") verdicts.push("no-nat");

  if (turnUdpOk) verdicts.push("turn-udp-ok");
  if (okTurn.some((r) => r.transport === "tcp")) verdicts.push("turn-tcp-ok");
  if (okTurn.some((r) => r.transport === "tls")) verdicts.push("turn-tls-ok");
  // Only 443: every relay that worked is on 443 and a TCP/TLS relay on another port failed (a UDP
  // failure alone says "UDP blocked", not "only 443").
  if (okTurn.length > 0 && okTurn.every((r) => r.port === 443) && turn.some((r) => !r.ok && r.port !== 443 && r.transport !== "udp")) verdicts.push("only-443");
  if (turn.length === 0) verdicts.push("no-relay-configured");
  else if (okTurn.length === 0) {
    verdicts.push(turn.some((r) => r.errorCode === 401 || r.errorCode === 441) ? "turn-credentials-refused" : "relay-unreachable");
  }

  let outlook: Outlook;
  if (verdicts.includes("no-webrtc") || verdicts.includes("signaling-down")) outlook = "none";
  else if (!udpBlocked && (nat === "endpoint-independent" || nat === "no-nat")) outlook = "direct";
  else if (okTurn.length > 0) outlook = "relay";
  else if (udpBlocked || nat === "address-port-dependent") outlook = turn.length === 0 ? "unknown" : "none";
  else outlook = "unknown";

  const advice: StringKey[] = verdicts.map((v) => `diag.advice.${v}` as StringKey);
  return { verdicts, outlook, headline: `diag.headline.${outlook}` as StringKey, advice };
}

// ---- the run ------------------------------------------------------------------------------------

/** What the runner needs from the browser; the UI passes real implementations, tests pass recordings. */
export interface DiagnosticsPorts {
  now(): number;
  capabilities(): Capabilities;
  /** Reaches the signaling server over HTTP; resolves with the status (0 when unreachable). */
  pingSignaling(): Promise<{ status: number; error: string | null }>;
  /** GET /api/ice (or the configured servers), already parsed. */
  loadIce(): Promise<IceConfig>;
  /** One gathering with these servers; resolves (never rejects) when complete or timed out. */
  gather(servers: RTCIceServer[], policy: RTCIceTransportPolicy): Promise<GatherResult>;
}

export interface IceConfig {
  iceServers: RTCIceServer[];
  providers: string[];
  relayOnly: boolean;
  stunProbes: string[];
}

export type DiagnosticsStep = "capabilities" | "signaling" | "ice" | "stun" | "nat" | "turn" | "summary";
export const DIAGNOSTICS_STEPS: readonly DiagnosticsStep[] = ["capabilities", "signaling", "ice", "stun", "nat", "turn", "summary"];

export interface Progress {
  step: DiagnosticsStep;
  /** 0..1 over the whole run. */
  fraction: number;
  detail: string | null;
}

/**
 * Parses an /api/ice body (contract C2) without trusting it: malformed parts are dropped, a body
 * that is not an object at all is an error.
 */
export function parseIceConfig(body: unknown): IceConfig | null {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return null;
  const b = body as Record<string, unknown>;
  if (!Array.isArray(b.iceServers)) return null;
  const iceServers: RTCIceServer[] = [];
  const providers: string[] = [];
  const names = Array.isArray(b.providers) ? b.providers : [];
  b.iceServers.forEach((raw, i) => {
    if (typeof raw !== "object" || raw === null) return;
    const s = raw as Record<string, unknown>;
    const urls = (Array.isArray(s.urls) ? s.urls : [s.urls]).filter((u): u is string => typeof u === "string" && parseIceUrl(u) !== null);
    if (urls.length === 0) return;
    const server: RTCIceServer = { urls };
    if (typeof s.username === "string") server.username = s.username;
    if (typeof s.credential === "string") server.credential = s.credential;
    iceServers.push(server);
    const name = names[i];
    providers.push(typeof name === "string" && /^[\w.-]{1,64}$/.test(name) ? name : `server ${i + 1}`);
  });
  const stunProbes = (Array.isArray(b.stunProbes) ? b.stunProbes : [])
    .filter((u): u is string => typeof u === "string" && parseIceUrl(u)?.scheme === "stun")
    .slice(0, 4);
  return { iceServers, providers, relayOnly: b.relayOnly === true, stunProbes };
}

/** Runs every check in order, reporting progress; the report is built only from what was observed. */
export async function runDiagnostics(
  ports: DiagnosticsPorts,
  onProgress: (p: Progress, report: DiagnosticsReport) => void = () => undefined,
): Promise<DiagnosticsReport> {
  const report: DiagnosticsReport = {
    version: 1,
    startedAt: new Date(ports.now()).toISOString(),
    finishedAt: null,
    capabilities: null,
    signaling: null,
    ice: null,
    stun: [],
    nat: null,
    turn: [],
    summary: null,
  };
  // The first three checks count 10 % each, the probes share the next 65 %, the summary ends it.
  let done = 0;
  let probes = 0;
  let probesDone = 0;
  const fraction = () => (done >= 4 ? 1 : Math.min(0.3, done * 0.1) + (probes > 0 ? (0.65 * probesDone) / probes : 0));
  const progress = (step: DiagnosticsStep, detail: string | null = null) => onProgress({ step, fraction: fraction(), detail }, report);

  progress("capabilities");
  report.capabilities = ports.capabilities();
  done++;
  const canGather = report.capabilities.peerConnection;

  progress("signaling");
  const t0 = ports.now();
  const ping = await ports.pingSignaling().catch((e: unknown) => ({ status: 0, error: String(e) }));
  const ok = ping.status >= 200 && ping.status < 300;
  report.signaling = {
    ok,
    latencyMs: ok ? Math.round(ports.now() - t0) : null,
    status: ping.status || null,
    error: ok ? null : (ping.error ?? `HTTP ${ping.status}`),
  };
  done++;

  progress("ice");
  let ice: IceConfig | null = null;
  try {
    ice = await ports.loadIce();
    report.ice = { ok: true, servers: ice.iceServers.length, providers: ice.providers, relayOnly: ice.relayOnly, stunProbes: ice.stunProbes, error: null };
  } catch (e) {
    report.ice = { ok: false, servers: 0, providers: [], relayOnly: false, stunProbes: [], error: e instanceof Error ? e.message : String(e) };
  }
  done++;

  if (ice && canGather) {
    const stunUrls = [...new Set(ice.iceServers.flatMap(urlsOf).filter((u) => parseIceUrl(u)?.scheme === "stun"))];
    const natUrls = ice.stunProbes.length >= 2 ? ice.stunProbes : stunUrls.slice(0, 2);
    const turnProbes = ice.iceServers.flatMap((s, i) =>
      urlsOf(s)
        .filter((u) => /^turns?:/i.test(u))
        .map((url) => ({ url, server: s, provider: ice.providers[i] ?? `server ${i + 1}` })),
    );
    probes = stunUrls.length + (natUrls.length > 0 ? 1 : 0) + turnProbes.length;

    for (const url of stunUrls) {
      progress("stun", url);
      report.stun.push(stunResult(url, await ports.gather([{ urls: [url] }], "all")));
      probesDone++;
    }
    if (natUrls.length > 0) {
      progress("nat", natUrls.join(" "));
      report.nat = natMapping(await ports.gather([{ urls: natUrls }], "all"), natUrls);
      probesDone++;
    }
    for (const probe of turnProbes) {
      progress("turn", `${probe.provider} ${probe.url}`);
      const server: RTCIceServer = { urls: [probe.url] };
      if (probe.server.username !== undefined) server.username = probe.server.username;
      if (probe.server.credential !== undefined) server.credential = probe.server.credential;
      report.turn.push(turnResult(probe.provider, probe.url, await ports.gather([server], "relay")));
      probesDone++;
    }
  }

  progress("summary");
  report.summary = summarize(report);
  report.finishedAt = new Date(ports.now()).toISOString();
  done = 4;
  progress("summary");
  return report;
}

/** The URLs of one RTCIceServer (`urls` may be one string or a list). */
export function urlsOf(server: RTCIceServer): string[] {
  return (Array.isArray(server.urls) ? server.urls : [server.urls]).filter((u): u is string => typeof u === "string");
}
