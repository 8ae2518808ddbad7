/** Where the app finds its signaling server and ICE servers. Default: the origin that served it. */
export interface ServerSettings {
  /** false = use the server that served the app (same origin, path "/", key "peerjs", ICE from /api/ice). */
  custom: boolean;
  host: string;
  port: number;
  path: string;
  key: string;
  secure: boolean;
  /** Custom ICE servers; empty with custom=true means "ask /api/ice on the custom host". */
  iceServers: RTCIceServer[];
}

export const DEFAULT_SETTINGS: ServerSettings = { custom: false, host: "", port: 443, path: "/", key: "peerjs", secure: true, iceServers: [] };

/** The form's raw text fields. */
export interface SettingsForm {
  custom: boolean;
  host: string;
  port: string;
  path: string;
  key: string;
  secure: boolean;
  /** One ICE server per line: `URL [username credential]`. */
  iceServers: string;
}

export type SettingsField = "host" | "port" | "path" | "key" | "iceServers";
export type SettingsErrors = Partial<Record<SettingsField, string>>;
export type SettingsResult = { ok: true; settings: ServerSettings } | { ok: false; errors: SettingsErrors };

const HOST = /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV6 = /^\[[0-9A-Fa-f:.]+\]$/;
const ICE_URL = /^(stun|stuns|turn|turns):[^\s?#]+(\?transport=(udp|tcp))?$/;

/** Validates every field and collects every error (keys name the field; values are string-module keys). */
export function validateSettings(form: SettingsForm): SettingsResult {
  if (!form.custom) return { ok: true, settings: { ...DEFAULT_SETTINGS } };
  const errors: SettingsErrors = {};
  const host = form.host.trim();
  if (!HOST.test(host) && !IPV6.test(host)) errors.host = "settingsErrorHost";
  const port = Number(form.port.trim());
  if (!/^\d{1,5}$/.test(form.port.trim()) || port < 1 || port > 65535) errors.port = "settingsErrorPort";
  const path = form.path.trim() || "/";
  if (!/^\/[A-Za-z0-9._~/-]*$/.test(path)) errors.path = "settingsErrorPath";
  const key = form.key.trim();
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(key)) errors.key = "settingsErrorKey";
  const ice = parseIceServers(form.iceServers);
  if (ice === null) errors.iceServers = "settingsErrorIce";
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, settings: { custom: true, host, port, path, key, secure: form.secure, iceServers: ice ?? [] } };
}

/** `URL [username credential]` per line; blank lines ignored. Null when any line is invalid. */
export function parseIceServers(text: string): RTCIceServer[] | null {
  const servers: RTCIceServer[] = [];
  for (const line of text.split(/\r?\n/)) {
    const parts = line
      .trim()
      .split(/\s+/)
      .filter((p) => p.length > 0);
    if (parts.length === 0) continue;
    const [urls, username, credential] = parts as [string, string?, string?];
    if (!ICE_URL.test(urls) || parts.length === 2 || parts.length > 3) return null;
    const isTurn = urls.startsWith("turn");
    if (isTurn && parts.length !== 3) return null;
    servers.push(isTurn ? { urls, username, credential } : { urls });
  }
  return servers;
}

export function settingsToForm(s: ServerSettings): SettingsForm {
  return {
    custom: s.custom,
    host: s.host,
    port: String(s.port),
    path: s.path,
    key: s.key,
    secure: s.secure,
    iceServers: s.iceServers.map((i) => [i.urls, i.username, i.credential].filter((x) => x !== undefined).join(" ")).join("\n"),
  };
}

const STORAGE_KEY = "ghostchat.settings.v1";

/** Loads saved settings; anything unreadable or invalid falls back to the defaults. */
export function loadSettings(storage: Pick<Storage, "getItem">): ServerSettings {
  try {
    const raw = storage.getItem(STORAGE_KEY);
    if (!raw) return { ...DEFAULT_SETTINGS };
    const parsed = JSON.parse(raw) as ServerSettings;
    const result = validateSettings(settingsToForm({ ...DEFAULT_SETTINGS, ...parsed }));
    return result.ok ? result.settings : { ...DEFAULT_SETTINGS };
  } catch {
    return { ...DEFAULT_SETTINGS };
  }
}

export function saveSettings(storage: Pick<Storage, "setItem" | "removeItem">, s: ServerSettings): void {
  if (!s.custom) storage.removeItem(STORAGE_KEY);
  else storage.setItem(STORAGE_KEY, JSON.stringify(s));
}

/** PeerJS options for these settings; `location` is the page's own location. */
export function peerServerOptions(
  s: ServerSettings,
  location: { hostname: string; port: string; protocol: string },
): { host: string; port: number; path: string; key: string; secure: boolean } {
  if (!s.custom) {
    const secure = location.protocol === "https:";
    const port = location.port ? Number(location.port) : secure ? 443 : 80;
    return { host: location.hostname, port, path: "/", key: "peerjs", secure };
  }
  return { host: s.host, port: s.port, path: s.path, key: s.key, secure: s.secure };
}

/** Where to ask for ICE servers; null when the custom settings list them. */
export function iceEndpoint(s: ServerSettings): string | null {
  if (!s.custom) return "/api/ice";
  if (s.iceServers.length > 0) return null;
  return `${s.secure ? "https" : "http"}://${s.host}:${s.port}/api/ice`;
}

/** The origins a custom server needs: http(s) for its ids and /api/ice, ws(s) for the socket. Empty for the default server. */
export function serverOrigins(s: ServerSettings): string[] {
  if (!s.custom) return [];
  const host = s.host.toLowerCase();
  return [`${s.secure ? "https" : "http"}://${host}:${s.port}`, `${s.secure ? "wss" : "ws"}://${host}:${s.port}`];
}

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443, ws: 80, wss: 443 };

/** Whether a CSP source expression admits `target` ("scheme://host:port"), the page being `page` (same form). */
function sourceAdmits(source: string, target: URL, page: URL): boolean {
  const scheme = target.protocol.slice(0, -1);
  const port = Number(target.port || DEFAULT_PORTS[scheme]);
  // A scheme may be "upgraded": http admits https, ws, wss; https admits wss; ws admits wss (CSP3).
  const schemeOk = (allowed: string) =>
    allowed === scheme ||
    (allowed === "http" && (scheme === "https" || scheme === "ws" || scheme === "wss")) ||
    (allowed === "https" && scheme === "wss") ||
    (allowed === "ws" && scheme === "wss");
  const s = source.toLowerCase();
  if (s === "*") return scheme !== "data" && scheme !== "blob";
  if (s === "'self'") {
    const pagePort = Number(page.port || DEFAULT_PORTS[page.protocol.slice(0, -1)]);
    return schemeOk(page.protocol.slice(0, -1)) && target.hostname === page.hostname && port === pagePort;
  }
  if (s.startsWith("'")) return false; // 'none', nonces, keywords: no host
  const m = /^(?:([a-z][a-z0-9+.-]*):)?(?:\/\/)?([^/:]*)(?::(\d+|\*))?(\/.*)?$/.exec(s);
  if (!m) return true; // a form this reader does not know: do not claim it blocks
  const [, srcScheme, srcHost, srcPort] = m;
  if (srcHost === "" && srcScheme) return schemeOk(srcScheme); // "https:"
  if (srcScheme ? !schemeOk(srcScheme) : !schemeOk(page.protocol.slice(0, -1))) return false;
  const hostOk = srcHost!.startsWith("*.") ? target.hostname.endsWith(srcHost!.slice(1)) : srcHost === "*" || srcHost === target.hostname;
  if (!hostOk) return false;
  if (srcPort === "*") return true;
  const wanted = srcPort ? Number(srcPort) : DEFAULT_PORTS[srcScheme ?? scheme];
  // Without a port the default port of the source's scheme stands, also for an upgraded scheme.
  return port === wanted || (!srcPort && port === DEFAULT_PORTS[scheme]);
}

/**
 * Which of `origins` the page's Content-Security-Policy (the header's text) does not let the app
 * connect to: its connect-src, or default-src when there is none. Null policy: nothing is known to
 * be blocked. Source forms this reader does not know count as admitting, so it never reports a
 * server blocked that is not.
 */
export function originsBlockedByPolicy(policy: string | null, pageOrigin: string, origins: readonly string[]): string[] {
  if (!policy) return [];
  const directives = new Map<string, string[]>();
  for (const part of policy.split(";")) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name && !directives.has(name.toLowerCase())) directives.set(name.toLowerCase(), sources);
  }
  const sources = directives.get("connect-src") ?? directives.get("default-src");
  if (!sources) return [];
  const page = new URL(pageOrigin);
  return origins.filter((o) => !sources.some((src) => sourceAdmits(src, new URL(o), page)));
}
