// Failover across TURN providers, end to end (issue 5): two headless Chromium pages of the real web app,
// forced to relay by the server's relay-only hint, connect through the provider /api/ice hands them.
// Providers: a real coturn (Debian's turnserver, REST secret) first, the embedded TURN server second;
// /api/ice gives one server at a time and the server's prober is off, so only the browser can notice
// that the first one is broken. With coturn healthy the chat goes through coturn; with the wrong
// secret, and with coturn stopped, each page asks /api/ice again without it and the chat goes through
// the embedded server (which must really relay: its counters move). A group room does the same.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startCoturn } from './lib/coturn.mjs';
import { readMetrics, metricValue } from './lib/metrics.mjs';
import { freePort, freeUdpPort, loopbackTurnSettings, startGhostChat } from './lib/servers.mjs';
import { chromiumPage, connectPair, launchChromium, send, waitIncoming } from '../../web/e2e/harness.mjs';

const COTURN_SECRET = crypto.randomBytes(24).toString('hex');
const EMBEDDED_SECRET = crypto.randomBytes(24).toString('hex');

describe('ICE failover in the browser: coturn first, the embedded TURN server next', { timeout: 600_000 }, () => {
  let coturn, browser, coturnPort;
  const servers = [];

  before(async () => {
    coturnPort = await freePort();
    const relayMin = 40_000 + Math.floor(Math.random() * 20_000);
    coturn = await startCoturn([`--listening-port=${coturnPort}`, '--use-auth-secret', `--static-auth-secret=${COTURN_SECRET}`,
      '--realm=ghostchat', '--no-cli', '--no-tls', '--no-dtls', '--allow-loopback-peers',
      `--min-port=${relayMin}`, `--max-port=${relayMin + 100}`], { port: coturnPort });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    for (const s of servers) await s.stop();
    await coturn?.stop();
  });

  /** Our server with both providers; `coturnSecret` is what the ICE service signs coturn credentials with. */
  async function server(coturnSecret) {
    // One server at a time: the previous one's TURN port and relays are released first.
    for (const old of servers.splice(0)) await old.stop();
    const embeddedPort = await freeUdpPort();
    const s = await startGhostChat({
      settings: {
        ...loopbackTurnSettings({ udpPort: embeddedPort, secret: EMBEDDED_SECRET }),
        'GhostChat:Ice:Providers:coturn:Type': 'rest-secret',
        'GhostChat:Ice:Providers:coturn:Priority': '1',
        'GhostChat:Ice:Providers:coturn:Urls:0': `turn:127.0.0.1:${coturnPort}?transport=udp`,
        'GhostChat:Ice:Providers:coturn:Secrets:0': coturnSecret,
        'GhostChat:Ice:Providers:coturn:Realm': 'ghostchat',
        'GhostChat:Ice:Providers:embedded:Type': 'embedded',
        'GhostChat:Ice:Providers:embedded:Priority': '2',
        'GhostChat:Ice:Providers:embedded:Urls:0': `turn:127.0.0.1:${embeddedPort}?transport=udp`,
        'GhostChat:Ice:MaxServers': '1',
        'GhostChat:Ice:RelayOnly': 'true',
        // Only the browser may find out: the server keeps handing out coturn first.
        'GhostChat:Ice:Probe:Enabled': 'false',
      },
    });
    servers.push(s);
    return s;
  }

  /** Two pages chat; returns what each asked /api/ice and the path its quality indicator reports. */
  async function chat(s, label) {
    const host = await chromiumPage(browser);
    const guest = await chromiumPage(browser);
    const asked = { host: [], guest: [] };
    for (const [name, p] of [['host', host], ['guest', guest]]) {
      p.page.on('request', (r) => { const u = new URL(r.url()); if (u.pathname === '/api/ice') asked[name].push(u.search); });
    }
    try {
      await connectPair(host, guest, s.httpUrl);
      await send(host, `${label}: hello`);
      await waitIncoming(guest, `${label}: hello`);
      await send(guest, `${label}: and back`);
      await waitIncoming(host, `${label}: and back`);
      const paths = [];
      for (const p of [host, guest]) {
        // The indicator polls getStats every 2 s; the path is named once the selected pair is known.
        await p.waitFor(() => document.querySelector('#quality')?.dataset.provider);
        paths.push(await p.eval(() => ({
          path: document.querySelector('#quality').dataset.path,
          provider: document.querySelector('#quality').dataset.provider,
          text: document.querySelector('#quality .quality-word').textContent,
          excluded: document.body.dataset.iceExcluded ?? '',
        })));
      }
      return { asked, paths };
    } finally {
      await host.context.close();
      await guest.context.close();
    }
  }

  it('coturn healthy: the chat is relayed through coturn, nothing is left out', async () => {
    const s = await server(COTURN_SECRET);
    const { asked, paths } = await chat(s, 'healthy');
    assert.deepEqual(asked, { host: [''], guest: [''] });
    for (const p of paths) {
      assert.equal(p.path, 'relay-udp');
      assert.equal(p.provider, 'coturn');
      assert.match(p.text, /coturn/);
      assert.equal(p.excluded, '');
    }
  });

  it('coturn refuses the credentials (wrong secret): both pages ask again without it and chat through the embedded server', async () => {
    const s = await server('not-the-secret-coturn-was-given');
    const answer = await (await fetch(`${s.httpUrl}/api/ice`)).json();
    assert.deepEqual(answer.providers, ['coturn'], 'the server itself still offers coturn first');
    const before = metricValue(await readMetrics(s.httpUrl), 'ghostchat_turn_relayed_packets_total') ?? 0;
    const { asked, paths } = await chat(s, 'wrong secret');
    assert.deepEqual(asked, { host: ['', '?exclude=coturn'], guest: ['', '?exclude=coturn'] });
    for (const p of paths) assert.deepEqual([p.path, p.provider, p.excluded], ['relay-udp', 'embedded', 'coturn']);
    const relayed = metricValue(await readMetrics(s.httpUrl), 'ghostchat_turn_relayed_packets_total');
    assert.ok(relayed > before, `the embedded TURN server relayed nothing (${before} -> ${relayed})`);
  });

  it('group room, same broken coturn: both members leave it out and their link is relayed by the embedded server', async () => {
    const s = servers[0]; // the wrong-secret server of the test above
    const host = await chromiumPage(browser);
    const guest = await chromiumPage(browser);
    try {
      const before = metricValue(await readMetrics(s.httpUrl), 'ghostchat_turn_relayed_packets_total') ?? 0;
      await host.goto(`${s.httpUrl}/`);
      await host.waitFor(() => document.body.dataset.view === 'home');
      await host.click('#new-group');
      await host.waitFor(() => document.body.dataset.view === 'invite' && document.querySelector('#invite-link').value.includes('#join='));
      const link = await host.eval(() => document.querySelector('#invite-link').value);
      await guest.goto(link);
      // Each member lists the other with a link of its own.
      for (const p of [host, guest]) await p.waitFor(() => document.querySelector('#members li[data-path="direct"]') !== null);
      await send(guest, 'group: hello');
      await waitIncoming(host, 'group: hello');
      await send(host, 'group: and back');
      await waitIncoming(guest, 'group: and back');
      for (const p of [host, guest]) assert.equal(await p.eval(() => document.body.dataset.iceExcluded), 'coturn');
      // Relay-only (the server's hint) holds for the group's links too: the embedded server relayed them.
      const relayed = metricValue(await readMetrics(s.httpUrl), 'ghostchat_turn_relayed_packets_total');
      assert.ok(relayed > before, `the group's link did not go through the embedded TURN server (${before} -> ${relayed})`);
    } finally {
      await host.context.close();
      await guest.context.close();
    }
  });

  it('coturn stopped: the pages fail over to the embedded server', async () => {
    const s = await server(COTURN_SECRET);
    await coturn.stop();
    coturn = null;
    const answer = await (await fetch(`${s.httpUrl}/api/ice`)).json();
    assert.deepEqual(answer.providers, ['coturn']);
    const { asked, paths } = await chat(s, 'stopped');
    assert.deepEqual(asked, { host: ['', '?exclude=coturn'], guest: ['', '?exclude=coturn'] });
    for (const p of paths) assert.deepEqual([p.path, p.provider], ['relay-udp', 'embedded']);
  });
});
