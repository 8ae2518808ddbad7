// The compose file's "cluster" profile, run as processes: two GhostChat nodes with exactly the file's
// node1/node2 environment (Redis, coturn's port and the balancer's address moved to loopback), a real
// redis-server run by the file's Redis entrypoint (password from a secret file), and Debian's Caddy with deploy/cluster/Caddyfile as the load balancer. New sockets
// are spread over both nodes, two Chromium pages chat through the balancer, and when one node stops
// the balancer sends every new client to the other.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCaddyBalancer } from './lib/caddy.mjs';
import { loadCompose, localEntrypoint, localSettings, TEST_ENV } from './lib/deploy-files.mjs';
import { startRedis } from './lib/redis.mjs';
import { freePort, startGhostChat } from './lib/servers.mjs';
import { closeAll, connectPeer } from './lib/ws-client.mjs';
import { chromiumPage, connectPair, launchChromium, send, waitIncoming } from '../../web/e2e/harness.mjs';

async function sockets(node) {
  const ready = await (await fetch(`${node.httpUrl}/readyz`)).json();
  return ready.checks.signaling.data.sockets;
}

describe('compose profile "cluster": two nodes on Redis behind deploy/cluster/Caddyfile', { timeout: 300_000 }, () => {
  let redis, nodes = [], lb, browser, dir;
  const clients = [];
  let n = 0;
  const uid = () => `lb${process.pid}x${++n}`;

  before(async () => {
    // Redis as the file runs it: its entrypoint, with the password from a secret file.
    const compose = loadCompose({ ...TEST_ENV, TURN_HOST: '127.0.0.1' });
    dir = mkdtempSync(path.join(os.tmpdir(), 'ghostchat-cluster-'));
    redis = await startRedis({
      launcher: localEntrypoint(compose.services.redis, { redis_password: TEST_ENV.REDIS_PASSWORD }, dir),
      password: TEST_ENV.REDIS_PASSWORD,
    });
    const unusedTurnPort = await freePort();
    for (const name of ['node1', 'node2']) {
      // The file's environment; the cluster key from a secret file, as compose hands it over.
      const settings = localSettings(compose.services[name], { cluster_key: TEST_ENV.GHOSTCHAT_CLUSTER_KEY }, dir, (v) => v
        .replace(/^redis:6379,/, `${redis.url},`)
        .replace(/^turn:127\.0\.0\.1:3478\?/, `turn:127.0.0.1:${unusedTurnPort}?`)
        .replace(/^172\.30\.0\.10$/, '127.0.0.1'));
      assert.equal(settings['GhostChat:Network:TrustedProxies:0'], '127.0.0.1', 'the balancer is not trusted');
      nodes.push(await startGhostChat({ settings }));
    }
    lb = await startCaddyBalancer({ upstreamPorts: nodes.map((x) => x.port) });
    browser = await launchChromium();
  });

  after(async () => {
    await closeAll(clients.splice(0));
    await browser?.close();
    await lb?.stop();
    for (const node of nodes) await node.stop();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('spreads new sockets over both nodes (round robin)', async () => {
    const before = await Promise.all(nodes.map(sockets));
    let added = [0, 0];
    // Round robin alternates while both nodes pass their health checks; a slow /readyz under load
    // can take one out for a moment, so keep opening (up to 12) until both have new sockets.
    for (let i = 0; i < 12 && !(added[0] >= 1 && added[1] >= 1 && i >= 4); i++) {
      const c = await connectPeer(lb.wsUrl, { id: uid(), token: 't' });
      clients.push(c);
      assert.equal((await c.nextType('OPEN', 30_000)).type, 'OPEN');
      c.startHeartbeat(1000);
      added = (await Promise.all(nodes.map(sockets))).map((v, k) => v - before[k]);
    }
    assert.ok(added.every((a) => a >= 1), `sockets per node went up by ${added}`);
  });

  it('two Chromium pages chat through the balancer, one node stops, new clients reach the other', async () => {
    const host = await chromiumPage(browser);
    const guest = await chromiumPage(browser);
    await connectPair(host, guest, lb.url);
    await send(host, 'through the balancer');
    await waitIncoming(guest, 'through the balancer');

    // Stop node1 (SIGTERM, by PID). The balancer's health checks on /readyz take it out.
    await nodes[0].stop();
    const deadline = Date.now() + 90_000;
    let streak = 0;
    while (streak < 6) {
      assert.ok(Date.now() < deadline, 'new clients kept failing after node1 stopped');
      try {
        const c = await connectPeer(lb.wsUrl, { id: uid(), token: 't', timeoutMs: 5000 });
        clients.push(c);
        const first = await c.next(() => true, 5000);
        streak = first.json?.type === 'OPEN' ? streak + 1 : 0;
      } catch {
        streak = 0;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    // The chat itself runs browser to browser and goes on.
    await send(guest, 'still here after a node stopped');
    await waitIncoming(host, 'still here after a node stopped');
    assert.equal((await fetch(`${lb.url}/readyz`)).status, 200);
  });
});
