// Read our server's Prometheus /metrics.
//   readMetrics(httpUrl) -> Promise<Array<{ name, labels: {k: v}, value }>>
//   metricValue(samples, name, labels = {}) -> sum of the samples of `name` whose labels include `labels`
//   waitForMetric(httpUrl, name, labels, predicate, timeoutMs) -> Promise<number>: polls until
//       predicate(value) holds (the exporter may publish with a short delay)
export async function readMetrics(httpUrl) {
  const res = await fetch(`${httpUrl}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const samples = [];
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

export function metricValue(samples, name, labels = {}) {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

export async function waitForMetric(httpUrl, name, labels, predicate, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let value;
  for (;;) {
    value = metricValue(await readMetrics(httpUrl), name, labels);
    if (predicate(value)) return value;
    if (Date.now() > deadline) throw new Error(`${name}${JSON.stringify(labels)} = ${value} did not satisfy ${predicate}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
