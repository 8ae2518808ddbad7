import { DIAGNOSTICS_STEPS, runDiagnostics, type DiagnosticsPorts, type DiagnosticsReport, type DiagnosticsStep, type IceConfig } from "../core/diagnostics";
import { iceEndpoint, loadSettings, peerServerOptions, type ServerSettings } from "../core/settings";
import { isStringKey, t, type StringKey } from "../core/strings";
import { $, applyStrings, el } from "./dom";
import { gather } from "../adapters/gather";
import { fetchIceAnswer } from "../core/ice";
import { keepDiagnosticsSummary } from "./telemetry";
import "./network.css";

/** How long one ICE gathering may take before it counts as "no answer". */
const GATHER_TIMEOUT_MS = 6000;

/** The diagnostics page: runs every check in this browser, shows progress, a summary and a copyable report. */
export function startDiagnostics(): void {
  applyStrings();
  renderGuide($("guide-items"));
  const settings = loadSettings(localStorage);
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    $<HTMLButtonElement>("diag-run").disabled = true;
    document.body.dataset.diag = "running";
    $("diag-summary").hidden = true;
    $("diag-report-box").hidden = true;
    const progress = $<HTMLProgressElement>("diag-progress");
    progress.hidden = false;
    const report = await runDiagnostics(browserPorts(settings), (p, r) => {
      progress.value = Math.round(p.fraction * 100);
      $("diag-progress-label").textContent = `${t("diag.running", { percent: Math.round(p.fraction * 100) })} ${t(`diag.step.${p.step}`)}`;
      renderSteps(r, p.step);
    });
    renderSteps(report, null);
    renderSummary(report);
    keepDiagnosticsSummary(report.summary); // outlook and verdicts only, for error reports and feedback
    $("diag-progress-label").textContent = t("diag.done");
    const box = $("diag-report-box");
    $<HTMLTextAreaElement>("diag-report").value = JSON.stringify(report, null, 2);
    box.hidden = false;
    document.body.dataset.diag = "done";
    $<HTMLButtonElement>("diag-run").disabled = false;
    running = false;
    $("diag-summary").focus();
  };
  $("diag-run").addEventListener("click", () => void run());
  $("diag-copy").addEventListener("click", () => void copy());
  if (location.hash === "#run") void run();
}

async function copy(): Promise<void> {
  const area = $<HTMLTextAreaElement>("diag-report");
  try {
    await navigator.clipboard.writeText(area.value);
    $("diag-copy-feedback").textContent = t("diag.copied");
  } catch {
    area.select();
    $("diag-copy-feedback").textContent = t("diag.copyFailed");
  }
}

function renderGuide(target: HTMLElement): void {
  for (let i = 1; i <= 6; i++) {
    const q = `guide.q${i}`;
    const a = `guide.a${i}`;
    if (!isStringKey(q) || !isStringKey(a)) break;
    const details = el("details");
    details.append(el("summary", t(q)), el("p", t(a)));
    target.append(details);
  }
}

function line(text: string, ok: boolean | null): HTMLElement {
  const li = el("li", text, "diag-line");
  if (ok !== null) li.dataset.ok = String(ok);
  return li;
}

function yes(v: boolean): string {
  return t(v ? "diag.yes" : "diag.no");
}

function renderSteps(report: DiagnosticsReport, current: DiagnosticsStep | null): void {
  const list = $("diag-steps");
  list.replaceChildren();
  for (const step of DIAGNOSTICS_STEPS) {
    if (step === "summary") continue;
    const lines = stepLines(report, step);
    if (lines.length === 0 && step !== current) continue;
    const li = el("li", undefined, "diag-step");
    li.dataset.step = step;
    li.dataset.state = step === current ? "running" : "done";
    li.append(el("h2", t(`diag.step.${step}`)));
    const ul = el("ul");
    ul.append(...lines);
    li.append(ul);
    list.append(li);
  }
}

function stepLines(r: DiagnosticsReport, step: DiagnosticsStep): HTMLElement[] {
  switch (step) {
    case "capabilities": {
      const c = r.capabilities;
      if (!c) return [];
      return [
        line(t("diag.cap.peerConnection", { value: yes(c.peerConnection) }), c.peerConnection),
        line(t("diag.cap.dataChannel", { value: yes(c.dataChannel) }), c.dataChannel),
        line(t("diag.cap.secureContext", { value: yes(c.secureContext) }), c.secureContext),
      ];
    }
    case "signaling": {
      const s = r.signaling;
      if (!s) return [];
      return [s.ok ? line(t("diag.signaling.ok", { ms: s.latencyMs ?? 0 }), true) : line(t("diag.signaling.failed", { error: s.error ?? "?" }), false)];
    }
    case "ice": {
      const i = r.ice;
      if (!i) return [];
      return [
        i.ok
          ? line(t("diag.ice.ok", { count: i.servers, providers: i.providers.join(", ") || "—" }), true)
          : line(t("diag.ice.failed", { error: i.error ?? "?" }), false),
      ];
    }
    case "stun":
      return r.stun.map((s) =>
        s.ok
          ? line(t("diag.stun.ok", { url: s.url, mapped: s.mapped.join(", ") }), true)
          : line(t("diag.stun.failed", { url: s.url, error: s.error ?? "?" }), false),
      );
    case "nat": {
      if (!r.nat) return [];
      const ok = r.nat.behaviour === "endpoint-independent" || r.nat.behaviour === "no-nat" ? true : r.nat.behaviour === "unknown" ? null : false;
      const li = line(t(`diag.nat.${r.nat.behaviour}`, { mapped: r.nat.mapped.join(", ") }), ok);
      li.id = "diag-nat";
      li.dataset.behaviour = r.nat.behaviour;
      return [li];
    }
    case "turn":
      return r.turn.map((x) => {
        const li = x.ok
          ? line(t("diag.turn.ok", { provider: x.provider, transport: x.transport.toUpperCase(), url: x.url, relay: x.relay ?? "", ms: x.timeMs }), true)
          : line(
              t("diag.turn.failed", {
                provider: x.provider,
                transport: x.transport.toUpperCase(),
                url: x.url,
                code: x.errorCode ?? "—",
                explanation: x.explanation ? t(x.explanation) : "",
              }),
              false,
            );
        li.dataset.transport = x.transport;
        li.dataset.port = String(x.port);
        return li;
      });
    case "summary":
      return [];
  }
}

function renderSummary(report: DiagnosticsReport): void {
  const s = report.summary;
  if (!s) return;
  const box = $("diag-summary");
  box.dataset.outlook = s.outlook;
  box.dataset.verdicts = s.verdicts.join(" ");
  box.tabIndex = -1;
  $("diag-headline").textContent = t(s.headline);
  const advice = $("diag-advice");
  advice.replaceChildren(...s.advice.map((k: StringKey) => el("li", t(k))));
  box.hidden = false;
}

// ---- browser implementations of the runner's ports --------------------------------------------

function browserPorts(settings: ServerSettings): DiagnosticsPorts {
  return {
    now: () => performance.timeOrigin + performance.now(),
    capabilities: () => {
      const pc = typeof RTCPeerConnection !== "undefined";
      return {
        peerConnection: pc,
        dataChannel: pc && typeof RTCPeerConnection.prototype.createDataChannel === "function",
        getStats: pc && typeof RTCPeerConnection.prototype.getStats === "function",
        secureContext: window.isSecureContext,
        userAgent: navigator.userAgent,
      };
    },
    pingSignaling: async () => {
      const o = peerServerOptions(settings, location);
      const base = `${o.secure ? "https" : "http"}://${o.host}:${o.port}${o.path.endsWith("/") ? o.path : o.path + "/"}`;
      try {
        const response = await fetch(`${base}${encodeURIComponent(o.key)}/id?ts=${Date.now()}`, { cache: "no-store", credentials: "omit" });
        return { status: response.status, error: response.ok ? null : `HTTP ${response.status}` };
      } catch (e) {
        return { status: 0, error: e instanceof Error ? e.message : String(e) };
      }
    },
    loadIce: async (): Promise<IceConfig> => {
      const endpoint = iceEndpoint(settings);
      if (endpoint === null)
        return { iceServers: settings.iceServers, providers: settings.iceServers.map((_, i) => `server ${i + 1}`), relayOnly: false, stunProbes: [] };
      return fetchIceAnswer(endpoint);
    },
    gather: (servers, policy) => gather(servers, policy, GATHER_TIMEOUT_MS),
  };
}
