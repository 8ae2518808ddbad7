// `ghostchat serve` is the same server as `dotnet run --project src/GhostChat.Server`: the published
// CLI alone serves the web app, signaling and health, and stops cleanly on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './lib/servers.mjs';
import { connectPeer } from './lib/ws-client.mjs';
import { stopProcess } from '../support/index.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI_DLL = process.env.GHOSTCHAT_CLI_DLL
  ? path.resolve(process.env.GHOSTCHAT_CLI_DLL)
  : path.resolve(here, '../../src/GhostChat.Cli/bin/Release/net10.0/ghostchat.dll');

test('ghostchat serve runs the whole server and stops on SIGTERM', { timeout: 120_000 }, async () => {
  const port = await freePort();
  const child = spawn('dotnet', [CLI_DLL, 'serve', '--urls', `http://127.0.0.1:${port}`, '--GhostChat:Turn:Enabled=false'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DOTNET_NOLOGO: '1' },
  });
  let out = '';
  child.stdout.on('data', (c) => { out += c; });
  child.stderr.on('data', (c) => { out += c; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  try {
    const deadline = Date.now() + 60_000;
    while (!out.includes('GhostChat is running')) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `serve did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(out, new RegExp(`Open http://127\\.0\\.0\\.1:${port}`));
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/healthz`)).text(), 'Healthy');
    const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    assert.match(page, /<!doctype html>/i);
    assert.match(page, /GhostChat/);

    const peer = await connectPeer(`ws://127.0.0.1:${port}`, { id: 'served', token: 't' });
    assert.equal((await peer.nextType('OPEN')).type, 'OPEN');
    await peer.terminate();
  } finally {
    await stopProcess(child, { graceMs: 20_000 });
  }
  const { code } = await exited;
  assert.equal(code, 0, `serve did not exit cleanly on SIGTERM:\n${out.slice(-2000)}`);
});

test('ghostchat health: exit 0 when the server is ready, 1 when nothing answers', { timeout: 120_000 }, async () => {
  const { startGhostChat, stopAll } = await import('./lib/servers.mjs');
  const run = (args) => new Promise((resolve) => {
    const child = spawn('dotnet', [CLI_DLL, 'health', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { out += c; });
    child.on('exit', (code) => resolve({ code, out }));
  });
  const server = await startGhostChat();
  try {
    const ok = await run(['--url', `${server.httpUrl}/readyz`]);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /^200 /);
  } finally {
    await stopAll();
  }
  const closed = await run(['--url', `http://127.0.0.1:${await freePort()}/readyz`, '--timeout', '2']);
  assert.equal(closed.code, 1, closed.out);
  assert.match(closed.out, /did not answer/);
});
