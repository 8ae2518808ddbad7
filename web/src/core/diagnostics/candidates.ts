/** ICE candidates as the diagnostics record them, parsed from the SDP `candidate:` attribute. */
export type CandidateType = "host" | "srflx" | "prflx" | "relay";

export interface CandidateRecord {
  type: CandidateType;
  protocol: "udp" | "tcp";
  /** IP address or mDNS name (`….local`). */
  address: string;
  port: number;
  relatedAddress: string | null;
  relatedPort: number | null;
  /** The STUN/TURN URL that produced it, when the browser says (Chromium does). */
  url: string | null;
  /** For relay candidates: how the browser reached the TURN server, when known. */
  relayProtocol: "udp" | "tcp" | "tls" | null;
}

const TYPES: readonly string[] = ["host", "srflx", "prflx", "relay"];

/**
 * Parses `candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>
 * [raddr <a> rport <p>] …` (RFC 8839 §5.1). Returns null for anything malformed.
 */
export function parseCandidate(line: string, url: string | null = null, relayProtocol: string | null = null): CandidateRecord | null {
  if (typeof line !== "string" || line.length > 1024) return null;
  const text = line.trim().replace(/^a=/, "");
  if (!text.startsWith("candidate:")) return null;
  const parts = text.slice("candidate:".length).split(/\s+/);
  if (parts.length < 8 || parts[6] !== "typ") return null;
  const protocol = parts[2]?.toLowerCase();
  if (protocol !== "udp" && protocol !== "tcp") return null;
  const address = parts[4] ?? "";
  const port = Number(parts[5]);
  const type = parts[7] ?? "";
  if (!TYPES.includes(type) || !/^[0-9A-Za-z.:%_-]{1,255}$/.test(address) || !Number.isInteger(port) || port < 0 || port > 65535) return null;
  let relatedAddress: string | null = null;
  let relatedPort: number | null = null;
  for (let i = 8; i + 1 < parts.length; i += 2) {
    if (parts[i] === "raddr") relatedAddress = parts[i + 1] ?? null;
    else if (parts[i] === "rport") {
      const p = Number(parts[i + 1]);
      relatedPort = Number.isInteger(p) && p >= 0 && p <= 65535 ? p : null;
    }
  }
  const rp = relayProtocol?.toLowerCase();
  return {
    type: type as CandidateType,
    protocol,
    address,
    port,
    relatedAddress,
    relatedPort,
    url: typeof url === "string" && url.length > 0 ? url : null,
    relayProtocol: type === "relay" && (rp === "udp" || rp === "tcp" || rp === "tls") ? rp : null,
  };
}

export type TurnTransport = "udp" | "tcp" | "tls";

export interface IceUrl {
  scheme: "stun" | "stuns" | "turn" | "turns";
  host: string;
  port: number;
  transport: TurnTransport;
  /** The URL as given. */
  url: string;
}

/** Parses a stun:/stuns:/turn:/turns: URL (RFC 7064/7065); null when malformed. */
export function parseIceUrl(url: string): IceUrl | null {
  if (typeof url !== "string" || url.length > 512) return null;
  const m = /^(stuns?|turns?):(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?(?:\?transport=(udp|tcp))?$/i.exec(url.trim());
  if (!m) return null;
  const scheme = m[1]!.toLowerCase() as IceUrl["scheme"];
  const secure = scheme === "stuns" || scheme === "turns";
  const port = m[3] === undefined ? (secure ? 5349 : 3478) : Number(m[3]);
  if (port < 1 || port > 65535) return null;
  const param = m[4]?.toLowerCase();
  const transport: TurnTransport = secure ? "tls" : param === "tcp" ? "tcp" : "udp";
  return { scheme, host: m[2]!, port, transport, url: url.trim() };
}

/** `ip:port`, with IPv6 in brackets. */
export function endpoint(c: { address: string; port: number }): string {
  return c.address.includes(":") ? `[${c.address}]:${c.port}` : `${c.address}:${c.port}`;
}
