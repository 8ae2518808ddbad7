// A real redis-server on a free 127.0.0.1 port, without persistence, stopped by its PID.
//   startRedis() -> Promise<{ port, url, stop(): Promise<void> }>
import { spawn } from 'node:child_process';
import net from 'node:net';
import { freePort } from './servers.mjs';

function ping(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    socket.once('data', (d) => { socket.destroy(); resolve(d.toString().startsWith('+PONG')); });
    socket.once('error', () => resolve(false));
  });
}

export async function startRedis({ timeoutMs = 20_000 } = {}) {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGTERM');
      await exited;
    }
  };
  const deadline = Date.now() + timeoutMs;
  while (!(await ping(port))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`redis-server did not answer on port ${port} (is the redis-server package installed?)`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, url: `127.0.0.1:${port}`, stop };
}
