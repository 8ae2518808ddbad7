// Debian's Caddy with `tls internal` in front of our server (deploy/proxy/Caddyfile adapted to
// loopback and free ports; lib/caddy.mjs): two Chromium pages chat over HTTPS through the proxy; the
// server believes X-Forwarded-For from the trusted proxy only, so its per-address limit (open sockets
// per address) applies to the real client behind Caddy, and a forged header sent straight to the
// server is ignored. Clients pick distinct loopback source addresses (127.0.0.2, …) to be told apart.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { startCaddy } from './lib/caddy.mjs';
import { readMetrics, metricValue } from './lib/metrics.mjs';
import { startGhostChat } from './lib/servers.mjs';
import { closeAll, connectPeer } from './lib/ws-client.mjs';
import { CHROMIUM_ARGS, CHROMIUM, connectPair, send, waitIncoming, waitOutgoingState, wrapPage } from '../../web/e2e/harness.mjs';
import { chromium } from 'playwright-core';

const PER_ADDRESS = 3;
const TOO_MANY = /Too many connections from your network address/;

function get(url, ca) {
  return new Promise((resolve, reject) => {
    https.get(url, { ca }, (res) => {
      const cert = res.socket.getPeerCertificate();
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body, cert }));
    }).on('error', reject);
  });
}

describe('Caddy (tls internal) in front of GhostChat', { timeout: 300_000 }, () => {
  let server, caddy;
  const clients = [];
  let counter = 0;
  const uid = () => `caddy${process.pid}x${++counter}`;

  /** A peer socket; resolves with the first frame the server sent (OPEN or ERROR). */
  async function peer(base, { from, headers, ca } = {}) {
    const c = await connectPeer(base, { id: uid(), token: 't', headers, socket: { localAddress: from, ...(ca ? { ca } : {}) } });
    clients.push(c);
    const first = await c.next(() => true, 30_000);
    c.startHeartbeat(1000);
    return first.json;
  }

  before(async () => {
    server = await startGhostChat({
      settings: {
        'GhostChat:Network:TrustedProxies:0': '127.0.0.1',
        'GhostChat:Signaling:Limits:MaxSocketsPerIp': PER_ADDRESS,
        'GhostChat:Signaling:Limits:ConnectsPerSecondPerIp': 10_000,
        'GhostChat:Signaling:Limits:ConnectBurstPerIp': 10_000,
      },
    });
    caddy = await startCaddy({ upstreamPort: server.port });
  });

  after(async () => {
    await closeAll(clients.splice(0));
    await caddy?.stop();
    await server?.stop();
  });

  it('serves HTTPS with a certificate from its local CA, proxying the server', async () => {
    const res = await get(`${caddy.url}/healthz`, caddy.rootCa);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'Healthy');
    assert.ok(res.cert.subjectaltname.includes('IP Address:127.0.0.1'), res.cert.subjectaltname);
    // Without Caddy's root the chain does not verify: this really is Caddy's own CA.
    await assert.rejects(get(`${caddy.url}/healthz`, undefined), /self[- ]signed|unable to (get|verify)/i);
  });

  it('two Chromium pages chat over HTTPS through the proxy', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    try {
      // Chromium does not know Caddy's local CA; the test checked the chain itself above.
      const page = async () => wrapPage(await (await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } })).newPage(), 'playwright');
      const host = await page();
      const guest = await page();
      const link = await connectPair(host, guest, caddy.url);
      assert.ok(link.startsWith(`${caddy.url}/#join=`), link);
      assert.deepEqual(await host.eval(() => ({ secure: window.isSecureContext, notice: !!document.querySelector('#insecure-notice') })), { secure: true, notice: false });
      await send(host, 'over https via caddy');
      await waitIncoming(guest, 'over https via caddy');
      await send(guest, 'right back');
      await waitIncoming(host, 'right back');
      await waitOutgoingState(host, 'over https via caddy', 'read');
    } finally {
      await browser.close();
    }
  });

  it('per-address limit applies to the client behind the proxy, not to the proxy', async () => {
    const before = metricValue(await readMetrics(server.httpUrl), 'ghostchat_signaling_rejections_total', { reason: 'too_many_sockets_from_address' });
    for (let i = 0; i < PER_ADDRESS; i++) {
      assert.equal((await peer(caddy.wsUrl, { from: '127.0.0.2', ca: caddy.rootCa })).type, 'OPEN');
    }
    const refused = await peer(caddy.wsUrl, { from: '127.0.0.2', ca: caddy.rootCa });
    assert.equal(refused.type, 'ERROR');
    assert.match(refused.payload.msg, TOO_MANY);
    // Another client behind the same proxy is a different address: accepted.
    assert.equal((await peer(caddy.wsUrl, { from: '127.0.0.3', ca: caddy.rootCa })).type, 'OPEN');
    // A client cannot pose as someone else through the proxy: Caddy replaces its X-Forwarded-For.
    const forgedViaProxy = await peer(caddy.wsUrl, { from: '127.0.0.2', ca: caddy.rootCa, headers: { 'X-Forwarded-For': '198.51.100.77' } });
    assert.equal(forgedViaProxy.type, 'ERROR');
    assert.match(forgedViaProxy.payload.msg, TOO_MANY);
    const after = metricValue(await readMetrics(server.httpUrl), 'ghostchat_signaling_rejections_total', { reason: 'too_many_sockets_from_address' });
    assert.equal(after - before, 2);
  });

  it('forwarded headers from anyone but the trusted proxy are ignored', async () => {
    // Straight to the server from 127.0.0.4, each socket claiming another address: all count as 127.0.0.4.
    for (let i = 0; i < PER_ADDRESS; i++) {
      const first = await peer(server.wsUrl, { from: '127.0.0.4', headers: { 'X-Forwarded-For': `198.51.100.${i + 1}` } });
      assert.equal(first.type, 'OPEN');
    }
    const refused = await peer(server.wsUrl, { from: '127.0.0.4', headers: { 'X-Forwarded-For': '198.51.100.200' } });
    assert.equal(refused.type, 'ERROR');
    assert.match(refused.payload.msg, TOO_MANY);
    // Control: the same header from the trusted proxy's address IS believed: naming the full
    // address 127.0.0.4 gets refused although the proxy's own address has room.
    const believed = await peer(server.wsUrl, { from: '127.0.0.1', headers: { 'X-Forwarded-For': '127.0.0.4' } });
    assert.equal(believed.type, 'ERROR');
    assert.match(believed.payload.msg, TOO_MANY);
    assert.equal((await peer(server.wsUrl, { from: '127.0.0.1', headers: { 'X-Forwarded-For': '198.51.100.201' } })).type, 'OPEN');
  });
});
