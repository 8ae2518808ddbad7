// The operator guide's "A LAN without a domain" recipe, followed as written: its shell block is taken
// from docs/operator-guide.md and run with bash and openssl (the address set to 127.0.0.1, since
// servers here bind loopback only); the server is started with the certificate it made, and a client
// that trusts only the recipe's ca.crt gets HTTPS with HSTS, and plain HTTP is redirected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { REPO } from './lib/deploy-files.mjs';
import { freePort, startGhostChat } from './lib/servers.mjs';

function recipe() {
  const guide = readFileSync(path.join(REPO, 'docs/operator-guide.md'), 'utf8');
  const section = guide.slice(guide.indexOf('### A LAN without a domain'));
  const m = /```sh\n([\s\S]*?)```/.exec(section);
  assert.ok(m, 'no ```sh block in the operator guide\'s "A LAN without a domain" section');
  assert.match(m[1], /^ADDR=192\.168\.1\.10\b/m);
  return m[1].replace(/^ADDR=192\.168\.1\.10\b/m, 'ADDR=127.0.0.1');
}

function request(mod, url, options = {}) {
  return new Promise((resolve, reject) => {
    mod.get(url, options, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    }).on('error', reject);
  });
}

test('operator guide LAN certificate recipe: HTTPS trusted through its own CA, HTTP redirected, HSTS', { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ghostchat-lan-cert-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const run = spawnSync('bash', ['-euo', 'pipefail', '-c', recipe()], { cwd: dir, encoding: 'utf8' });
  assert.equal(run.status, 0, `the recipe failed:\n${run.stdout}\n${run.stderr}`);

  const ca = readFileSync(path.join(dir, 'ca.crt'));
  const httpsPort = await freePort();
  const server = await startGhostChat({
    settings: {
      'GhostChat:Tls:CertificatePath': path.join(dir, 'ghostchat.crt'),
      'GhostChat:Tls:KeyPath': path.join(dir, 'ghostchat.key'),
      'GhostChat:Tls:HttpsUrl': `https://127.0.0.1:${httpsPort}`,
    },
  });
  try {
    const res = await request(https, `https://127.0.0.1:${httpsPort}/healthz`, { ca });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'Healthy');
    assert.match(res.headers['strict-transport-security'] ?? '', /max-age=\d+/);
    // The chain verifies only through the recipe's CA.
    await assert.rejects(request(https, `https://127.0.0.1:${httpsPort}/healthz`), /self[- ]signed|unable to (get|verify)/i);
    const plain = await request(http, `${server.httpUrl}/`);
    assert.ok([301, 302, 307, 308].includes(plain.status), `plain HTTP answered ${plain.status}`);
    assert.equal(new URL(plain.headers.location).origin, `https://127.0.0.1:${httpsPort}`);
  } finally {
    await server.stop();
  }
});
