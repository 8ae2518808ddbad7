import { actionLabel, describeError, errorReport, type ErrorAction, type ErrorKind } from "../core/errors";
import type { RefusalCode } from "../core/auth";
import type { MeshPhase } from "../core/room";
import { t, type StringKey } from "../core/strings";
import { $, el } from "./dom";
import { registerServiceWorker, show } from "./shell";
import "./network.css";

export type ErrorHandlers = Partial<Record<ErrorAction, () => void>>;

/** Sends one error report to the server (field data, ui/telemetry.ts); null while the server has it off. */
let reportSender: ((kind: ErrorKind) => Promise<boolean>) | null = null;

export function setReportSender(sender: ((kind: ErrorKind) => Promise<boolean>) | null): void {
  reportSender = sender;
}

/**
 * Fills the error view for one kind of failure: title, plain-language explanation, likely cause
 * and the actions (buttons) that kind offers. `#error-retry` and `#error-home` are the existing
 * buttons for "retry" and "home"; other actions get their own buttons. "diagnostics" and
 * "copy-report" work without a handler.
 */
export function renderError(kind: ErrorKind, handlers: ErrorHandlers, details: Record<string, unknown> = {}): void {
  const info = describeError(kind);
  const view = $("view-error");
  view.dataset.kind = kind;
  $("error-title").textContent = t(info.title);
  $("error-body").textContent = t(info.explanation);
  let cause = document.getElementById("error-cause");
  if (!cause) {
    cause = el("p", undefined, "error-cause");
    cause.id = "error-cause";
    $("error-body").after(cause);
  }
  cause.textContent = t("error.causeLabel", { cause: t(info.cause) });

  const retry = $("error-retry");
  const home = $("error-home");
  const row = retry.parentElement ?? view;
  for (const old of row.querySelectorAll("[data-error-action]")) old.remove();
  retry.hidden = !info.actions.includes("retry");
  home.hidden = false;
  let feedback = document.getElementById("error-feedback");
  if (!feedback) {
    feedback = el("p", undefined, "hint");
    feedback.id = "error-feedback";
    feedback.setAttribute("role", "status");
    feedback.setAttribute("aria-live", "polite");
    row.after(feedback);
  }
  feedback.textContent = "";
  document.getElementById("error-report")?.remove();

  let first: HTMLElement | null = null;
  for (const action of info.actions) {
    if (action === "retry") {
      first ??= retry;
      continue;
    }
    if (action === "home") continue; // #error-home is always there
    const button = el("button", t(actionLabel(action))) as HTMLButtonElement;
    button.type = "button";
    button.id = `error-action-${action}`;
    button.dataset.errorAction = action;
    if (first === null) button.className = "primary";
    first ??= button;
    button.addEventListener("click", () => {
      if (action === "copy-report") void copyReport(kind, details, feedback);
      else if (action === "diagnostics" && !handlers.diagnostics) location.assign("/diagnostics.html");
      else handlers[action]?.();
    });
    row.insertBefore(button, home);
    if (action === "copy-report" && reportSender) row.insertBefore(sendReportButton(kind, reportSender, feedback), home);
  }
  retry.className = first === retry ? "primary" : "";
}

/** "Send this report", beside "copy": the error kind and the kept diagnostics verdicts, sent only on this press. */
function sendReportButton(kind: ErrorKind, sender: (kind: ErrorKind) => Promise<boolean>, feedback: HTMLElement): HTMLButtonElement {
  const button = el("button", t("action.send-report")) as HTMLButtonElement;
  button.type = "button";
  button.id = "error-action-send-report";
  button.dataset.errorAction = "send-report";
  button.addEventListener("click", () => {
    button.disabled = true;
    void sender(kind).then((ok) => {
      feedback.textContent = t(ok ? "error.reportSent" : "error.reportSendFailed");
      button.disabled = ok;
    });
  });
  return button;
}

async function copyReport(kind: ErrorKind, details: Record<string, unknown>, feedback: HTMLElement): Promise<void> {
  const report = JSON.stringify(errorReport(kind, Date.now(), { userAgent: navigator.userAgent, online: navigator.onLine }, details), null, 2);
  try {
    await navigator.clipboard.writeText(report);
    feedback.textContent = t("error.reportCopied");
  } catch {
    // Clipboard refused: show the report so the user can copy it by hand.
    feedback.textContent = t("error.reportCopyFailed");
    const area = el("textarea", report, "error-report") as HTMLTextAreaElement;
    area.id = "error-report";
    area.readOnly = true;
    area.setAttribute("aria-label", t("action.copy-report"));
    feedback.after(area);
    area.select();
  }
}

/** The error screen for one kind of failure, once the session's own retries are spent. */
export function showFailure(kind: ErrorKind, handlers: ErrorHandlers, details: Record<string, unknown>): void {
  registerServiceWorker();
  delete $("error-body").dataset.refusal;
  renderError(kind, handlers, details);
  show("error");
}

/** The error screen for a refused invite: a new link fixes a bad, expired or revoked one; another try may fix the rest. */
export function showRefusal(refusal: RefusalCode): void {
  registerServiceWorker();
  resetErrorView();
  $("error-title").textContent = t("errorTitle");
  const body = $("error-body");
  body.textContent = t(refusalKey(refusal));
  body.dataset.refusal = refusal;
  $("error-retry").hidden = ["unknown-invite", "expired", "revoked"].includes(refusal);
  show("error");
}

/** Removes what `renderError` added (cause, extra actions, report), for views rendered another way. */
export function resetErrorView(): void {
  delete $("view-error").dataset.kind;
  for (const id of ["error-cause", "error-feedback", "error-report"]) document.getElementById(id)?.remove();
  for (const old of document.querySelectorAll("#view-error [data-error-action]")) old.remove();
  $("error-retry").className = "primary";
}

export function failureKey(reason: Extract<MeshPhase, { phase: "failed" }>["reason"]): StringKey {
  switch (reason) {
    case "server-unreachable":
      return "errorServerUnreachable";
    case "server-refused":
      return "errorServerRefused";
    case "id-taken":
      return "errorIdTaken";
    case "room-full":
      return "errorRoomFull";
    case "ice-failed":
      return "error.ice-failed.status";
    default:
      return "errorPeerUnreachable";
  }
}

/** What the joiner reads when the handshake failed. */
export function refusalKey(code: RefusalCode): StringKey {
  switch (code) {
    case "unknown-invite":
      return "refusedUnknown";
    case "expired":
      return "refusedExpired";
    case "revoked":
      return "refusedRevoked";
    case "auth-failed":
    case "replay":
      return "refusedIntercepted";
    case "busy":
      return "errorRoomFull";
    case "timeout":
      return "refusedTimeout";
    case "protocol":
      return "refusedProtocol";
  }
}

/** What the host reads when it refused (or was refused by) a joiner. */
export function hostRefusalKey(code: RefusalCode): StringKey {
  switch (code) {
    case "unknown-invite":
      return "hostRefusedUnknown";
    case "expired":
      return "hostRefusedExpired";
    case "revoked":
      return "hostRefusedRevoked";
    case "auth-failed":
    case "replay":
      return "hostRefusedIntercepted";
    case "timeout":
      return "hostRefusedTimeout";
    case "busy":
    case "protocol":
      return "hostRefusedProtocol";
  }
}
