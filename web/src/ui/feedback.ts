import type { DiagnosticsSummary } from "../core/telemetry";
import { t } from "../core/strings";
import { $, el } from "./dom";

/** Longest feedback the server keeps by default (GhostChat:Telemetry:FeedbackMaxLength). */
const MAX_LENGTH = 2000;

/**
 * "Send feedback": a button on the start page and a dialog with the text and, when the diagnostics page ran,
 * a choice to include its summary (outlook and verdicts). Sent only when the person presses Send.
 */
export function wireFeedback(summary: () => DiagnosticsSummary | null): void {
  const open = el("button", t("feedback.open"), "ghost") as HTMLButtonElement;
  open.type = "button";
  open.id = "open-feedback";
  $("view-home").append(open);

  const dialog = el("dialog") as HTMLDialogElement;
  dialog.id = "feedback-dialog";
  dialog.setAttribute("aria-labelledby", "feedback-title");
  const form = el("form") as HTMLFormElement;
  form.method = "dialog";
  form.noValidate = true;
  const title = el("h2", t("feedback.title"));
  title.id = "feedback-title";
  const text = el("textarea") as HTMLTextAreaElement;
  text.id = "feedback-text";
  text.rows = 5;
  text.maxLength = MAX_LENGTH;
  text.setAttribute("aria-describedby", "feedback-count");
  const label = el("label", t("feedback.label")) as HTMLLabelElement;
  label.htmlFor = text.id;
  const count = el("span", undefined, "hint");
  count.id = "feedback-count";
  const field = el("div", undefined, "field");
  field.append(label, text, count);
  const include = el("input") as HTMLInputElement;
  include.type = "checkbox";
  include.id = "feedback-diagnostics";
  const includeLabel = el("label", t("feedback.diagnostics")) as HTMLLabelElement;
  includeLabel.htmlFor = include.id;
  const check = el("div", undefined, "field check");
  check.append(include, includeLabel);
  const status = el("p");
  status.id = "feedback-status";
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  const send = el("button", t("feedback.send"), "primary") as HTMLButtonElement;
  send.type = "submit";
  send.id = "feedback-send";
  const close = el("button", t("feedback.close")) as HTMLButtonElement;
  close.type = "button";
  close.id = "feedback-close";
  const row = el("div", undefined, "row");
  row.append(send, close);
  form.append(title, el("p", t("feedback.help")), field, check, status, row);
  dialog.append(form);
  document.body.append(dialog);

  const counter = () => (count.textContent = t("feedback.count", { count: text.value.length, max: MAX_LENGTH }));
  text.addEventListener("input", counter);
  open.addEventListener("click", () => {
    const has = summary() !== null;
    include.disabled = !has;
    include.checked = false;
    includeLabel.textContent = t(has ? "feedback.diagnostics" : "feedback.noDiagnostics");
    status.textContent = "";
    counter();
    dialog.showModal();
    text.focus();
  });
  close.addEventListener("click", () => dialog.close());
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void submit();
  });
  const submit = async () => {
    const body = text.value.trim();
    if (body.length === 0) {
      status.textContent = t("feedback.empty");
      text.focus();
      return;
    }
    const diagnostics = include.checked ? summary() : null;
    send.disabled = true;
    try {
      const response = await fetch("/api/feedback", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(diagnostics ? { text: body, diagnostics } : { text: body }),
        credentials: "omit",
      });
      if (response.ok) {
        text.value = "";
        counter();
        status.textContent = t("feedback.sent");
      } else {
        const problem = (await response.json().catch(() => null)) as { error?: unknown } | null;
        status.textContent = t("feedback.failed", { reason: typeof problem?.error === "string" ? problem.error : String(response.status) });
      }
    } catch {
      status.textContent = t("feedback.failed", { reason: navigator.onLine ? "no answer" : "offline" });
    } finally {
      send.disabled = false;
    }
  };
}
