// Start and stop the two signaling servers the interop tests compare:
//   - ours: the built GhostChat.Server.dll (GHOSTCHAT_SERVER_DLL), run with `dotnet`;
//   - the reference: peer@1.0.2's CLI from node_modules.
// Both bind to 127.0.0.1 on a free port. Every process is stopped by its PID (never by name).
//
// Stable API (other test files import it):
//   freePort()                                  -> Promise<number>
//   startGhostChat({ settings, env, timeoutMs }) -> Promise<ServerHandle>
//   startReference({ args, timeoutMs })          -> Promise<ServerHandle>
//   ServerHandle = { kind: 'ghostchat'|'reference', port, httpUrl, wsUrl, pid,
//                    output(): string, stop(): Promise<void> }
//   stopAll()                                   -> stops every server still running (after hooks)
//   GHOSTCHAT_SERVER_DLL                        -> the dll path used
import { spawn } from 'node:child_process';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  collectOutput, freePort, freeUdpPort, SERVER_DLL, SERVER_READY, stopProcess, waitForOutput, waitForUrl,
} from '../../support/index.mjs';

export { freePort, freeUdpPort };

const here = path.dirname(fileURLToPath(import.meta.url));
/** tests/interop */
export const INTEROP_DIR = path.resolve(here, '..');

/** The server dll: $GHOSTCHAT_SERVER_DLL, else the Release build relative to tests/interop. */
export const GHOSTCHAT_SERVER_DLL = SERVER_DLL;

const REFERENCE_CLI = path.join(INTEROP_DIR, 'node_modules/peer/dist/bin/peerjs.js');

const running = new Set();

// Last resort if a test file dies before its after hooks: kill what we started, by PID.
process.once('exit', () => {
  for (const h of running) {
    try { process.kill(h.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

/**
 * Settings for the embedded TURN server on loopback only: UDP on `udpPort`, no TCP, relays on a random
 * 200-port range, REST `secret`, and loopback peers allowed (refused by default; tests relay between
 * browsers on this machine).
 */
export function loopbackTurnSettings({ udpPort, secret }) {
  const relayBase = 40000 + Math.floor(Math.random() * 20000);
  return {
    'GhostChat:Turn:Enabled': 'true',
    'GhostChat:Turn:ListenAddresses:0': '127.0.0.1',
    'GhostChat:Turn:UdpPort': String(udpPort),
    'GhostChat:Turn:TcpPort': '-1',
    'GhostChat:Turn:RelayAddress': '127.0.0.1',
    'GhostChat:Turn:AdvertisedAddress': '127.0.0.1',
    'GhostChat:Turn:RelayMinPort': String(relayBase),
    'GhostChat:Turn:RelayMaxPort': String(relayBase + 200),
    'GhostChat:Turn:AllowedPeers:0': '127.0.0.1/32',
    'GhostChat:Turn:Secrets:0': secret,
  };
}

function launch(kind, command, args, env, port, isReady, timeoutMs) {
  const child = spawn(command, args, {
    cwd: INTEROP_DIR,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collectOutput(child);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const handle = {
    kind,
    port,
    pid: child.pid,
    httpUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    output,
    exited,
    async stop() {
      if (!running.has(handle)) return;
      running.delete(handle);
      await stopProcess(child);
    },
  };
  running.add(handle);

  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = async (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      await handle.stop();
      reject(new Error(`${kind} server did not start: ${why}\n--- output ---\n${output().slice(-4000)}`));
    };
    const deadline = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs);
    exited.then(({ code, signal }) => fail(`exited early (code ${code}, signal ${signal})`));
    isReady(output, child).then(
      () => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        resolve(handle);
      },
      (e) => fail(e.message),
    );
  });
}

/**
 * Start our server from GHOSTCHAT_SERVER_DLL on a free 127.0.0.1 port.
 * settings: { 'GhostChat:Signaling:ExpireTimeout': '00:00:01.500', ... } passed as environment
 * variables (':' becomes '__'). TURN is always off and logging quiet unless settings override.
 */
export async function startGhostChat({ settings = {}, env = {}, timeoutMs = 60_000 } = {}) {
  if (!existsSync(GHOSTCHAT_SERVER_DLL)) {
    throw new Error(`GhostChat server dll not found at ${GHOSTCHAT_SERVER_DLL}; build it with ` +
      '`dotnet build src/GhostChat.Server -c Release` or set GHOSTCHAT_SERVER_DLL');
  }
  const port = await freePort();
  const fromSettings = {};
  for (const [k, v] of Object.entries({
    'GhostChat:Turn:Enabled': 'false',
    'Logging:LogLevel:Default': 'Warning',
    'Logging:LogLevel:Microsoft.Hosting.Lifetime': 'Warning',
    ...settings,
  })) {
    fromSettings[k.replaceAll(':', '__')] = String(v);
  }
  return launch('ghostchat', 'dotnet', [GHOSTCHAT_SERVER_DLL, '--urls', `http://127.0.0.1:${port}`],
    { DOTNET_NOLOGO: '1', DOTNET_CLI_TELEMETRY_OPTOUT: '1', ...fromSettings, ...env }, port,
    (output, child) => waitForOutput(child, SERVER_READY, { output, timeoutMs: timeoutMs + 1000 }), timeoutMs);
}

/**
 * Start the reference peer@1.0.2 CLI on a free 127.0.0.1 port.
 * args: extra CLI flags, e.g. ['--expire_timeout', '1500', '--alive_timeout', '3000'].
 */
export async function startReference({ args = [], timeoutMs = 30_000 } = {}) {
  const port = await freePort();
  return launch('reference', process.execPath,
    [REFERENCE_CLI, '--host', '127.0.0.1', '--port', String(port), ...args], {}, port,
    // The reference prints its banner before it listens on some Node versions; poll until it answers.
    (_output, child) => waitForUrl(`http://127.0.0.1:${port}/`, { child, timeoutMs: timeoutMs + 1000 }), timeoutMs);
}

/** Stop every server started through this module that is still running. */
export async function stopAll() {
  await Promise.all([...running].map((h) => h.stop()));
}
