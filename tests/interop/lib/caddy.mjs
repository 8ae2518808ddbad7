// Debian's Caddy (`caddy` package, 2.6.2 in bookworm) started from the repository's own Caddyfiles,
// moved to loopback and free ports. Admin API off, Caddy's storage (CA, certificates) in a temp dir,
// stopped by PID.
//   startCaddy({ upstreamPort }) -> Promise<{ port, url, wsUrl, rootCa (PEM), caddyfile, output(), stop() }>
//       deploy/proxy/Caddyfile as a TLS-terminating proxy: its site name becomes
//       https://127.0.0.1:<free port> with `tls internal` (Caddy's local CA), its upstream our server
//   startCaddyBalancer({ upstreamPorts }) -> Promise<{ port, url, wsUrl, caddyfile, output(), stop() }>
//       deploy/cluster/Caddyfile (compose profile "cluster"): plain HTTP on a free port, balancing
//       over the given nodes instead of node1:8080 node2:8080
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { freePort, INTEROP_DIR } from './servers.mjs';
import { stopProcess } from '../../support/index.mjs';

export const CADDY = process.env.CADDY_PATH || '/usr/bin/caddy';
export const EXAMPLE_CADDYFILE = path.resolve(INTEROP_DIR, '../../deploy/proxy/Caddyfile');
export const CLUSTER_CADDYFILE = path.resolve(INTEROP_DIR, '../../deploy/cluster/Caddyfile');

/** The example Caddyfile turned into one for this test: loopback, a free port, `tls internal`. */
export function testCaddyfile({ port, httpPort, upstreamPort, storage }) {
  const example = readFileSync(EXAMPLE_CADDYFILE, 'utf8');
  if (!/^chat\.example\.org \{$/m.test(example) || !example.includes('reverse_proxy 127.0.0.1:8080')) {
    throw new Error('deploy/proxy/Caddyfile no longer has the `chat.example.org {` site and `reverse_proxy 127.0.0.1:8080` the test adapts');
  }
  const site = example
    .replace(/^chat\.example\.org \{$/m, `https://127.0.0.1:${port} {\n\tbind 127.0.0.1\n\ttls internal`)
    .replace('reverse_proxy 127.0.0.1:8080', `reverse_proxy 127.0.0.1:${upstreamPort}`);
  return globalOptions({ port, httpPort, storage }) + site;
}

/** The cluster balancer's Caddyfile on loopback: `:8080` becomes http://127.0.0.1:<port>, the nodes ours. */
export function balancerCaddyfile({ port, httpPort, upstreamPorts, storage }) {
  const file = readFileSync(CLUSTER_CADDYFILE, 'utf8');
  if (!/^:8080 \{$/m.test(file) || !file.includes('reverse_proxy node1:8080 node2:8080')) {
    throw new Error('deploy/cluster/Caddyfile no longer has the `:8080 {` site and `reverse_proxy node1:8080 node2:8080` the test adapts');
  }
  const site = file
    .replace(/^:8080 \{$/m, `http://127.0.0.1:${port} {\n\tbind 127.0.0.1`)
    .replace('reverse_proxy node1:8080 node2:8080', `reverse_proxy ${upstreamPorts.map((p) => `127.0.0.1:${p}`).join(' ')}`);
  return globalOptions({ port: httpPort, httpPort: port, storage }) + site;
}

function globalOptions({ port, httpPort, storage }) {
  return `{
	admin off
	storage file_system {
		root ${storage}
	}
	skip_install_trust
	auto_https disable_redirects
	http_port ${httpPort}
	https_port ${port}
}
`;
}

function probe(url, ca) {
  return new Promise((resolve) => {
    const req = https.get(url, { ca, timeout: 5000 }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', () => resolve(null));
    req.on('timeout', () => req.destroy());
  });
}

export async function startCaddy({ upstreamPort, timeoutMs = 60_000 }) {
  return launch((o) => testCaddyfile({ ...o, upstreamPort }), 'https', timeoutMs);
}

export async function startCaddyBalancer({ upstreamPorts, timeoutMs = 60_000 }) {
  return launch((o) => balancerCaddyfile({ ...o, upstreamPorts }), 'http', timeoutMs);
}

function probeHttp(url) {
  return fetch(url).then((r) => r.arrayBuffer().then(() => r.status), () => null);
}

async function launch(makeCaddyfile, scheme, timeoutMs) {
  if (!existsSync(CADDY)) throw new Error(`caddy not found at ${CADDY} (Debian package \`caddy\`; test.sh installs it)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ghostchat-caddy-'));
  const [port, httpPort] = [await freePort(), await freePort()];
  const storage = path.join(dir, 'storage');
  const caddyfile = makeCaddyfile({ port, httpPort, storage });
  const file = path.join(dir, 'Caddyfile');
  writeFileSync(file, caddyfile);
  const child = spawn(CADDY, ['run', '--config', file, '--adapter', 'caddyfile'], {
    cwd: dir,
    // Keep Caddy's own data and config out of the real home directory.
    env: { PATH: process.env.PATH, HOME: dir, XDG_DATA_HOME: path.join(dir, 'data'), XDG_CONFIG_HOME: path.join(dir, 'config') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c) => { out += c; });
  child.stderr.on('data', (c) => { out += c; if (out.length > 200_000) out = out.slice(-100_000); });
  const stop = async () => {
    await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const rootPath = path.join(storage, 'pki/authorities/local/root.crt');
  const url = `${scheme}://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`caddy exited with ${child.exitCode}`);
      // HTTPS: answers with a certificate that chains to its own local CA.
      const status = scheme === 'https'
        ? (existsSync(rootPath) ? await probe(`${url}/healthz`, readFileSync(rootPath)) : null)
        : await probeHttp(`${url}/healthz`);
      if (status === 200) break;
      if (Date.now() > deadline) throw new Error(`caddy did not serve ${scheme} in time`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\n--- caddy output ---\n${out.slice(-4000)}`);
  }
  return {
    port, url, wsUrl: `${scheme === 'https' ? 'wss' : 'ws'}://127.0.0.1:${port}`,
    rootCa: scheme === 'https' ? readFileSync(rootPath, 'utf8') : null,
    caddyfile, pid: child.pid, output: () => out, stop,
  };
}
