// A real coturn (Debian's turnserver 4.6.1) started with given flags plus what a test needs to keep it
// on loopback and in a temp dir (listening and relay address 127.0.0.1, pid file, user db); stopped by PID.
//   startCoturn(args, { port, timeoutMs, launcher }) -> Promise<{ pid, output(), stop() }>; resolves once
//   its TCP listener on `port` (its --listening-port) accepts connections. `launcher` (argv, e.g. a
//   compose entrypoint that ends in `exec turnserver … "$@"`) runs instead of turnserver itself, with
//   the arguments appended; `turnserver` is then looked up on PATH.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { collectOutput, stopProcess } from '../../support/index.mjs';

export const TURNSERVER = process.env.TURNSERVER_PATH || '/usr/bin/turnserver';

function accepts(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export async function startCoturn(args, { port, timeoutMs = 30_000, launcher = null }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ghostchat-coturn-'));
  const all = [...args, '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', '--simple-log',
    `--pidfile=${path.join(dir, 'turnserver.pid')}`, `--userdb=${path.join(dir, 'turndb')}`];
  const [exe, ...prefix] = launcher ?? [TURNSERVER];
  const env = launcher ? { ...process.env, PATH: `${path.dirname(TURNSERVER)}:${process.env.PATH}` } : process.env;
  const child = spawn(exe, [...prefix, ...all], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = collectOutput(child);
  const stop = async () => {
    await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`coturn did not start (${child.exitCode === null ? 'timeout' : `exit ${child.exitCode}`}):\n${output().slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { pid: child.pid, args: all, output, stop };
}
