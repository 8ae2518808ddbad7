import { formatRate, pathKey, QualityTracker, snapshotFromStats, type Quality } from "../core/quality";
import { t } from "../core/strings";
import { el } from "./dom";
import "./network.css";

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
    this.root.append(this.dot, this.word, this.tip);
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

  private render(q: Quality): void {
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
    this.tip.textContent = tooltip;
  }
}
