// Smoke run of the signaling load generator (`ghostchat bench signaling --quick --json`), so the
// benchmark cannot rot: against our server and against the reference peer@1.0.2 (the generator
// speaks only the PeerJS protocol), every phase must produce sane, non-zero figures with nothing
// lost. Speed itself is never asserted here; bench/signaling.sh measures it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGhostChat, startReference, stopAll } from './lib/servers.mjs';
import { runProcess } from '../support/index.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI_DLL = process.env.GHOSTCHAT_CLI_DLL
  ? path.resolve(process.env.GHOSTCHAT_CLI_DLL)
  : path.resolve(here, '../../src/GhostChat.Cli/bin/Release/net10.0/ghostchat.dll');

after(stopAll);

/** Runs the CLI to completion; resolves { code, stdout, stderr }. Killed (by its PID) after timeoutMs. */
function runCli(args, timeoutMs = 180_000) {
  assert.ok(existsSync(CLI_DLL), `ghostchat CLI not built at ${CLI_DLL} (dotnet build src/GhostChat.Cli -c Release)`);
  return runProcess('dotnet', [CLI_DLL, ...args], {
    env: { ...process.env, DOTNET_NOLOGO: '1', DOTNET_CLI_TELEMETRY_OPTOUT: '1' },
    timeoutMs,
  });
}

function assertSaneReport(report, url) {
  assert.equal(report.url, url);
  assert.equal(report.pairs, 4);
  assert.ok(report.payloadBytes >= 2000 && report.payloadBytes <= 4096, `OFFER frame of ${report.payloadBytes} B is not SDP-sized`);

  const t = report.throughput;
  assert.ok(t, 'no throughput phase');
  assert.ok(t.messages > 0 && t.messagesPerSecond > 0, `throughput ${JSON.stringify(t)}`);
  assert.equal(t.sendErrors, 0);
  assert.ok(t.p50Ms > 0 && t.p99Ms >= t.p50Ms, `throughput latency ${JSON.stringify(t)}`);
  assert.ok(t.serverCpuPercent > 0 && t.serverCpuMicrosecondsPerMessage > 0, `server CPU not read: ${JSON.stringify(t)}`);

  const l = report.latency;
  assert.ok(l, 'no latency phase');
  assert.equal(l.offeredPerSecond, 100);
  assert.ok(l.sent > 0, `latency ${JSON.stringify(l)}`);
  assert.equal(l.received, l.sent, 'the latency phase lost messages');
  assert.ok(l.p50Ms > 0 && l.p99Ms >= l.p50Ms && l.maxMs >= l.p99Ms, `latency ${JSON.stringify(l)}`);

  const i = report.idle;
  assert.ok(i, 'no idle phase');
  assert.equal(i.peers, 100);
  assert.equal(i.registered, 100);
  assert.equal(i.failed, 0);
  assert.equal(i.stillOpen, 100);
  assert.ok(i.connectionsPerSecond > 0, `idle ${JSON.stringify(i)}`);
  assert.ok(i.rssBeforeKiB > 0 && i.rssAfterKiB > 0, `RSS not read: ${JSON.stringify(i)}`);
  assert.ok(Number.isFinite(i.bytesPerPeer), `bytesPerPeer ${i.bytesPerPeer}`);
}

async function benchAgainst(server) {
  const url = `${server.httpUrl}/`;
  const { code, stdout, stderr } = await runCli(['bench', 'signaling', '--quick', '--json', '--url', url, '--server-pid', String(server.pid)]);
  assert.equal(code, 0, `exit ${code}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`);
  const report = JSON.parse(stdout);
  assertSaneReport(report, url);
}

// The generator's sockets all come from 127.0.0.1 and relay far faster than a browser.
const GENERATOR_LIMITS = {
  'GhostChat:Signaling:Limits:MaxSocketsPerIp': 10_000,
  'GhostChat:Signaling:Limits:ConnectsPerSecondPerIp': 10_000,
  'GhostChat:Signaling:Limits:ConnectBurstPerIp': 10_000,
  'GhostChat:Signaling:Limits:MessagesPerSecond': 1_000_000,
  'GhostChat:Signaling:Limits:MessageBurst': 1_000_000,
};

test('bench signaling --quick against GhostChat gives sane figures in every phase', async () => {
  const server = await startGhostChat({ settings: GENERATOR_LIMITS });
  try {
    await benchAgainst(server);
  } finally {
    await server.stop();
  }
});

test('bench signaling --quick against the reference peer@1.0.2 gives sane figures in every phase', async () => {
  const server = await startReference({ args: ['--alive_timeout', '60000', '--concurrent_limit', '100000'] });
  try {
    await benchAgainst(server);
  } finally {
    await server.stop();
  }
});

test('bench signaling fails with exit 1 and the server\'s reason when registration is refused', async () => {
  const server = await startReference({ args: ['--key', 'secret'] });
  try {
    const { code, stdout, stderr } = await runCli(['bench', 'signaling', '--quick', '--json', '--url', `${server.httpUrl}/`, '--key', 'wrong']);
    assert.equal(code, 1, `exit ${code}\n${stdout}\n${stderr}`);
    assert.match(stderr, /Invalid key provided/);
    assert.equal(stdout.trim(), '');
  } finally {
    await server.stop();
  }
});

test('bench signaling rejects bad options with exit 2 before connecting', async () => {
  const { code, stderr } = await runCli(['bench', 'signaling', '--url', 'http://127.0.0.1:9/', '--pairs', '0', '--phases', 'latency']);
  assert.equal(code, 2);
  assert.match(stderr, /--pairs must be 1\.\.5000/);
});

test('bench signaling --message-size: every relayed frame is exactly that size and both servers relay it', async () => {
  // The reference judges the frames too: a cut SDP must still be valid JSON it relays untouched.
  const servers = [
    await startGhostChat({ settings: GENERATOR_LIMITS }),
    await startReference({ args: ['--alive_timeout', '60000'] }),
  ];
  try {
    for (const server of servers) {
      for (const size of ['500', '257', '9000']) {
        const { code, stdout, stderr } = await runCli(['bench', 'signaling', '--quick', '--json', '--phases', 'throughput,latency', '--message-size', size, '--url', `${server.httpUrl}/`]);
        assert.equal(code, 0, `--message-size ${size}: exit ${code}\n${stdout}\n${stderr}`);
        const report = JSON.parse(stdout);
        assert.equal(report.payloadBytes, Number(size));
        assert.ok(report.throughput.messages > 0 && report.throughput.sendErrors === 0, JSON.stringify(report.throughput));
        assert.ok(report.latency.sent > 0, JSON.stringify(report.latency));
        assert.equal(report.latency.received, report.latency.sent, `--message-size ${size}: the latency phase lost messages`);
      }
    }
  } finally {
    for (const server of servers) await server.stop();
  }
});

test('bench signaling rejects a --message-size or --warmup out of range or not a number before connecting', async () => {
  for (const [size, expected] of [['255', /--message-size must be 256\.\.65536 bytes, got 255/], ['65537', /--message-size must be 256\.\.65536/], ['-1', /--message-size must be 256\.\.65536/], ['big', /big/]]) {
    const { code, stdout, stderr } = await runCli(['bench', 'signaling', '--url', 'http://127.0.0.1:9/', '--message-size', size]);
    assert.ok(code === 2 || code === 1, `--message-size ${size}: exit ${code}`);
    assert.match(stderr + stdout, expected);
  }
  for (const [seconds, expected] of [['-1', /--warmup must be 0\.\.600 seconds/], ['601', /--warmup must be 0\.\.600 seconds/], ['1e300', /--warmup must be 0\.\.600 seconds/], ['soon', /soon/]]) {
    const { code, stdout, stderr } = await runCli(['bench', 'signaling', '--url', 'http://127.0.0.1:9/', '--warmup', seconds]);
    assert.ok(code === 2 || code === 1, `--warmup ${seconds}: exit ${code}`);
    assert.match(stderr + stdout, expected);
  }
});

test('cluster mode (--second-url): pairs spread over two Redis-backed nodes, half of them crossing', { timeout: 240_000 }, async () => {
  const { startRedis } = await import('./lib/redis.mjs');
  const { readMetrics, metricValue } = await import('./lib/metrics.mjs');
  const redis = await startRedis();
  try {
    const settings = (nodeId) => ({
      'GhostChat:Signaling:Limits:MaxSocketsPerIp': 10_000,
      'GhostChat:Signaling:Limits:ConnectsPerSecondPerIp': 10_000,
      'GhostChat:Signaling:Limits:ConnectBurstPerIp': 10_000,
      'GhostChat:Signaling:Limits:MessagesPerSecond': 1_000_000,
      'GhostChat:Signaling:Limits:MessageBurst': 1_000_000,
      'GhostChat:Redis:ConnectionString': redis.url,
      'GhostChat:Redis:ClusterKey': 'interop-cluster-key-0123456789abcdef',
      'GhostChat:Redis:KeyPrefix': 'smoke:',
      'GhostChat:Redis:NodeId': nodeId,
    });
    const [n1, n2] = await Promise.all([startGhostChat({ settings: settings('n1') }), startGhostChat({ settings: settings('n2') })]);
    const url = `${n1.httpUrl}/`;
    const second = `${n2.httpUrl}/`;
    const { code, stdout, stderr } = await runCli(['bench', 'signaling', '--quick', '--json', '--phases', 'throughput,latency', '--url', url, '--second-url', second]);
    assert.equal(code, 0, `generator failed: ${stderr}${stdout}`);
    const report = JSON.parse(stdout);
    assert.equal(report.secondUrl, second);
    assert.ok(report.throughput.messages > 0 && report.throughput.sendErrors === 0, JSON.stringify(report.throughput));
    assert.equal(report.latency.received, report.latency.sent, 'the latency phase lost messages across nodes');
    // Both nodes sent messages across: the pairs really were split.
    for (const [node, name] of [[n1, 'n1'], [n2, 'n2']]) {
      const crossed = metricValue(await readMetrics(node.httpUrl), 'ghostchat_cluster_messages_sent_total', { node: name });
      assert.ok(crossed > 0, `${name} sent nothing across`);
    }
  } finally {
    await stopAll();
    await redis.stop();
  }
});

// Sanity only (bench/signaling-slow-readers.sh measures; OutboundBudgetTests checks the budgets).
test('slow-reader attack bench (bench/signaling/slow-readers.mjs), tiny: runs and reports sane figures', { timeout: 120_000 }, async () => {
  // The node budget at its minimum, so a few slow sockets use it up; the shipped limits otherwise.
  const server = await startGhostChat({ settings: { 'GhostChat:Signaling:Limits:MaxOutboundBytesTotal': 131_072 } });
  try {
    const script = path.resolve(here, '../../bench/signaling/slow-readers.mjs');
    const child = spawn(process.execPath, [script, `${server.httpUrl}/`, String(server.pid)], {
      env: { ...process.env, SLOW_ADDRS: '2', SLOW_PER_ADDR: '3', FLOOD_ADDRS: '1', FLOOD_PER_ADDR: '4', DURATION: '15' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, `exit ${code}\n${stderr}`);
    const r = JSON.parse(stdout);
    assert.equal(r.neverReadingSockets, 6);
    assert.equal(r.flooders, 4);
    assert.ok(r.framesSent > 0 && r.peakRssMiB >= r.rssBeforeFloodMiB && r.rssBeforeFloodMiB > 0, stdout);
    assert.ok(r.metricsAfter.closedSlowConsumer + r.metricsAfter.closedNodeBudget >= 1, `no slow socket was closed:\n${stderr}`);
    assert.ok(r.honest.sent > 0 && r.honest.received > 0, JSON.stringify(r.honest));
    assert.equal(r.samples.length, 15);
  } finally {
    await server.stop();
  }
});
