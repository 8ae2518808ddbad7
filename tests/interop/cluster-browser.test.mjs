// Two GhostChat nodes sharing signaling through a real redis-server: the official peerjs@1.5.5
// client in one Chromium page registers on node 1, another page on node 2, and they open a
// DataConnection and chat. The nodes' cluster metrics prove the signaling crossed between them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGhostChat } from './lib/servers.mjs';
import { startPeerjsPages } from './lib/peerjs-page.mjs';
import { launchChromium } from './lib/browser.mjs';
import { waitForMetric } from './lib/metrics.mjs';
import { startRedis } from './lib/redis.mjs';

let redis;
let nodes = [];
let pages;
let browser;

before(async () => {
  redis = await startRedis();
  const prefix = `interop${Date.now().toString(36)}:`;
  nodes = await Promise.all(['n1', 'n2'].map((nodeId) => startGhostChat({
    settings: {
      'GhostChat:Redis:ConnectionString': redis.url,
      'GhostChat:Redis:ClusterKey': 'interop-cluster-key-0123456789abcdef',
      'GhostChat:Redis:KeyPrefix': prefix,
      'GhostChat:Redis:NodeId': nodeId,
    },
  })));
  pages = await startPeerjsPages('cluster interop');
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await pages?.close();
  for (const node of nodes) await node.stop();
  await redis?.stop();
});

function openPeer(page, port, id) {
  return page.evaluate(async ({ port, id }) => {
    const peer = new Peer(id, { host: '127.0.0.1', port, path: '/', key: 'peerjs', secure: false, debug: 1, config: { iceServers: [] } });
    window.peer = peer;
    window.received = [];
    return await new Promise((resolve, reject) => {
      peer.on('open', resolve);
      peer.on('error', (e) => reject(new Error(`${e.type}: ${e.message}`)));
    });
  }, { port, id });
}

test('peerjs 1.5.5 on two different nodes (Redis): connect and chat both ways', { timeout: 120_000 }, async () => {
  const [node1, node2] = nodes;
  const ctxA = await browser.newContext();
  const ctxB = await browser.newContext();
  try {
    const pageA = await ctxA.newPage();
    const pageB = await ctxB.newPage();
    await pageA.goto(`${pages.url}/`);
    await pageB.goto(`${pages.url}/`);
    const idA = `nodeone-${Date.now().toString(36)}`;
    const idB = `nodetwo-${Date.now().toString(36)}`;
    assert.equal(await openPeer(pageA, node1.port, idA), idA);
    assert.equal(await openPeer(pageB, node2.port, idB), idB);

    await pageB.evaluate(() => {
      window.peer.on('connection', (conn) => {
        conn.on('data', (d) => { window.received.push(d); conn.send(`echo:${d}`); });
      });
    });
    const echoes = await pageA.evaluate(async (idB) => {
      const conn = window.peer.connect(idB, { reliable: true });
      await new Promise((resolve, reject) => {
        conn.on('open', resolve);
        window.peer.on('error', (e) => reject(new Error(`${e.type}: ${e.message}`)));
      });
      conn.on('data', (d) => window.received.push(d));
      for (let i = 0; i < 10; i++) conn.send(`hello ${i}`);
      await new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`only ${window.received.length} echoes`)), 30_000);
        const check = () => (window.received.length >= 10 ? (clearTimeout(t), resolve()) : setTimeout(check, 20));
        check();
      });
      return window.received;
    }, idB);

    assert.deepEqual(echoes, Array.from({ length: 10 }, (_, i) => `echo:hello ${i}`));
    assert.deepEqual(await pageB.evaluate(() => window.received), Array.from({ length: 10 }, (_, i) => `hello ${i}`));
    // The OFFER went from node 1 to node 2 and the ANSWER back: both nodes sent across.
    await waitForMetric(node1.httpUrl, 'ghostchat_cluster_messages_sent_total', { node: 'n1' }, (v) => v >= 1);
    await waitForMetric(node2.httpUrl, 'ghostchat_cluster_messages_sent_total', { node: 'n2' }, (v) => v >= 1);
  } finally {
    await ctxA.close();
    await ctxB.close();
  }
});
