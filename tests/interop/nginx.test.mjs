// Debian's nginx with deploy/proxy/nginx.conf (moved to loopback, free ports and a self-signed
// certificate) in front of our server: a peer registers through it over wss:// with its secret token
// in the query string, as every PeerJS client does, and the access log records the request without
// the token (issue 15: tokens stay out of access logs); a plain-HTTP request to the signaling path
// is redirected and logged without it too.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePort, INTEROP_DIR, startGhostChat } from './lib/servers.mjs';
import { closeAll, connectPeer } from './lib/ws-client.mjs';
import { stopProcess } from '../support/index.mjs';

const NGINX = process.env.NGINX_PATH || '/usr/sbin/nginx';
const EXAMPLE = path.resolve(INTEROP_DIR, '../../deploy/proxy/nginx.conf');
const TOKEN = 'SecretToken9f3a';

/** The example site on loopback: free ports, our server upstream, a test certificate and log file. */
function testSite({ httpPort, httpsPort, upstreamPort, cert, key, accessLog }) {
  const example = readFileSync(EXAMPLE, 'utf8');
  for (const needle of ['listen 80;', 'listen 443 ssl http2;', 'proxy_pass http://127.0.0.1:8080;', '/var/log/nginx/ghostchat.access.log']) {
    if (!example.includes(needle)) throw new Error(`deploy/proxy/nginx.conf no longer has \`${needle}\`, which the test adapts`);
  }
  return example
    .replace(/^\s*listen \[::\]:.*$/gm, '')
    .replace('listen 80;', `listen 127.0.0.1:${httpPort};`)
    .replace('listen 443 ssl http2;', `listen 127.0.0.1:${httpsPort} ssl http2;`)
    .replace('proxy_pass http://127.0.0.1:8080;', `proxy_pass http://127.0.0.1:${upstreamPort};`)
    .replaceAll('/var/log/nginx/ghostchat.access.log', accessLog)
    .replace(/ssl_certificate\s+\S+;/, `ssl_certificate ${cert};`)
    .replace(/ssl_certificate_key\s+\S+;/, `ssl_certificate_key ${key};`);
}

describe('nginx (deploy/proxy/nginx.conf) in front of GhostChat', { timeout: 120_000 }, () => {
  let server, nginx, dir, httpPort, httpsPort, accessLog, cert;
  const clients = [];

  before(async () => {
    assert.ok(existsSync(NGINX), `nginx not found at ${NGINX} (Debian package \`nginx\`; test.sh installs it)`);
    server = await startGhostChat({ settings: { 'GhostChat:Network:TrustedProxies:0': '127.0.0.1' } });
    dir = mkdtempSync(path.join(os.tmpdir(), 'ghostchat-nginx-'));
    for (const d of ['logs', 'temp']) mkdirSync(path.join(dir, d));
    const key = path.join(dir, 'key.pem');
    cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    [httpPort, httpsPort] = [await freePort(), await freePort()];
    accessLog = path.join(dir, 'logs', 'ghostchat.access.log');
    writeFileSync(path.join(dir, 'site.conf'), testSite({ httpPort, httpsPort, upstreamPort: server.port, cert, key, accessLog }));
    const t = (n) => path.join(dir, 'temp', n);
    writeFileSync(path.join(dir, 'nginx.conf'), `daemon off;
master_process off;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'logs', 'error.log')} warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${t('body')}; proxy_temp_path ${t('proxy')}; fastcgi_temp_path ${t('fastcgi')};
  uwsgi_temp_path ${t('uwsgi')}; scgi_temp_path ${t('scgi')};
  include ${path.join(dir, 'site.conf')};
}
`);
    const conf = path.join(dir, 'nginx.conf');
    execFileSync(NGINX, ['-t', '-q', '-p', dir, '-c', conf], { stdio: 'pipe' });
    nginx = spawn(NGINX, ['-p', dir, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ok = await new Promise((resolve) => {
        http.get(`http://127.0.0.1:${httpPort}/healthz`, (res) => { res.resume(); resolve(res.statusCode === 301); }).on('error', () => resolve(false));
      });
      if (ok) break;
      assert.ok(Date.now() < deadline && nginx.exitCode === null, 'nginx did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    await closeAll(clients.splice(0));
    await stopProcess(nginx);
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a peer registers through it over wss:// with a token; the access log has the request, not the token', async () => {
    const c = await connectPeer(`wss://127.0.0.1:${httpsPort}`, { id: `nginx${process.pid}`, token: TOKEN, socket: { ca: readFileSync(cert) } });
    clients.push(c);
    assert.equal((await c.nextType('OPEN')).type, 'OPEN');
    const redirected = await new Promise((resolve, reject) => {
      http.get(`http://127.0.0.1:${httpPort}/peerjs?key=peerjs&id=plain&token=${TOKEN}`, (res) => { res.resume(); resolve(res); }).on('error', reject);
    });
    assert.equal(redirected.statusCode, 301);
    await closeAll(clients.splice(0)); // nginx writes the WebSocket's line when it closes
    let log = '';
    for (const deadline = Date.now() + 10_000; !/"GET \/peerjs HTTP\/1\.1" 101 /.test(log) && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 100));
      log = existsSync(accessLog) ? readFileSync(accessLog, 'utf8') : '';
    }
    assert.match(log, /"GET \/peerjs HTTP\/1\.1" 101 /, log);
    assert.match(log, /"GET \/peerjs HTTP\/1\.1" 301 /, log);
    assert.ok(!log.includes(TOKEN), `the access log holds the token:\n${log}`);
  });
});
