// The published output, run the way the container image runs it: `dotnet publish src/GhostChat.Cli`
// with the Dockerfile's flags into a temporary folder, started as `ghostchat serve` configured ONLY by
// environment variables (the image's ENV lines from deploy/Dockerfile, with its 0.0.0.0:8080 and
// TURN ports translated to 127.0.0.1 and free ports). `ghostchat health` (the image's HEALTHCHECK)
// must report it healthy; then two Chromium pages open the web app it serves and chat. Stopped by PID.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './lib/servers.mjs';
import { readImage, REPO } from './lib/deploy-files.mjs';
import { chromiumPage, connectPair, launchChromium, send, waitIncoming, waitOutgoingState } from '../../web/e2e/harness.mjs';
import { runProcess, stopProcess } from '../support/index.mjs';

function run(command, args, { env = process.env, cwd = REPO, timeoutMs = 600_000 } = {}) {
  return runProcess(command, args, { env, cwd, timeoutMs });
}

test('published output, configured only by environment variables, is healthy and two browsers chat through it', { timeout: 900_000 }, async (t) => {
  const image = readImage();
  assert.ok(image.publish, 'deploy/Dockerfile has no dotnet publish line');
  assert.deepEqual(image.entrypoint, ['dotnet', '/app/ghostchat.dll', 'serve']);
  // Publish as the Dockerfile does (web/dist is already built by the solution build).
  const publishArgs = image.publish.replace(/^RUN\s+/, '').split(/\s+/).slice(1);
  const outIndex = publishArgs.indexOf('-o');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ghostchat-published-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  publishArgs[outIndex + 1] = dir;
  assert.ok(existsSync(path.join(REPO, 'web/dist/index.html')), 'web/dist is missing: build the solution first');
  const published = await run('dotnet', [...publishArgs, '-nologo', '-clp:ErrorsOnly']);
  assert.equal(published.code, 0, `dotnet ${publishArgs.join(' ')} failed:\n${published.out}`);
  assert.ok(existsSync(path.join(dir, 'ghostchat.dll')));
  assert.ok(existsSync(path.join(dir, 'webapp/index.html')), 'the published output carries no web app');

  // The image's environment, translated to loopback and free ports; nothing on the command line.
  const [port, turnPort] = [await freePort(), await freePort()];
  assert.equal(image.env.Urls, 'http://0.0.0.0:8080');
  const env = {
    PATH: process.env.PATH, HOME: process.env.HOME, ...(process.env.DOTNET_ROOT ? { DOTNET_ROOT: process.env.DOTNET_ROOT } : {}),
    ...image.env,
    Urls: `http://127.0.0.1:${port}`,
    GhostChat__Turn__ListenAddresses__0: '127.0.0.1',
    GhostChat__Turn__UdpPort: String(turnPort),
    GhostChat__Turn__TcpPort: String(turnPort),
    GhostChat__Turn__AdvertisedAddress: '127.0.0.1',
  };
  const entry = image.entrypoint.map((a) => a.replace('/app/', `${dir}/`));
  const server = spawn(entry[0], entry.slice(1), { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stdout.on('data', (c) => { log += c; });
  server.stderr.on('data', (c) => { log += c; });
  const exited = new Promise((r) => server.once('exit', (code, signal) => r({ code, signal })));
  let browser;
  try {
    // The image's HEALTHCHECK command, pointed at this server, polled until it passes.
    const health = image.healthcheck.map((a) => a.replace('/app/', `${dir}/`).replace('http://127.0.0.1:8080', `http://127.0.0.1:${port}`));
    assert.deepEqual(health.slice(0, 3), ['dotnet', `${dir}/ghostchat.dll`, 'health']);
    const deadline = Date.now() + 120_000;
    for (;;) {
      assert.equal(server.exitCode, null, `the published server exited:\n${log}`);
      const h = await run(health[0], health.slice(1), { env, timeoutMs: 30_000 });
      if (h.code === 0) break;
      assert.ok(Date.now() < deadline, `never healthy: ${h.out}\n--- server ---\n${log}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/healthz`)).text(), 'Healthy');
    // It serves the web app it was published with.
    const index = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    assert.equal(index, readFileSync(path.join(dir, 'webapp/index.html'), 'utf8'));

    browser = await launchChromium();
    const host = await chromiumPage(browser);
    const guest = await chromiumPage(browser);
    await connectPair(host, guest, `http://127.0.0.1:${port}`);
    await send(host, 'hello from the published build');
    await waitIncoming(guest, 'hello from the published build');
    await send(guest, 'and back');
    await waitIncoming(host, 'and back');
    await waitOutgoingState(host, 'hello from the published build', 'read');
    assert.deepEqual([...host.errors, ...guest.errors].filter((e) => /Content Security Policy/i.test(e)), []);
  } finally {
    await browser?.close().catch(() => undefined);
    await stopProcess(server, { graceMs: 20_000 });
  }
  const { code } = await exited;
  assert.equal(code, 0, `the published server did not stop cleanly on SIGTERM:\n${log.slice(-3000)}`);
});
