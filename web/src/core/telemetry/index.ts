import { VERDICTS } from "../diagnostics";
import type { ErrorKind } from "../errors";

/**
 * Field data (opt-in, anonymous): what a browser whose person agreed reports, in the wire format of
 * docs/protocol.md, "Field data" (the server, src/GhostChat.Server/Telemetry/TelemetrySchema.cs, refuses
 * anything else). Only enumerations and bounded counts: no id, address, name, text, invite or time finer
 * than a bucket. Pure: the page (ui/telemetry.ts) feeds it and sends what `take()` returns.
 */

export const FAMILIES = ["chrome", "edge", "firefox", "safari", "samsung", "opera", "other"] as const;
export type BrowserFamily = (typeof FAMILIES)[number];
export const CONNECT_BUCKETS = ["0-1s", "1-2s", "2-5s", "5-10s", "10-30s", "30s+"] as const;
export type ConnectBucket = (typeof CONNECT_BUCKETS)[number];
export const RESUME_BUCKETS = ["0-2s", "2-5s", "5-15s", "15-60s", "60s+"] as const;
export type ResumeBucket = (typeof RESUME_BUCKETS)[number];
export type SizeBucket = "2" | "3-4" | "5-8" | "9+";
export type Outlook = "direct" | "relay" | "none" | "unknown";

export interface DiagnosticsSummary {
  outlook: Outlook;
  verdicts: string[];
}

export interface AttemptReport {
  outcome: "connected" | "failed";
  size: SizeBucket;
  ttc?: ConnectBucket;
  path?: "direct" | "relay";
  transport?: "udp" | "tcp" | "tls";
  provider?: string;
}

export interface RoomReport {
  size: SizeBucket;
  sent: number;
  delivered: number;
  givenUp: number;
  resumed?: ResumeBucket[];
}

export interface ErrorReportEntry {
  kind: ErrorKind;
  diagnostics?: DiagnosticsSummary;
}

export interface TelemetryReport {
  v: 1;
  browser: { family: BrowserFamily; major: number };
  attempts?: AttemptReport[];
  rooms?: RoomReport[];
  errors?: ErrorReportEntry[];
}

/** The server's bounds (TelemetrySchema.cs): a batch never holds more. */
export const LIMITS = { attempts: 32, rooms: 16, errors: 16, resumed: 64, count: 10_000 } as const;

function bucket<T extends string>(edgesMs: readonly number[], names: readonly T[], ms: number): T {
  const i = edgesMs.findIndex((edge) => ms < edge);
  return names[i === -1 ? names.length - 1 : i] as T;
}

/** Time from opening an invite to the chat being ready. */
export const connectBucket = (ms: number): ConnectBucket => bucket([1000, 2000, 5000, 10_000, 30_000], CONNECT_BUCKETS, ms);

/** Time from a member's path being lost to it being back. */
export const resumeBucket = (ms: number): ResumeBucket => bucket([2000, 5000, 15_000, 60_000], RESUME_BUCKETS, ms);

/** Room size (this side included). */
export function sizeBucket(members: number): SizeBucket {
  return members <= 2 ? "2" : members <= 4 ? "3-4" : members <= 8 ? "5-8" : "9+";
}

/** Browser family and major version from a User-Agent string; nothing else of it is kept. */
export function browserOf(userAgent: string): { family: BrowserFamily; major: number } {
  const rules: [RegExp, BrowserFamily][] = [
    [/SamsungBrowser\/(\d+)/, "samsung"],
    [/Edg(?:e|A|iOS)?\/(\d+)/, "edge"],
    [/(?:OPR|Opera)\/(\d+)/, "opera"],
    [/(?:Firefox|FxiOS)\/(\d+)/, "firefox"],
    [/(?:Chrome|CriOS)\/(\d+)/, "chrome"],
    [/Version\/(\d+)[^ ]* (?:Mobile\/\S+ )?Safari\//, "safari"],
  ];
  for (const [pattern, family] of rules) {
    const m = pattern.exec(userAgent);
    if (m) return { family, major: Math.min(999, Number(m[1])) };
  }
  return { family: "other", major: 0 };
}

/** The diagnostics page's summary without anything but its outlook and verdicts (never addresses). */
export function scrubDiagnostics(summary: unknown): DiagnosticsSummary | null {
  if (typeof summary !== "object" || summary === null) return null;
  const { outlook, verdicts } = summary as { outlook?: unknown; verdicts?: unknown };
  if (!["direct", "relay", "none", "unknown"].includes(outlook as string) || !Array.isArray(verdicts)) return null;
  const known = new Set<string>(VERDICTS);
  return { outlook: outlook as Outlook, verdicts: [...new Set(verdicts.filter((v): v is string => typeof v === "string" && known.has(v)))] };
}

/** Where the person's answer lives (localStorage): "on", "off", or nothing yet (then the app asks once). */
export const CONSENT_KEY = "ghostchat:field-data";
export type Consent = "on" | "off" | null;

export function loadConsent(storage: Pick<Storage, "getItem">): Consent {
  try {
    const value = storage.getItem(CONSENT_KEY);
    return value === "on" || value === "off" ? value : null;
  } catch {
    return "off"; // storage refused: never ask, never send
  }
}

export function saveConsent(storage: Pick<Storage, "setItem">, on: boolean): void {
  try {
    storage.setItem(CONSENT_KEY, on ? "on" : "off");
  } catch {
    // storage refused: the answer lasts for this page only
  }
}

/** One room's counts between two batches. */
export interface RoomCounts {
  size: SizeBucket;
  sent: number;
  delivered: number;
  givenUp: number;
  resumed: ResumeBucket[];
}

/**
 * What waits to be sent: attempts, room counts and errors, bounded as the server bounds them (past a limit
 * the oldest entries stay and new ones are dropped). `take()` empties it into one report, or null when
 * there is nothing to say.
 */
export class TelemetryBatch {
  private attempts: AttemptReport[] = [];
  private errors: ErrorReportEntry[] = [];
  private readonly rooms = new Set<RoomCounts>();

  constructor(private readonly browser: { family: BrowserFamily; major: number }) {}

  attempt(a: AttemptReport): void {
    if (this.attempts.length < LIMITS.attempts) this.attempts.push(a);
  }

  error(kind: ErrorKind, diagnostics: DiagnosticsSummary | null = null): void {
    if (this.errors.length < LIMITS.errors) this.errors.push(diagnostics ? { kind, diagnostics } : { kind });
  }

  /** An error the person chose to send at once ("Send this report"): not sent again with the batch. */
  dropError(kind: ErrorKind): void {
    const i = this.errors.findIndex((e) => e.kind === kind);
    if (i >= 0) this.errors.splice(i, 1);
  }

  /** Counts of one room, filled by its observer and read (then zeroed) at each `take()`. */
  room(size: SizeBucket): RoomCounts {
    const counts: RoomCounts = { size, sent: 0, delivered: 0, givenUp: 0, resumed: [] };
    this.rooms.add(counts);
    return counts;
  }

  get pending(): boolean {
    return this.attempts.length > 0 || this.errors.length > 0 || [...this.rooms].some(hasCounts);
  }

  take(): TelemetryReport | null {
    const rooms: RoomReport[] = [];
    for (const c of this.rooms) {
      if (hasCounts(c) && rooms.length < LIMITS.rooms) {
        const cap = (n: number) => Math.min(LIMITS.count, n);
        rooms.push({
          size: c.size,
          sent: cap(c.sent),
          delivered: cap(c.delivered),
          givenUp: cap(c.givenUp),
          ...(c.resumed.length ? { resumed: c.resumed.slice(0, LIMITS.resumed) } : {}),
        });
        Object.assign(c, { sent: 0, delivered: 0, givenUp: 0, resumed: [] });
      }
    }
    const report: TelemetryReport = { v: 1, browser: this.browser };
    if (this.attempts.length) report.attempts = this.attempts;
    if (rooms.length) report.rooms = rooms;
    if (this.errors.length) report.errors = this.errors;
    this.attempts = [];
    this.errors = [];
    return report.attempts || report.rooms || report.errors ? report : null;
  }
}

function hasCounts(c: RoomCounts): boolean {
  return c.sent > 0 || c.delivered > 0 || c.givenUp > 0 || c.resumed.length > 0;
}
