// The official peerjs@1.5.5 client in two headless Chromium pages registers with OUR server,
// opens a DataConnection through it and exchanges messages both ways; /metrics proves the
// server relayed the OFFER/ANSWER/CANDIDATE signaling. The same scenarios also run against the
// reference peer@1.0.2 as a baseline (without the metrics checks), which shows the scenarios
// themselves are sound when ours fails them.
//
// The pages come from a tiny Node http server on another port (a cross-origin page, like an app
// embedding PeerJS): our server's CSP forbids inline script on its own origin, and the page's
// fetch of /peerjs/id then also exercises CORS.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTarget } from './lib/differential.mjs';
import { startPeerjsPages } from './lib/peerjs-page.mjs';
import { launchChromium } from './lib/browser.mjs';
import { readMetrics, metricValue, waitForMetric } from './lib/metrics.mjs';
import { connectPeer } from './lib/ws-client.mjs';

let pages;
let browser;

before(async () => {
  pages = await startPeerjsPages('peerjs interop');
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await pages?.close();
});

/** Create a Peer in the page and wait for `open`; returns its id. id undefined = ask the server. */
function openPeer(page, port, id, token) {
  return page.evaluate(async ({ port, id, token }) => {
    const opts = { host: '127.0.0.1', port, path: '/', key: 'peerjs', secure: false, debug: 1, config: { iceServers: [] } };
    if (token) opts.token = token;
    const peer = id ? new Peer(id, opts) : new Peer(opts);
    window.peer = peer;
    window.received = [];
    window.errors = [];
    peer.on('error', (e) => window.errors.push(`${e.type}: ${e.message}`));
    return await new Promise((resolve, reject) => {
      peer.on('open', resolve);
      peer.on('error', (e) => reject(new Error(`${e.type}: ${e.message}`)));
    });
  }, { port, id, token });
}

for (const kind of ['ghostchat', 'reference']) describe(`official peerjs client [${kind}]`, () => {
  const ours = kind === 'ghostchat';
  let server;
  // Two pages from one IP: our default limits are far above what these tests use.
  before(async () => { server = await startTarget(kind, { expireMs: 1500, aliveMs: 60_000 }); });
  after(async () => { await server?.stop(); });

  test('peerjs 1.5.5 in two Chromium pages: register, connect, exchange messages both ways through the server', { timeout: 120_000 }, async () => {
    const before = ours ? await readMetrics(server.httpUrl) : null;
    const relayed = (s, type) => metricValue(s, 'ghostchat_signaling_messages_relayed_total', { type });

    const ctxA = await browser.newContext();
    const ctxB = await browser.newContext();
    const pageA = await ctxA.newPage();
    const pageB = await ctxB.newPage();
    const logs = [];
    for (const [n, p] of [['A', pageA], ['B', pageB]]) p.on('console', (m) => logs.push(`${n} ${m.type()}: ${m.text()}`));
    try {
      await pageA.goto(`${pages.url}/`);
      await pageB.goto(`${pages.url}/`);

      // A asks the server for an id (GET /peerjs/id, cross-origin); B picks one the client allows.
      const idA = await openPeer(pageA, server.port);
      assert.match(idA, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const idB = `browserB-${Date.now().toString(36)}`;
      assert.equal(await openPeer(pageB, server.port, idB), idB);
      if (ours) await waitForMetric(server.httpUrl, 'ghostchat_signaling_peers', {}, (v) => v >= 2);

      const N = 20;
      // B answers every message and sends its own greetings once the channel is open.
      await pageB.evaluate((N) => {
        window.peer.on('connection', (conn) => {
          window.remote = conn.peer;
          conn.on('data', (d) => { window.received.push(d); conn.send(`echo:${d}`); });
          conn.on('open', () => { for (let i = 0; i < N; i++) conn.send(`from B ${i}`); });
        });
      }, N);

      const fromA = await pageA.evaluate(async ({ idB, N }) => {
        const conn = window.peer.connect(idB, { reliable: true });
        await new Promise((resolve, reject) => {
          conn.on('open', resolve);
          conn.on('error', (e) => reject(new Error(`connection: ${e.type} ${e.message}`)));
          window.peer.on('error', (e) => reject(new Error(`peer: ${e.type} ${e.message}`)));
        });
        conn.on('data', (d) => window.received.push(d));
        for (let i = 0; i < N; i++) conn.send(`from A ${i}`);
        await new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`only ${window.received.length} messages: ${JSON.stringify(window.received)}`)), 30_000);
          const check = () => (window.received.length >= 2 * N ? (clearTimeout(t), resolve()) : setTimeout(check, 20));
          check();
        });
        return window.received;
      }, { idB, N });

      const expectedA = [...Array.from({ length: N }, (_, i) => `from B ${i}`), ...Array.from({ length: N }, (_, i) => `echo:from A ${i}`)];
      assert.deepEqual([...fromA].sort(), [...expectedA].sort());
      // Reliable channel: each stream arrives in order.
      assert.deepEqual(fromA.filter((d) => d.startsWith('from B')), expectedA.slice(0, N));
      assert.deepEqual(fromA.filter((d) => d.startsWith('echo:')), expectedA.slice(N));

      const gotB = await pageB.evaluate(() => ({ received: window.received, remote: window.remote, errors: window.errors }));
      assert.deepEqual(gotB.received, Array.from({ length: N }, (_, i) => `from A ${i}`));
      assert.equal(gotB.remote, idA);
      assert.deepEqual(gotB.errors, []);
      assert.deepEqual(await pageA.evaluate(() => window.errors), []);

      // The signaling went through our server.
      if (ours) {
      await waitForMetric(server.httpUrl, 'ghostchat_signaling_messages_relayed_total', { type: 'OFFER' }, (v) => v >= relayed(before, 'OFFER') + 1);
      await waitForMetric(server.httpUrl, 'ghostchat_signaling_messages_relayed_total', { type: 'ANSWER' }, (v) => v >= relayed(before, 'ANSWER') + 1);
      await waitForMetric(server.httpUrl, 'ghostchat_signaling_messages_relayed_total', { type: 'CANDIDATE' }, (v) => v >= relayed(before, 'CANDIDATE') + 1);
      await waitForMetric(server.httpUrl, 'ghostchat_signaling_connections_total', {},
        (v) => v >= metricValue(before, 'ghostchat_signaling_connections_total') + 2);
      }
    } catch (e) {
      e.message += `\n--- browser console ---\n${logs.slice(-40).join('\n')}\n--- server ---\n${server.output().slice(-3000)}`;
      throw e;
    } finally {
      await ctxA.close();
      await ctxB.close();
    }
  });

  test('peerjs 1.5.5: connecting to an id nobody holds ends in peer-unavailable (EXPIRE from the server)', { timeout: 60_000 }, async () => {
    const ctx = await browser.newContext();
    try {
      const page = await ctx.newPage();
      await page.goto(`${pages.url}/`);
      await openPeer(page, server.port, `lonely-${Date.now().toString(36)}`);
      const ghost = `nobody-${Date.now().toString(36)}`;
      const err = await page.evaluate(async (ghost) => new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no error within 20 s')), 20_000);
        window.peer.on('error', (e) => { clearTimeout(t); resolve({ type: e.type, message: e.message }); });
        window.peer.connect(ghost);
      }), ghost);
      assert.equal(err.type, 'peer-unavailable');
      assert.match(err.message, new RegExp(ghost));
      assert.equal(await page.evaluate(() => window.peer.disconnected), false, 'the peer stays connected to the server');
    } finally {
      await ctx.close();
    }
  });

  test('peerjs 1.5.5 re-attaching with the same id and token while the server holds the old socket: ours opens, the reference leaves the client hanging', { timeout: 60_000 }, async () => {
    // The situation of peers/peerjs#1289: the old socket is half-open from the server's view.
    const id = `reattach-${Date.now().toString(36)}`;
    const token = 'sametoken123';
    const old = await connectPeer(server.wsUrl, { id, token });
    await old.next('OPEN');
    old.startHeartbeat(1000);
    const ctx = await browser.newContext();
    try {
      const page = await ctx.newPage();
      await page.goto(`${pages.url}/`);
      const opening = openPeer(page, server.port, id, token);
      if (ours) {
        assert.equal(await opening, id);
        const closed = await old.waitClosed();
        assert.equal(closed.code, 4001);
      } else {
        // Absence of `open` can only be observed by waiting.
        const outcome = await Promise.race([opening.then(() => 'open', (e) => `error ${e.message}`),
          new Promise((r) => setTimeout(() => r('no open'), 3000))]);
        assert.equal(outcome, 'no open');
        assert.ok(old.isOpen());
      }
    } finally {
      old.terminate();
      await ctx.close();
    }
  });
});
