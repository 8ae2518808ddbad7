import { parseIceConfig, urlsOf, type IceConfig } from "../diagnostics";

/**
 * The browser's side of the ICE service (contract C2): the servers this page uses, with failover
 * across providers. `/api/ice` names the provider of every server it hands out; a provider whose
 * TURN servers give this browser no relay candidate (wrong credentials, stopped, blocked from this
 * network) is left out by asking again with `?exclude=`. The server's prober catches most broken
 * providers; this catches the rest: the ones that broke since the last probe and the ones that only
 * fail from where this browser stands.
 *
 * `servers` and `providersByUrl` are live objects: peers built with them see every replacement
 * (RTCPeerConnection reads its configuration when it is constructed), and so does the quality
 * indicator that names the provider of the path in use.
 */
export interface IceAnswer extends IceConfig {
  /** When the earliest credential in the answer expires (ms since the epoch), or null. */
  expiresAt: number | null;
  /** The operator's file size limit (`GhostChat:Files:MaxBytes`), or null when the answer does not say. */
  maxFileBytes: number | null;
}

/** Largest file size an answer may announce (the file protocol's 2^46 bytes). */
const MAX_ANNOUNCED_FILE_BYTES = 2 ** 46;

export interface IceFailoverPorts {
  /** GET /api/ice?exclude=… — rejects on network errors, HTTP errors and malformed bodies. */
  fetch(exclude: readonly string[]): Promise<IceAnswer>;
  /** Gathers with `server` alone under the relay policy: true when a relay candidate came. */
  checkTurn?(server: RTCIceServer): Promise<boolean>;
  now?(): number;
  /** Timers for the refresh before credentials expire (tests pass fakes). */
  setTimer?(fn: () => void, ms: number): unknown;
  clearTimer?(handle: unknown): void;
}

export interface IceEvent {
  /** "loaded": first list; "failover": providers left out and a new list adopted; "refreshed": new credentials. */
  kind: "loaded" | "failover" | "refreshed";
  providers: string[];
  excluded: string[];
}

/** Most providers one page leaves out (the server accepts up to IceExtensions.MaxExcludeNames, 32). */
export const MAX_EXCLUDED = 16;
/** Rounds of check-and-exclude in one load or failover (each round leaves out at least one provider). */
const MAX_ROUNDS = 3;
/** Credentials are renewed when this share of their lifetime is gone. */
const REFRESH_AT = 0.75;
/** Never refresh more often than this (a clock skew must not make a refresh loop). */
const MIN_REFRESH_MS = 30_000;

export class IceFailover {
  /** The RTCIceServer list peers use; replaced in place. */
  readonly servers: RTCIceServer[] = [];
  /** Every URL of `servers` -> the provider that gave it (for the path report). */
  readonly providersByUrl = new Map<string, string>();
  /** The server asked for relay candidates only. */
  relayOnly = false;
  expiresAt: number | null = null;
  /** The operator's file size limit from the last answer (null: not said). */
  maxFileBytes: number | null = null;
  /** Observers (the UI's log line, tests). */
  onChange: (event: IceEvent) => void = () => undefined;
  private providers: string[] = [];
  private readonly excluded = new Set<string>();
  private loadedAt = 0;
  private timer: unknown = null;
  private disposed = false;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly ports: IceFailoverPorts) {}

  /** Providers left out so far. */
  get left(): string[] {
    return [...this.excluded];
  }

  /** Provider names of `servers`, in order. */
  get names(): string[] {
    return [...this.providers];
  }

  /**
   * Fetches the list, then checks its TURN providers and fails over from those that give no relay
   * candidate. Rejects only when the first fetch fails (the caller decides what an empty list means).
   */
  async load(options: { relayOnly?: boolean } = {}): Promise<void> {
    this.adopt(await this.ports.fetch(this.left));
    // With relay candidates only, a broken TURN provider means no connection: check before using
    // the list. Otherwise direct paths may do, so the check runs on while the peer connects and
    // its outcome serves the next connections (retries, and the host's next joiners).
    const checked = this.serial(() => this.checkAndExclude()).then(() => this.notify("loaded"));
    if (options.relayOnly === true || this.relayOnly) await checked;
  }

  /**
   * After ICE failed with the current list: providers whose TURN servers give no relay candidate now
   * are left out; when all still gather, the path through them failed, so every TURN provider in the
   * list is. Resolves true when a new list with other servers replaced the old one.
   */
  failover(): Promise<boolean> {
    return this.serial(() => this.failoverNow());
  }

  private async failoverNow(): Promise<boolean> {
    if (this.disposed) return false;
    let blamed = await this.failingProviders();
    if (blamed.length === 0) blamed = this.turnProviders();
    if (blamed.length === 0) return false;
    const changed = await this.excludeAndFetch(blamed);
    if (changed) {
      await this.checkAndExclude();
      this.notify("failover");
    }
    return changed;
  }

  /** Fetches fresh credentials with the same providers left out (keeps the old list on errors). */
  refresh(): Promise<void> {
    return this.serial(() => this.refreshNow());
  }

  private async refreshNow(): Promise<void> {
    if (this.disposed) return;
    try {
      const answer = await this.ports.fetch(this.left);
      if (answer.iceServers.length > 0) {
        this.adopt(answer);
        this.notify("refreshed");
      }
    } catch {
      // keep the current credentials; the next timer tries again
    }
    this.schedule();
  }

  /** Stops the refresh timer. */
  dispose(): void {
    this.disposed = true;
    if (this.timer !== null) (this.ports.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>)))(this.timer);
    this.timer = null;
  }

  /** Milliseconds until the credentials should be renewed, or null when they do not expire. */
  refreshDelayMs(): number | null {
    if (this.expiresAt === null) return null;
    const lifetime = this.expiresAt - this.loadedAt;
    const due = this.loadedAt + Math.max(0, lifetime) * REFRESH_AT;
    return Math.max(MIN_REFRESH_MS, due - this.now());
  }

  /** Tells the observer; its mistakes are not ours to fail on (the check may run unawaited). */
  private notify(kind: IceEvent["kind"]): void {
    try {
      this.onChange({ kind, providers: this.names, excluded: this.left });
    } catch {
      // an observer that throws changes nothing here
    }
  }

  /** One check, failover or refresh at a time, in call order. */
  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private now(): number {
    return (this.ports.now ?? Date.now)();
  }

  private adopt(answer: IceAnswer): void {
    this.servers.splice(0, this.servers.length, ...answer.iceServers);
    this.providers = [...answer.providers];
    this.providersByUrl.clear();
    answer.iceServers.forEach((s, i) => {
      for (const url of urlsOf(s)) this.providersByUrl.set(url, answer.providers[i] ?? `server ${i + 1}`);
    });
    this.relayOnly = answer.relayOnly;
    this.expiresAt = answer.expiresAt;
    this.maxFileBytes = answer.maxFileBytes;
    this.loadedAt = this.now();
    this.schedule();
  }

  private schedule(): void {
    if (this.disposed || !this.ports.setTimer) return;
    if (this.timer !== null) (this.ports.clearTimer ?? (() => undefined))(this.timer);
    this.timer = null;
    const delay = this.refreshDelayMs();
    if (delay !== null) this.timer = this.ports.setTimer(() => void this.refresh(), delay);
  }

  private nameAt(i: number): string {
    return this.providers[i] ?? `server ${i + 1}`;
  }

  private turnProviders(): string[] {
    const names = new Set<string>();
    this.servers.forEach((s, i) => {
      if (urlsOf(s).some(isTurnUrl)) names.add(this.nameAt(i));
    });
    return [...names];
  }

  /** TURN providers none of whose servers gives a relay candidate now (none without a checker). */
  private async failingProviders(): Promise<string[]> {
    const check = this.ports.checkTurn;
    if (!check) return [];
    const byProvider = new Map<string, RTCIceServer[]>();
    this.servers.forEach((s, i) => {
      if (!urlsOf(s).some(isTurnUrl)) return;
      const name = this.nameAt(i);
      byProvider.set(name, [...(byProvider.get(name) ?? []), s]);
    });
    const verdicts = await Promise.all(
      [...byProvider].map(async ([name, servers]) => {
        const results = await Promise.all(servers.map((s) => check({ ...s, urls: urlsOf(s).filter(isTurnUrl) }).catch(() => false)));
        return results.some(Boolean) ? null : name;
      }),
    );
    return verdicts.filter((n): n is string => n !== null);
  }

  private async checkAndExclude(): Promise<void> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const failing = await this.failingProviders();
      if (failing.length === 0) return;
      if (!(await this.excludeAndFetch(failing))) return;
    }
  }

  /**
   * Asks again without `names` (and everything left out before). A new list is adopted only when it
   * has servers; otherwise the old one stays (a relay that may work beats none) and `names` are not
   * left out, so a later refresh can still hand them out.
   */
  private async excludeAndFetch(names: string[]): Promise<boolean> {
    const fresh = names.filter((n) => !this.excluded.has(n));
    if (fresh.length === 0 || this.excluded.size + fresh.length > MAX_EXCLUDED) return false;
    const exclude = [...this.excluded, ...fresh];
    let answer: IceAnswer;
    try {
      answer = await this.ports.fetch(exclude);
    } catch {
      return false;
    }
    const others = answer.iceServers.filter((_, i) => !exclude.includes(answer.providers[i] ?? ""));
    // A list that lost its relays to a STUN-only one is no better when a relay was what we had.
    const hadTurn = this.turnProviders().length > 0;
    if (others.length === 0 || (hadTurn && !others.some((s) => urlsOf(s).some(isTurnUrl)))) return false;
    for (const n of fresh) this.excluded.add(n);
    this.adopt(answer);
    return true;
  }
}

/**
 * Parses an /api/ice answer: the servers and providers as the diagnostics page reads them, and the
 * earliest expiry. Null for a body that is not an answer at all.
 */
export function parseIceAnswer(body: unknown): IceAnswer | null {
  const config = parseIceConfig(body);
  if (!config) return null;
  const raw = (body as { expiresAt?: unknown }).expiresAt;
  const expiresAt = typeof raw === "string" && raw.length <= 64 ? Date.parse(raw) : NaN;
  const files = (body as { maxFileBytes?: unknown }).maxFileBytes;
  const maxFileBytes = typeof files === "number" && Number.isSafeInteger(files) && files >= 1 && files <= MAX_ANNOUNCED_FILE_BYTES ? files : null;
  return { ...config, expiresAt: Number.isFinite(expiresAt) ? expiresAt : null, maxFileBytes };
}

/**
 * GET an /api/ice answer (no cookies, no cache). Rejects with "HTTP <status>" or "malformed answer",
 * the words the diagnostics report shows.
 */
export async function fetchIceAnswer(url: string): Promise<IceAnswer> {
  const response = await fetch(url, { cache: "no-store", credentials: "omit" });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const answer = parseIceAnswer(await response.json().catch(() => null));
  if (!answer) throw new Error("malformed answer");
  return answer;
}

/** `endpoint?exclude=a,b` (names are the server's own: letters, digits, '-', '_', '.'). */
export function iceUrlExcluding(endpoint: string, exclude: readonly string[]): string {
  if (exclude.length === 0) return endpoint;
  return `${endpoint}${endpoint.includes("?") ? "&" : "?"}exclude=${exclude.map(encodeURIComponent).join(",")}`;
}

function isTurnUrl(url: string): boolean {
  return /^turns?:/i.test(url);
}
