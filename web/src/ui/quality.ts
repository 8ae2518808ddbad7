import { formatRate, pathKey, QualityTracker, snapshotFromStats, type Quality } from "../core/quality";
import { t } from "../core/strings";
import { el } from "./dom";
import "./network.css";

/**
 * One call link's figures over the last second (ui/call.ts reads them from getStats through
 * core/calls/figures): what this side sends to and receives from one member, the loss and jitter
 * of what it receives, and the resolution and frame rate of the video it receives.
 */
export interface CallLinkFigures {
  sendBps: number;
  receiveBps: number;
  /** 0..1 */
  loss: number;
  jitterMs: number | null;
  width: number | null;
  height: number | null;
  fps: number | null;
}

/** Dispatched (bubbling) by the call panel with `{ peer, figures }`; `figures` null when the call with `peer` ended. */
export const CALL_FIGURES_EVENT = "ghostchat-call-figures";
export type CallFiguresDetail = { peer: string; figures: CallLinkFigures | null };

/** The call figures in words: `short` for the visible line, else the sentence for screen readers and the tooltip. */
export function formatCallFigures(f: CallLinkFigures, short: boolean): string {
  const video = f.width && f.height ? `${f.width}×${f.height}` : null;
  const fps = Math.round(f.fps ?? 0);
  const values = {
    sent: formatRate(f.sendBps),
    received: formatRate(f.receiveBps),
    loss: (Number.isFinite(f.loss) ? Math.max(0, Math.min(1, f.loss)) * 100 : 0).toFixed(1),
    jitter: Number.isFinite(f.jitterMs) ? Math.round(f.jitterMs ?? 0) : 0,
    video: video ? t(short ? "call.figures.video" : "call.figures.videoLong", { resolution: video, fps }) : t("call.figures.noVideo"),
  };
  return t(short ? "call.figures" : "call.figuresLong", values);
}

export interface QualitySource {
  stats(): Promise<RTCStatsReport | null>;
  ping(seq: number): boolean;
  events: { on(event: "pong", handler: (seq: number) => void): () => void } | { on(event: "pong", handler: (seq: number) => void): unknown };
}

/**
 * The per-peer quality indicator: a dot and a word in the chat tools, with a tooltip (hover or
 * keyboard focus) explaining round trip, throughput, path and why. Polls getStats and sends an
 * app-level ping every `intervalMs`.
 */
export class QualityIndicator {
  private readonly root: HTMLElement;
  private readonly dot = el("span", undefined, "quality-dot");
  private readonly word = el("span", undefined, "quality-word");
  private readonly tip = el("span", undefined, "quality-tip");
  /** The call's figures while in a call with this member (visible; the tooltip says them in words). */
  private readonly callLine = el("span", undefined, "quality-call");
  private callFigures: CallLinkFigures | null = null;
  private last: Quality | null = null;
  private tracker = new QualityTracker();
  private timer: number | undefined;
  private seq = 0;
  private source: QualitySource | null = null;

  private providers: ReadonlyMap<string, string> = new Map();

  /** `container`: where it goes (null: the caller places `element`); `id` must be unique on the page. */
  constructor(
    container: HTMLElement | null,
    private readonly intervalMs = 2000,
    id = "quality",
  ) {
    this.root = el("span", undefined, "quality");
    this.root.id = id;
    this.root.tabIndex = 0;
    this.root.setAttribute("role", "status");
    this.tip.id = `${id}-tip`;
    this.tip.setAttribute("role", "tooltip");
    this.root.setAttribute("aria-describedby", this.tip.id);
    this.callLine.setAttribute("aria-hidden", "true");
    this.callLine.hidden = true;
    this.root.append(this.dot, this.word, this.callLine, this.tip);
    this.root.hidden = true;
    container?.append(this.root);
  }

  get element(): HTMLElement {
    return this.root;
  }

  get running(): boolean {
    return this.source !== null;
  }

  /** `providers` maps TURN URLs to provider names (live: core/ice replaces it on failover). */
  start(source: QualitySource, providers: ReadonlyMap<string, string> = new Map()): void {
    this.stop();
    this.source = source;
    this.providers = providers;
    this.tracker = new QualityTracker();
    (source.events.on as (e: "pong", h: (s: number) => void) => unknown)("pong", (s) => {
      if (this.source === source) this.tracker.pong(performance.now(), s);
    });
    this.root.hidden = false;
    this.render(this.tracker.current(performance.now()));
    const tick = async () => {
      if (this.source !== source) return;
      source.ping(this.tracker.ping(performance.now()));
      try {
        const report = await source.stats();
        const snap = report ? snapshotFromStats(report as unknown as Map<string, unknown>, this.providers) : null;
        if (snap && this.source === source) this.tracker.addStats(performance.now(), snap);
      } catch {
        // the connection is closing: the next status change stops us
      }
      if (this.source === source) this.render(this.tracker.current(performance.now()));
    };
    void tick();
    this.timer = window.setInterval(() => void tick(), this.intervalMs);
  }

  stop(): void {
    window.clearInterval(this.timer);
    this.source = null;
    this.root.hidden = true;
  }

  /** Shows a call's figures with this member (null: not in a call with them). */
  setCall(figures: CallLinkFigures | null): void {
    this.callFigures = figures;
    this.callLine.hidden = figures === null;
    this.callLine.textContent = figures ? formatCallFigures(figures, true) : "";
    const d = this.root.dataset;
    d.call = String(figures !== null);
    if (figures) {
      d.callSendBps = String(Math.round(figures.sendBps));
      d.callReceiveBps = String(Math.round(figures.receiveBps));
      d.callLoss = String(figures.loss);
      d.callJitterMs = String(Math.round(figures.jitterMs ?? 0));
      d.callResolution = figures.width && figures.height ? `${figures.width}x${figures.height}` : "";
      d.callFps = String(Math.round(figures.fps ?? 0));
    } else {
      for (const k of ["callSendBps", "callReceiveBps", "callLoss", "callJitterMs", "callResolution", "callFps"]) delete d[k];
    }
    if (this.last) this.render(this.last);
  }

  private render(q: Quality): void {
    this.last = q;
    const level = t(`quality.level.${q.level}`);
    const path = q.path?.provider ? t("quality.via", { path: t(pathKey(q.path)), provider: q.path.provider }) : t(pathKey(q.path));
    this.root.dataset.level = q.level;
    this.root.dataset.path = q.path
      ? q.path.kind === "relayed"
        ? `relay-${q.path.relayProtocol ?? (q.path.localType === "relay" ? "unknown" : "remote")}`
        : `direct-${q.path.protocol}`
      : "unknown";
    if (q.rttMs !== null) this.root.dataset.rtt = String(q.rttMs);
    if (q.path?.provider) this.root.dataset.provider = q.path.provider;
    else delete this.root.dataset.provider;
    this.word.textContent = `${level} · ${path}`;
    this.root.setAttribute("aria-label", t("quality.label", { level }));
    const tooltip = t("quality.tooltip", {
      level: t("quality.label", { level }),
      rtt: q.rttMs === null ? t("quality.rttUnknown") : t("quality.rtt", { ms: q.rttMs }),
      in: formatRate(q.inBps),
      out: formatRate(q.outBps),
      path,
      reasons: q.reasons.map((r) => t(r)).join(" "),
    });
    this.tip.textContent = this.callFigures ? `${tooltip} ${formatCallFigures(this.callFigures, false)}` : tooltip;
  }
}
