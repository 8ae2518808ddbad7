import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { CONNECT_BUCKETS, RESUME_BUCKETS } from "../core/telemetry";
import { t, type StringKey } from "../core/strings";
import { $, applyStrings, el } from "./dom";
import "./stats.css";

interface Row {
  hour: number;
  metric: string;
  key: string;
  count: number;
}

interface Figures {
  reports: number;
  attempts: number;
  successRate: number | null;
  connectedWithin10s: number | null;
  deliveryRate: number | null;
  recoveries: number;
  resumedWithin15s: number | null;
  relayShare: number | null;
  sent: number;
  delivered: number;
  givenUp: number;
}

interface Stats {
  from: string;
  to: string;
  figures: Figures;
  rows: Row[];
}

interface Feedback {
  id: number;
  hour: string;
  text: string;
  diagnostics: { outlook: string; verdicts: string[] } | null;
}

const DAY_CHOICES = [1, 7, 30, 90];
const HOUR = 3600;
const charts: uPlot[] = [];

/** The /stats page: the roadmap's success figures from the hourly aggregates, as charts and tables; feedback for the operator. */
export function startStats(): void {
  applyStrings();
  const days = $<HTMLSelectElement>("stats-days");
  for (const d of DAY_CHOICES) {
    const option = el("option", t("stats.dayOption", { days: d })) as HTMLOptionElement;
    option.value = String(d);
    option.selected = d === 7;
    days.append(option);
  }
  days.addEventListener("change", () => void load(Number(days.value)));
  window.addEventListener("resize", () => {
    for (const chart of charts) chart.setSize(sizeOf(chart.root.parentElement));
  });
  void load(7);
}

async function load(days: number): Promise<void> {
  const status = $("stats-status");
  status.textContent = t("stats.loading");
  document.body.dataset.stats = "loading";
  let stats: Stats;
  try {
    const response = await fetch(`/api/stats?days=${days}`, { cache: "no-store", credentials: "omit" });
    if (!response.ok) throw new Error(String(response.status));
    stats = (await response.json()) as Stats;
  } catch {
    status.textContent = t("stats.off");
    document.body.dataset.stats = "off";
    return;
  }
  status.textContent = stats.rows.length === 0 ? t("stats.empty") : "";
  renderFigures(stats.figures);
  renderCharts(stats);
  document.body.dataset.stats = "ready";
  await loadFeedback();
}

function percent(value: number | null, digits = 1): string {
  return value === null ? t("stats.none") : `${(value * 100).toFixed(digits)} %`;
}

function renderFigures(f: Figures): void {
  const list = $("stats-figure-list");
  list.replaceChildren();
  const items: [StringKey, string, string | null][] = [
    ["stats.success", percent(f.successRate), t("stats.target", { target: "90 %" })],
    ["stats.within10s", percent(f.connectedWithin10s), null],
    ["stats.delivery", percent(f.deliveryRate, 2), t("stats.target", { target: "99.9 %" })],
    ["stats.recoveries", String(f.recoveries), null],
    ["stats.resumed15s", percent(f.resumedWithin15s), null],
    ["stats.relayShare", percent(f.relayShare), null],
    ["stats.reports", String(f.reports), null],
  ];
  for (const [label, value, target] of items) {
    const dd = el("dd", value);
    if (target) dd.append(el("span", ` (${target})`, "hint"));
    list.append(el("dt", t(label)), dd);
  }
  $("stats-figures").hidden = false;
}

/** Sum of counts by key, for one metric. */
function totals(rows: Row[], metric: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of rows) if (r.metric === metric) out.set(r.key, (out.get(r.key) ?? 0) + r.count);
  return out;
}

/** One value per hour of the span: part / whole of that hour, or null when nothing was counted. */
function hourlyRate(stats: Stats, part: (hour: Row[]) => number, whole: (hour: Row[]) => number): [number[], (number | null)[]] {
  const from = Date.parse(stats.from) / 1000;
  const to = Date.parse(stats.to) / 1000;
  const byHour = new Map<number, Row[]>();
  for (const r of stats.rows) byHour.set(r.hour, [...(byHour.get(r.hour) ?? []), r]);
  const hours: number[] = [];
  const values: (number | null)[] = [];
  for (let h = from; h <= to; h += HOUR) {
    const rows = byHour.get(h) ?? [];
    const w = whole(rows);
    hours.push(h);
    values.push(w === 0 ? null : (part(rows) / w) * 100);
  }
  return [hours, values];
}

const count = (rows: Row[], metric: string, ...keys: string[]) =>
  rows.filter((r) => r.metric === metric && keys.includes(r.key)).reduce((s, r) => s + r.count, 0);

function renderCharts(stats: Stats): void {
  for (const chart of charts.splice(0)) chart.destroy();
  const root = $("stats-charts");
  root.replaceChildren();
  const rows = stats.rows;
  const rate = (metric: string, part: string[], whole: string[]) =>
    hourlyRate(
      stats,
      (h) => count(h, metric, ...part),
      (h) => count(h, metric, ...whole),
    );
  lineChart(root, "stats.chartSuccess", rate("attempt", ["connected"], ["connected", "failed"]), 90);
  barChart(root, "stats.chartConnect", ordered(totals(rows, "ttc"), CONNECT_BUCKETS));
  lineChart(root, "stats.chartDelivery", rate("messages", ["delivered"], ["delivered", "given_up"]), 99.9);
  barChart(root, "stats.chartResume", ordered(totals(rows, "resume"), RESUME_BUCKETS));
  barChart(root, "stats.chartPath", byCount(totals(rows, "path")));
  barChart(root, "stats.chartProviders", byCount(totals(rows, "provider")));
  barChart(root, "stats.chartErrors", byCount(totals(rows, "error")));
  barChart(root, "stats.chartBrowsers", byCount(totals(rows, "browser")));
}

function ordered(values: Map<string, number>, keys: readonly string[]): [string[], number[]] {
  return [[...keys], keys.map((k) => values.get(k) ?? 0)];
}

function byCount(values: Map<string, number>): [string[], number[]] {
  const sorted = [...values].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 12);
  return [sorted.map(([k]) => k), sorted.map(([, v]) => v)];
}

/** A chart's figure: the title, the canvas (an image for screen readers) and the same numbers as a table. */
function figure(root: HTMLElement, title: StringKey, labels: string[], values: string[]): HTMLElement {
  const box = el("figure", undefined, "stats-chart");
  const caption = el("figcaption", t(title));
  const plot = el("div", undefined, "stats-plot");
  plot.setAttribute("role", "img");
  plot.setAttribute("aria-label", t(title));
  const details = el("details");
  details.append(el("summary", t("stats.tableLabel", { title: t(title) })));
  const table = el("table");
  for (let i = 0; i < labels.length; i++) {
    const tr = el("tr");
    tr.append(el("th", labels[i]), el("td", values[i]));
    table.append(tr);
  }
  details.append(table);
  box.append(caption, plot, details);
  root.append(box);
  return plot;
}

function sizeOf(plot: HTMLElement | null): { width: number; height: number } {
  return { width: Math.max(240, (plot?.clientWidth ?? 320) - 4), height: 200 };
}

function lineChart(root: HTMLElement, title: StringKey, [hours, values]: [number[], (number | null)[]], target: number): void {
  const plot = figure(
    root,
    title,
    hours.filter((_, i) => values[i] !== null).map((h) => new Date(h * 1000).toISOString().slice(0, 13) + ":00Z"),
    values.filter((v): v is number => v !== null).map((v) => `${v.toFixed(2)} %`),
  );
  const chart = new uPlot(
    {
      ...sizeOf(plot),
      scales: { y: { range: [0, 100] } },
      series: [
        {},
        { label: "%", stroke: "#2f6fdf", width: 2, spanGaps: false, points: { show: true } },
        { label: "target", stroke: "#c0392b", dash: [6, 4], width: 1 },
      ],
      axes: [{}, { values: (_u, ticks) => ticks.map((v) => `${v} %`) }],
      legend: { show: false },
      cursor: { show: false },
    },
    [hours, values, hours.map(() => target)],
    plot,
  );
  charts.push(chart);
}

function barChart(root: HTMLElement, title: StringKey, [labels, values]: [string[], number[]]): void {
  const plot = figure(
    root,
    title,
    labels,
    values.map((v) => String(v)),
  );
  const xs = labels.map((_, i) => i);
  const chart = new uPlot(
    {
      ...sizeOf(plot),
      scales: { x: { time: false, range: [-0.5, Math.max(0.5, labels.length - 0.5)] }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      series: [{}, { label: "count", fill: "#2f6fdf88", stroke: "#2f6fdf", paths: uPlot.paths.bars!({ size: [0.6, 64] }), points: { show: false } }],
      axes: [{ values: (_u, ticks) => ticks.map((v) => labels[v] ?? ""), splits: () => xs, rotate: labels.length > 4 ? -30 : 0, size: 60 }, {}],
      legend: { show: false },
      cursor: { show: false },
    },
    [xs, values],
    plot,
  );
  charts.push(chart);
}

/** The operator's feedback list (GET /api/feedback answers the operator only), each entry deletable. */
async function loadFeedback(): Promise<void> {
  let entries: Feedback[];
  try {
    const response = await fetch("/api/feedback", { cache: "no-store", credentials: "omit" });
    if (!response.ok) return;
    entries = (await response.json()) as Feedback[];
  } catch {
    return;
  }
  const list = $("stats-feedback-list");
  list.replaceChildren();
  if (entries.length === 0) list.append(el("li", t("stats.feedbackEmpty"), "hint"));
  for (const entry of entries) {
    const item = el("li");
    item.dataset.id = String(entry.id);
    item.append(el("p", entry.hour.slice(0, 13) + ":00Z", "hint"), el("p", entry.text, "stats-feedback-text"));
    if (entry.diagnostics)
      item.append(el("p", t("stats.feedbackDiagnostics", { outlook: entry.diagnostics.outlook, verdicts: entry.diagnostics.verdicts.join(", ") }), "hint"));
    const remove = el("button", t("stats.feedbackDelete")) as HTMLButtonElement;
    remove.type = "button";
    remove.addEventListener("click", () => {
      void fetch(`/api/feedback/${entry.id}`, { method: "DELETE", credentials: "omit" }).then((r) => r.ok && item.remove());
    });
    item.append(remove);
    list.append(item);
  }
  $("stats-feedback").hidden = false;
}
