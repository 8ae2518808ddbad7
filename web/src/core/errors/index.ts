import { backoffDelays, type BackoffOptions } from "../connection/backoff";
import type { FailureReason } from "../room/session";
import type { PeerErrorKind } from "../connection/ports";
import type { StringKey } from "../strings";

/**
 * One taxonomy for everything that can go wrong between opening the app and chatting. Every kind
 * maps to a plain-language title, explanation and likely cause (string keys), the actions the UI
 * offers, and whether the app first retries on its own (with backoff) before asking the user.
 */
export const ERROR_KINDS = [
  "no-webrtc",
  "insecure-context",
  "offline",
  "signaling-unreachable",
  "server-refused",
  "id-taken",
  "peer-unavailable",
  "room-full",
  "invite-malformed",
  "invite-expired",
  "invite-revoked",
  "invite-unsupported",
  "invite-outdated",
  "ice-config-failed",
  "ice-failed",
  "turn-refused",
  "turn-unreachable",
  "channel-closed",
  "auth-failed",
  "rate-limited",
  "removed",
  "unknown",
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export const ERROR_ACTIONS = ["retry", "retry-relay", "diagnostics", "copy-report", "new-invite", "settings", "home", "reload"] as const;
export type ErrorAction = (typeof ERROR_ACTIONS)[number];

/** The string keys each kind needs; the strings module is type-checked to hold all of them. */
export type ErrorStringKey = `error.${ErrorKind}.${"title" | "explain" | "cause"}` | `action.${ErrorAction}`;

export interface ErrorInfo {
  kind: ErrorKind;
  title: StringKey;
  explanation: StringKey;
  cause: StringKey;
  /** Offered to the user, most useful first. */
  actions: readonly ErrorAction[];
  /** The app retries by itself (backoff) before showing the actions. */
  autoRetry: boolean;
}

const TABLE: Record<ErrorKind, { actions: readonly ErrorAction[]; autoRetry: boolean }> = {
  "no-webrtc": { actions: ["diagnostics", "copy-report"], autoRetry: false },
  "insecure-context": { actions: ["reload", "copy-report"], autoRetry: false },
  offline: { actions: ["retry"], autoRetry: true },
  "signaling-unreachable": { actions: ["retry", "diagnostics", "settings", "copy-report"], autoRetry: true },
  "server-refused": { actions: ["settings", "copy-report"], autoRetry: false },
  "id-taken": { actions: ["home", "copy-report"], autoRetry: false },
  "peer-unavailable": { actions: ["retry", "new-invite", "copy-report"], autoRetry: true },
  "room-full": { actions: ["home"], autoRetry: false },
  "invite-malformed": { actions: ["new-invite", "home"], autoRetry: false },
  "invite-expired": { actions: ["new-invite", "home"], autoRetry: false },
  "invite-revoked": { actions: ["new-invite", "home"], autoRetry: false },
  "invite-unsupported": { actions: ["reload", "home"], autoRetry: false },
  "invite-outdated": { actions: ["new-invite", "home"], autoRetry: false },
  removed: { actions: ["home"], autoRetry: false },
  "ice-config-failed": { actions: ["retry", "diagnostics", "copy-report"], autoRetry: true },
  "ice-failed": { actions: ["retry-relay", "retry", "diagnostics", "copy-report"], autoRetry: true },
  "turn-refused": { actions: ["retry", "diagnostics", "copy-report"], autoRetry: true },
  "turn-unreachable": { actions: ["diagnostics", "retry", "copy-report"], autoRetry: true },
  "channel-closed": { actions: ["retry", "home"], autoRetry: true },
  "auth-failed": { actions: ["new-invite", "home", "copy-report"], autoRetry: false },
  "rate-limited": { actions: ["retry", "copy-report"], autoRetry: true },
  unknown: { actions: ["retry", "diagnostics", "copy-report"], autoRetry: true },
};

export function isErrorKind(value: unknown): value is ErrorKind {
  return typeof value === "string" && (ERROR_KINDS as readonly string[]).includes(value);
}

export function describeError(kind: ErrorKind): ErrorInfo {
  const entry = TABLE[kind];
  return {
    kind,
    title: `error.${kind}.title`,
    explanation: `error.${kind}.explain`,
    cause: `error.${kind}.cause`,
    actions: entry.actions,
    autoRetry: entry.autoRetry,
  };
}

export function actionLabel(action: ErrorAction): StringKey {
  return `action.${action}`;
}

/** One ICE candidate error as the browser reports it (`icecandidateerror`). */
export interface CandidateErrorLike {
  url?: string | null;
  errorCode: number;
}

/** What a part of the app observed; `classifyError` turns it into one kind. */
export type ErrorSignal =
  | { source: "environment"; webrtc: boolean; secureContext: boolean; online: boolean }
  | { source: "session"; reason: FailureReason | "channel-closed" | "auth-failed" }
  | { source: "peerjs"; kind: PeerErrorKind }
  | { source: "invite"; error: "expired" | "malformed" | "unsupported-version" | "revoked" | string }
  | { source: "ice"; state: RTCIceConnectionState | "failed"; candidateErrors?: readonly CandidateErrorLike[]; relayGathered?: boolean }
  | { source: "http"; what: "ice" | "signaling"; status: number };

/** Maps an observation to a kind. Unknown inputs give "unknown", never a throw. */
export function classifyError(signal: ErrorSignal): ErrorKind {
  switch (signal.source) {
    case "environment":
      if (!signal.webrtc) return "no-webrtc";
      if (!signal.secureContext) return "insecure-context";
      if (!signal.online) return "offline";
      return "unknown";
    case "session":
      switch (signal.reason) {
        case "server-unreachable":
          return "signaling-unreachable";
        case "server-refused":
          return "server-refused";
        case "peer-unreachable":
          return "peer-unavailable";
        case "ice-failed":
          return "ice-failed";
        case "id-taken":
          return "id-taken";
        case "room-full":
          return "room-full";
        case "channel-closed":
          return "channel-closed";
        case "auth-failed":
          return "auth-failed";
        default:
          return "unknown";
      }
    case "peerjs":
      switch (signal.kind) {
        case "peer-unavailable":
          return "peer-unavailable";
        case "unavailable-id":
          return "id-taken";
        case "invalid-key":
        case "invalid-id":
          return "server-refused";
        case "network":
        case "server-error":
        case "socket-error":
          return "signaling-unreachable";
        case "browser-incompatible":
          return "no-webrtc";
        default:
          return "unknown";
      }
    case "invite":
      switch (signal.error) {
        case "expired":
          return "invite-expired";
        case "revoked":
          return "invite-revoked";
        case "unsupported-version":
          return "invite-unsupported";
        case "outdated-version":
          return "invite-outdated";
        default:
          return "invite-malformed";
      }
    case "ice": {
      if (signal.state !== "failed") return "unknown";
      const errors = signal.candidateErrors ?? [];
      const turnErrors = errors.filter((e) => typeof e.url === "string" && /^turns?:/i.test(e.url));
      if (signal.relayGathered) return "ice-failed";
      // 401 on the retry that carries credentials, 441 wrong credentials: the server refused them.
      if (turnErrors.some((e) => e.errorCode === 401 || e.errorCode === 441)) return "turn-refused";
      if (turnErrors.length > 0 && turnErrors.every((e) => e.errorCode === 701)) return "turn-unreachable";
      return "ice-failed";
    }
    case "http":
      if (signal.status === 429) return "rate-limited";
      if (signal.what === "ice") return "ice-config-failed";
      if (signal.status === 401 || signal.status === 403) return "server-refused";
      return "signaling-unreachable";
  }
}

export type RecoveryStep = { type: "auto"; attempt: number; total: number; delayMs: number } | { type: "manual"; actions: readonly ErrorAction[] };

/**
 * Automatic retry with backoff first, then the manual choices. `next()` is called after each
 * failure of the same kind; `retryAfterMs` (e.g. from a 429's Retry-After) lengthens the wait.
 */
export class Recovery {
  private failures = 0;
  private readonly delays: number[];

  constructor(
    readonly kind: ErrorKind,
    options: BackoffOptions = {},
  ) {
    this.delays = describeError(kind).autoRetry ? backoffDelays({ attempts: 3, ...options }) : [];
  }

  next(retryAfterMs?: number): RecoveryStep {
    this.failures++;
    const index = this.failures - 1;
    const delay = this.delays[index];
    if (delay === undefined) return { type: "manual", actions: describeError(this.kind).actions };
    const wait = retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs > delay ? Math.min(retryAfterMs, 60_000) : delay;
    return { type: "auto", attempt: this.failures, total: this.delays.length, delayMs: wait };
  }

  /** The user chose to try again: the automatic attempts start over. */
  reset(): void {
    this.failures = 0;
  }
}

/** Parses a Retry-After header (seconds or an HTTP date) into ms; null when absent or malformed. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | null {
  if (value === null || value === undefined) return null;
  const trimmed = value.trim();
  if (/^\d{1,6}$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!/[A-Za-z]/.test(trimmed)) return null;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

export interface ErrorReport {
  kind: ErrorKind;
  at: string;
  userAgent: string;
  online: boolean;
  details: Record<string, string | number | boolean | null>;
}

/**
 * The report the user may copy (nothing is sent anywhere). Only flat, primitive details; anything
 * that looks like a credential or a message is dropped.
 */
export function errorReport(kind: ErrorKind, now: number, env: { userAgent: string; online: boolean }, details: Record<string, unknown> = {}): ErrorReport {
  const clean: Record<string, string | number | boolean | null> = {};
  for (const [key, value] of Object.entries(details)) {
    if (/credential|password|secret|token|text|message/i.test(key)) continue;
    if (value === null || typeof value === "number" || typeof value === "boolean") clean[key] = value;
    else if (typeof value === "string") clean[key] = value.slice(0, 200);
  }
  return { kind, at: new Date(now).toISOString(), userAgent: env.userAgent.slice(0, 300), online: env.online, details: clean };
}

// Compile-time check: the strings module holds every key this module names.
import type { en } from "../strings";
type MissingErrorStrings = Exclude<ErrorStringKey, keyof typeof en>;
export const ERROR_STRINGS_COMPLETE: MissingErrorStrings extends never ? true : MissingErrorStrings = true;
