// A real redis-server on a free 127.0.0.1 port, without persistence, stopped by its PID.
//   startRedis({ launcher, password }) -> Promise<{ port, url, pid, stop(): Promise<void> }>
//   `launcher` (argv, e.g. deploy/compose.yaml's Redis entrypoint, which ends in
//   `exec redis-server … "$@"`) runs instead of redis-server, with the port and bind arguments
//   appended; `password` is what the readiness PING authenticates with.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { freePort, stopProcess } from '../../support/index.mjs';

/** Sends raw RESP inline commands; resolves with the first answer (or '' when nothing answers). */
export function redisCommand(port, text) {
  return new Promise((resolve) => {
    let got = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    socket.on('data', (d) => {
      got += d.toString();
      if (got.split('\r\n').length - 1 >= text.split('\r\n').length - 1) { socket.destroy(); resolve(got); }
    });
    socket.once('error', () => resolve(got));
    socket.once('close', () => resolve(got));
  });
}

async function ping(port, password) {
  const answer = await redisCommand(port, (password ? `AUTH ${password}\r\n` : '') + 'PING\r\n');
  return answer.includes('+PONG');
}

export async function startRedis({ timeoutMs = 20_000, launcher = null, password = null } = {}) {
  const port = await freePort();
  const [exe, ...prefix] = launcher ?? ['redis-server', '--save', '', '--appendonly', 'no'];
  const child = spawn(exe, [...prefix, '--port', String(port), '--bind', '127.0.0.1'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (c) => { err += c; });
  const stop = async () => {
    await stopProcess(child);
  };
  const deadline = Date.now() + timeoutMs;
  while (!(await ping(port, password))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`redis-server did not answer on port ${port} (is the redis-server package installed?) ${err.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, url: `127.0.0.1:${port}`, pid: child.pid, stop };
}
