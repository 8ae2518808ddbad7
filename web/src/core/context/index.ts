/**
 * Secure-context check. Browsers give WebCrypto, service workers, wake locks, the async
 * clipboard and the camera and microphone (`navigator.mediaDevices`) only to secure contexts (https://, or http://localhost). A self-hoster who opens
 * `http://192.168.1.10:8080` from a phone gets a page where those are missing; this module decides
 * whether that is the case and what the user can do about it. No DOM: the UI passes the facts in.
 */

/** What the browser told us about this page. */
export interface ContextFacts {
  /** `window.isSecureContext`. */
  secureContext: boolean;
  /** `location.protocol`, e.g. `"http:"`. */
  protocol: string;
  /** `location.hostname` (IPv6 addresses in brackets, as browsers give them). */
  hostname: string;
  /** `location.port` ("" for the scheme's default). */
  port: string;
  /** Whether `crypto.subtle` exists. */
  webCrypto: boolean;
  /** Whether `navigator.serviceWorker` exists. */
  serviceWorker: boolean;
  /** Whether `navigator.wakeLock` exists. */
  wakeLock: boolean;
  /** Whether `navigator.clipboard` exists. */
  clipboard: boolean;
  /** Whether `navigator.mediaDevices.getUserMedia` exists (calls: camera and microphone). */
  mediaDevices: boolean;
}

/** Features a secure context would give, in the order the notice lists them. */
export type ContextFeature = "webCrypto" | "serviceWorker" | "mediaDevices" | "wakeLock" | "clipboard";
export const CONTEXT_FEATURES: readonly ContextFeature[] = ["webCrypto", "serviceWorker", "mediaDevices", "wakeLock", "clipboard"];

/** Where the address the page was opened at points: decides which fix to suggest. */
export type HostKind = "this-device" | "local-network" | "internet";

export type ContextAssessment =
  | { secure: true }
  | {
      secure: false;
      host: string;
      hostKind: HostKind;
      /** Features this page lacks (may be empty in a browser that gives them anyway). */
      missing: ContextFeature[];
      /**
       * True when GhostChat cannot work at all here: without WebCrypto there is no invite handshake
       * and no verification code, so the app must not start and only the explanation is shown.
       */
      blocking: boolean;
      /** `http://localhost:<port>/`: works when the server runs on the device holding the browser. */
      localhostUrl: string;
    };

export function assessContext(facts: ContextFacts): ContextAssessment {
  if (facts.secureContext) return { secure: true };
  const missing = CONTEXT_FEATURES.filter((f) => !facts[f]);
  const port = /^\d{1,5}$/.test(facts.port) ? `:${facts.port}` : "";
  return {
    secure: false,
    host: facts.hostname,
    hostKind: classifyHost(facts.hostname),
    missing,
    blocking: !facts.webCrypto,
    localhostUrl: `http://localhost${port}/`,
  };
}

/** Loopback names and addresses, private and link-local ranges, and local-only names. */
export function classifyHost(hostname: string): HostKind {
  const host = hostname
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "");
  if (host === "" || host === "localhost" || host.endsWith(".localhost") || host === "::1") return "this-device";
  const v4 = parseIPv4(host);
  if (v4) {
    const [a, b] = v4;
    if (a === 127) return "this-device";
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127)) {
      return "local-network";
    }
    return "internet";
  }
  if (host.includes(":")) {
    // IPv6: unique local fc00::/7, link-local fe80::/10.
    if (/^f[cd][0-9a-f]{0,2}:/.test(host) || /^fe[89ab][0-9a-f]?:/.test(host)) return "local-network";
    return "internet";
  }
  // Names with no dot, and names under local-only suffixes, are reached on the local network.
  if (!host.includes(".") || /\.(local|lan|home|internal|home\.arpa|intranet|corp)$/.test(host)) return "local-network";
  return "internet";
}

function parseIPv4(host: string): [number, number, number, number] | null {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return null;
  const n = parts.map(Number);
  if (n.some((x) => x > 255)) return null;
  return n as [number, number, number, number];
}
