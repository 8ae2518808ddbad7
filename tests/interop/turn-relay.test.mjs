// A WebRTC data channel between two headless Chromium pages with iceTransportPolicy 'relay',
// through the TURN server embedded in GhostChat.Server only (REST-secret credentials, as the ICE
// service will hand them out). The pages exchange SDP directly (no signaling needed here); the
// selected candidate pair must be relay↔relay and the server's relay counters must move.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { freeUdpPort, loopbackTurnSettings, startGhostChat, stopAll } from './lib/servers.mjs';
import { startStaticServer } from './lib/static-server.mjs';
import { launchChromium } from './lib/browser.mjs';
import { readMetrics, metricValue } from './lib/metrics.mjs';

const SECRET = crypto.randomBytes(24).toString('base64');

/** TURN REST API credentials: username "expiry:user", password base64(HMAC-SHA1(secret, username)). */
function restCredentials(secret, user, ttlSeconds) {
  const username = `${Math.floor(Date.now() / 1000) + ttlSeconds}:${user}`;
  return { username, credential: crypto.createHmac('sha1', secret).update(username).digest('base64') };
}

let server;
let pages;
let browser;
let turnPort;

before(async () => {
  turnPort = await freeUdpPort();
  server = await startGhostChat({ settings: loopbackTurnSettings({ udpPort: turnPort, secret: SECRET }) });
  pages = await startStaticServer({ '/': { type: 'text/html; charset=utf-8', body: '<!doctype html><title>turn relay</title>' } });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await pages?.close();
  await stopAll();
});

async function makePeer(page, iceServers) {
  await page.evaluate((iceServers) => {
    window.pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: 'relay' });
    window.got = [];
    window.channel = new Promise((resolve) => {
      window.pc.ondatachannel = (e) => resolve(e.channel);
    });
    window.gathered = () => new Promise((resolve) => {
      if (window.pc.iceGatheringState === 'complete') return resolve();
      window.pc.addEventListener('icegatheringstatechange', () => { if (window.pc.iceGatheringState === 'complete') resolve(); });
    });
  }, iceServers);
}

test('a data channel between two Chromium pages through our TURN server only (relay policy)', { timeout: 120_000 }, async () => {
  const iceServers = [{ urls: `turn:127.0.0.1:${turnPort}?transport=udp`, ...restCredentials(SECRET, 'interop', 3600) }];
  const ctx = await browser.newContext();
  try {
    const a = await ctx.newPage();
    const b = await ctx.newPage();
    await a.goto(`${pages.url}/`);
    await b.goto(`${pages.url}/`);
    await makePeer(a, iceServers);
    await makePeer(b, iceServers);

    const offer = await a.evaluate(async () => {
      window.dc = window.pc.createDataChannel('relay-test');
      window.opened = new Promise((resolve) => { window.dc.onopen = resolve; });
      window.dc.onmessage = (e) => window.got.push(e.data);
      await window.pc.setLocalDescription(await window.pc.createOffer());
      await window.gathered();
      return window.pc.localDescription.sdp;
    });
    assert.match(offer, /typ relay/, 'page A gathered no relay candidate from our TURN server');
    assert.doesNotMatch(offer, /typ (host|srflx)/, 'the relay policy let other candidates through');

    const answer = await b.evaluate(async (sdp) => {
      await window.pc.setRemoteDescription({ type: 'offer', sdp });
      await window.pc.setLocalDescription(await window.pc.createAnswer());
      await window.gathered();
      window.channel.then((dc) => { dc.onmessage = (e) => { window.got.push(e.data); dc.send(`pong:${e.data}`); }; });
      return window.pc.localDescription.sdp;
    }, offer);
    assert.match(answer, /typ relay/);

    const echoes = await a.evaluate(async (sdp) => {
      await window.pc.setRemoteDescription({ type: 'answer', sdp });
      await Promise.race([window.opened, new Promise((_, r) => setTimeout(() => r(new Error(`no open; ice ${window.pc.iceConnectionState}`)), 30_000))]);
      for (let i = 0; i < 5; i++) window.dc.send(`ping ${i}`);
      const deadline = Date.now() + 20_000;
      while (window.got.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return window.got;
    }, answer);
    assert.deepEqual(echoes, Array.from({ length: 5 }, (_, i) => `pong:ping ${i}`));

    const pair = await a.evaluate(async () => {
      const stats = await window.pc.getStats();
      let selected;
      stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) selected = stats.get(s.selectedCandidatePairId); });
      if (!selected) stats.forEach((s) => { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') selected = s; });
      return { local: stats.get(selected.localCandidateId).candidateType, remote: stats.get(selected.remoteCandidateId).candidateType };
    });
    assert.deepEqual(pair, { local: 'relay', remote: 'relay' });

    const metrics = await readMetrics(server.httpUrl);
    assert.ok(metricValue(metrics, 'ghostchat_turn_relayed_packets_total') > 0, 'the server relayed nothing');
  } finally {
    await ctx.close();
  }
});

test('wrong TURN credentials: no relay candidate is gathered', { timeout: 60_000 }, async () => {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    await page.goto(`${pages.url}/`);
    await makePeer(page, [{ urls: `turn:127.0.0.1:${turnPort}?transport=udp`, ...restCredentials('not-the-secret', 'interop', 3600) }]);
    const sdp = await page.evaluate(async () => {
      window.pc.createDataChannel('x');
      await window.pc.setLocalDescription(await window.pc.createOffer());
      await Promise.race([window.gathered(), new Promise((r) => setTimeout(r, 15_000))]);
      return window.pc.localDescription.sdp;
    });
    assert.doesNotMatch(sdp, /typ relay/);
  } finally {
    await ctx.close();
  }
});
