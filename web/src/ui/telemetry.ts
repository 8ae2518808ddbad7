import { classifyError, type ErrorKind } from "../core/errors";
import { snapshotFromStats } from "../core/quality";
import type { MemberView, MeshSession } from "../core/room";
import { t } from "../core/strings";
import {
  TelemetryBatch,
  browserOf,
  connectBucket,
  loadConsent,
  resumeBucket,
  saveConsent,
  scrubDiagnostics,
  sizeBucket,
  type AttemptReport,
  type DiagnosticsSummary,
  type RoomCounts,
  type TelemetryReport,
} from "../core/telemetry";
import { $, el } from "./dom";
import { setReportSender } from "./errors";
import { wireFeedback } from "./feedback";
import type { AppObserver, RoomContext } from "./room-page";

/** Where the diagnostics page keeps its last summary (outlook and verdicts only) for reports and feedback. */
const DIAGNOSTICS_KEY = "ghostchat:diag-summary";

export function keepDiagnosticsSummary(summary: unknown): void {
  const scrubbed = scrubDiagnostics(summary);
  try {
    if (scrubbed) localStorage.setItem(DIAGNOSTICS_KEY, JSON.stringify(scrubbed));
  } catch {
    // storage refused: reports go without it
  }
}

export function keptDiagnosticsSummary(): DiagnosticsSummary | null {
  try {
    return scrubDiagnostics(JSON.parse(localStorage.getItem(DIAGNOSTICS_KEY) ?? "null"));
  } catch {
    return null;
  }
}

/** POSTs JSON to this site (connect-src 'self'); `keepalive` lets it finish while the page goes away. */
export async function postJson(path: string, body: unknown, keepalive = false): Promise<boolean> {
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
      keepalive,
    });
    return response.ok;
  } catch {
    return false;
  }
}

/** How often pending figures are sent while the page stays open (when the browser is idle). */
const FLUSH_EVERY_MS = 60_000;

/**
 * Field data in the page (issue 18): asks once whether the person agrees (only when the server has the
 * feature on: `GET /api/telemetry`), keeps the answer (settings can change it), watches each room through
 * the app's observer and sends a batch when the page is hidden or idle — never before consent. Error
 * reports ("Send this report") and feedback are sent only when the person presses the button.
 */
export class FieldData {
  private readonly batch = new TelemetryBatch(browserOf(navigator.userAgent));
  private enabled = false;

  /** Wraps the app's observer: every room is watched here first. */
  observer(inner: AppObserver): AppObserver {
    return {
      ...inner,
      room: (session, context) => {
        this.observe(session, context);
        inner.room?.(session, context);
      },
    };
  }

  /** Asks the server whether the feature is on; then offers the question, the switch, feedback and error reports. */
  async start(): Promise<void> {
    try {
      const response = await fetch("/api/telemetry", { cache: "no-store", credentials: "omit" });
      const config = response.ok ? ((await response.json()) as { enabled?: unknown }) : null;
      this.enabled = config?.enabled === true;
    } catch {
      this.enabled = false;
    }
    document.body.dataset.fieldData = this.enabled ? "available" : "off";
    if (!this.enabled) return;
    this.wireSetting();
    if (loadConsent(localStorage) === null) this.ask();
    wireFeedback(keptDiagnosticsSummary);
    setReportSender((kind) => this.sendReport(kind));
    document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && this.flush(true));
    window.addEventListener("pagehide", () => this.flush(true));
    setInterval(() => {
      if (!this.batch.pending) return;
      if (typeof requestIdleCallback === "function") requestIdleCallback(() => this.flush(false), { timeout: 10_000 });
      else this.flush(false);
    }, FLUSH_EVERY_MS);
  }

  private get consented(): boolean {
    return this.enabled && loadConsent(localStorage) === "on";
  }

  /** Sends what waits, if the person (still) agrees; after a "no" what waited is dropped, never sent. */
  flush(leaving: boolean): void {
    const report = this.batch.take();
    if (report && this.consented) void postJson("/api/telemetry", report, leaving);
  }

  /** "Send this report" on the error view: this one error, sent now, consent or not (the person asked). */
  private async sendReport(kind: ErrorKind): Promise<boolean> {
    this.batch.dropError(kind);
    const diagnostics = keptDiagnosticsSummary();
    const report: TelemetryReport = { v: 1, browser: browserOf(navigator.userAgent), errors: [diagnostics ? { kind, diagnostics } : { kind }] };
    return postJson("/api/telemetry", report);
  }

  /** The question, once, on the start page: in plain words, what is sent and what never is. */
  private ask(): void {
    const box = el("section", undefined, "notice field-ask");
    box.id = "field-ask";
    box.setAttribute("aria-labelledby", "field-ask-title");
    const title = el("h2", t("field.askTitle"));
    title.id = "field-ask-title";
    const yes = el("button", t("field.yes"), "primary") as HTMLButtonElement;
    const no = el("button", t("field.no")) as HTMLButtonElement;
    yes.id = "field-yes";
    no.id = "field-no";
    for (const b of [yes, no]) b.type = "button";
    const row = el("div", undefined, "row");
    row.append(yes, no);
    box.append(title, el("p", t("field.askBody")), el("p", t("field.askNever")), row);
    const answer = (on: boolean) => {
      this.setConsent(on);
      const thanks = el("p", t(on ? "field.thanksOn" : "field.thanksOff"), "hint");
      thanks.id = "field-thanks";
      thanks.setAttribute("role", "status");
      box.replaceWith(thanks);
    };
    yes.addEventListener("click", () => answer(true));
    no.addEventListener("click", () => answer(false));
    $("view-home").append(box);
  }

  private setConsent(on: boolean): void {
    saveConsent(localStorage, on);
    const box = document.getElementById("set-field-data") as HTMLInputElement | null;
    if (box) box.checked = on;
    document.getElementById("field-ask")?.remove();
  }

  /** The switch in the settings dialog: takes effect at once. */
  private wireSetting(): void {
    const input = el("input") as HTMLInputElement;
    input.type = "checkbox";
    input.id = "set-field-data";
    input.checked = loadConsent(localStorage) === "on";
    const label = el("label", t("field.setting")) as HTMLLabelElement;
    label.htmlFor = input.id;
    const field = el("div", undefined, "field check");
    field.append(input, label);
    $("settings-feedback").before(field);
    input.addEventListener("change", () => {
      this.setConsent(input.checked);
      $("settings-feedback").textContent = t(input.checked ? "field.thanksOn" : "field.thanksOff");
    });
  }

  /**
   * One room: a joiner's attempt (connected with its time bucket and path, or failed), the room's message
   * counts and its recoveries (a member's path lost, then back) with their time-to-resume buckets.
   */
  private observe(session: MeshSession, context: RoomContext | undefined): void {
    const started = performance.now();
    const joining = context?.joining === true;
    let settled = !joining;
    // Nothing is even counted while the person has not agreed: what happened before is never sent.
    const counting = () => this.consented;
    session.events.on("status", (s) => {
      if (s.phase !== "failed") return;
      if (counting()) this.batch.error(classifyError({ source: "session", reason: s.reason }));
      if (!settled && counting()) this.batch.attempt({ outcome: "failed", size: "2" });
      settled = true;
    });
    session.events.on("room", (room) => {
      const counts = this.batch.room(sizeBucket(room.members().length + 1));
      let largest = 1;
      const lostAt = new Map<string, number>();
      const seenUp = new Set<string>();
      room.events.on("sent", ({ id, to }) => {
        if (!counting()) return;
        counts.sent += to;
        for (const state of room.receipts(id)?.values() ?? []) if (state === "failed") counts.givenUp++;
      });
      room.events.on("receipt", ({ state }) => {
        if (!counting()) return;
        if (state === "delivered") counts.delivered++;
        else if (state === "failed") counts.givenUp++;
      });
      room.events.on("roster", (members) => {
        largest = Math.max(largest, members.length + 1);
        counts.size = sizeBucket(largest);
        trackRecoveries(members, counting() ? counts : null, lostAt, seenUp);
        if (!settled && members.some(isUp)) {
          settled = true;
          if (counting()) void this.connected(session, members, started, context, largest);
        }
      });
    });
  }

  private async connected(session: MeshSession, members: MemberView[], started: number, context: RoomContext | undefined, size: number): Promise<void> {
    const attempt: AttemptReport = { outcome: "connected", size: sizeBucket(size), ttc: connectBucket(performance.now() - started) };
    const peer = members.find((m) => m.path === "direct")?.id;
    // The selected candidate pair may take a moment to show in getStats().
    for (let i = 0; i < 5 && peer; i++) {
      const stats = await session.stats(peer).catch(() => null);
      const path = stats ? snapshotFromStats(stats as unknown as Map<string, unknown>, context?.providers() ?? new Map())?.path : null;
      if (path) {
        const relayed = path.kind === "relayed";
        attempt.path = relayed ? "relay" : "direct";
        attempt.transport = relayed && path.localType === "relay" ? (path.relayProtocol ?? "udp") : path.protocol;
        if (relayed) attempt.provider = path.provider ?? "other";
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    this.batch.attempt(attempt);
  }
}

function isUp(m: MemberView): boolean {
  return m.path !== "none" && (m.state === "online" || m.state === "away");
}

/** A member once reached whose path was lost and is back: one recovery, bucketed by how long it took. */
function trackRecoveries(members: MemberView[], counts: RoomCounts | null, lostAt: Map<string, number>, seenUp: Set<string>): void {
  const now = performance.now();
  for (const m of members) {
    if (isUp(m)) {
      const lost = lostAt.get(m.id);
      if (lost !== undefined) counts?.resumed.push(resumeBucket(now - lost));
      lostAt.delete(m.id);
      seenUp.add(m.id);
    } else if (seenUp.has(m.id) && !lostAt.has(m.id)) lostAt.set(m.id, now);
  }
}
