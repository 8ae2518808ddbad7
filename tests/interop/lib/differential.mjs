// Differential harness: a scenario is written once and registered as two node:test tests, one
// against the reference peer@1.0.2 and one against our server, both configured with the same
// timeouts. A scenario whose behaviour is a documented fix branches on `srv.kind` and asserts
// the reference's behaviour for the reference and ours for ours.
//
// Stable API:
//   TIMING                      the short timeouts both servers get by default
//   TARGETS                     ['reference', 'ghostchat']
//   startTarget(kind, config)   -> Promise<ServerHandle> with matched configuration:
//       config = { expireMs, aliveMs, concurrentLimit, ghostchat: { 'GhostChat:...': value } }
//       (the `ghostchat` entries are extra settings for our server only, e.g. limits)
//   describeBoth(title, config, define)
//       define(scenario) registers scenarios: scenario(name, async (srv) => {...}, { only })
//       srv = { kind, server, httpUrl, wsUrl,
//               peer(id, token?, opts?) -> Client (socket opened, nothing awaited),
//               open(id?, token?, { heartbeat = true, headers }) -> Client that has received OPEN
//                   and then sends a HEARTBEAT every second (heartbeat: false to stay silent),
//               uid(prefix?) -> a fresh id valid on both servers }
//       Every client a scenario opens is dropped after it; the servers are stopped by PID after
//       the describe block.
import { describe, test, before, after, afterEach } from 'node:test';
import { startGhostChat, startReference } from './servers.mjs';
import { connectPeer, closeAll } from './ws-client.mjs';

export const TIMING = Object.freeze({ expireMs: 1500, aliveMs: 3000, cleanupMs: 1000 });
export const TARGETS = Object.freeze(['reference', 'ghostchat']);

function timeSpan(ms) {
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const f = ms % 1000;
  const two = (n) => String(n).padStart(2, '0');
  return `${two(h)}:${two(m)}:${two(s)}.${String(f).padStart(3, '0')}`;
}

export function startTarget(kind, { expireMs = TIMING.expireMs, aliveMs = TIMING.aliveMs,
  concurrentLimit = 5000, ghostchat = {} } = {}) {
  if (kind === 'reference') {
    return startReference({ args: ['--expire_timeout', String(expireMs), '--alive_timeout', String(aliveMs),
      '--concurrent_limit', String(concurrentLimit)] });
  }
  return startGhostChat({
    settings: {
      'GhostChat:Signaling:ExpireTimeout': timeSpan(expireMs),
      'GhostChat:Signaling:AliveTimeout': timeSpan(aliveMs),
      'GhostChat:Signaling:CleanupInterval': timeSpan(TIMING.cleanupMs),
      'GhostChat:Signaling:ConcurrentLimit': concurrentLimit,
      // Every test socket comes from 127.0.0.1: lift the per-IP limits unless a scenario tests them.
      'GhostChat:Signaling:Limits:MaxSocketsPerIp': 10_000,
      'GhostChat:Signaling:Limits:ConnectsPerSecondPerIp': 10_000,
      'GhostChat:Signaling:Limits:ConnectBurstPerIp': 10_000,
      ...ghostchat,
    },
  });
}

let counter = 0;
const runTag = Math.random().toString(36).slice(2, 8);
function uid(prefix = 'p') {
  counter += 1;
  return `${prefix}${runTag}${counter}`;
}

export function describeBoth(title, config, define, { kinds = TARGETS } = {}) {
  for (const kind of kinds) {
    describe(`${title} [${kind}]`, () => {
      let server;
      const clients = [];
      before(async () => { server = await startTarget(kind, config); });
      after(async () => {
        await closeAll(clients.splice(0));
        if (server) await server.stop();
      });
      afterEach(async () => { await closeAll(clients.splice(0)); });

      const srv = {
        kind,
        get server() { return server; },
        get httpUrl() { return server.httpUrl; },
        get wsUrl() { return server.wsUrl; },
        uid,
        async peer(id, token = 'tok', opts = {}) {
          const c = await connectPeer(server.wsUrl, { id, token, ...opts });
          clients.push(c);
          return c;
        },
        async open(id = uid(), token = 'tok', { heartbeat = true, ...opts } = {}) {
          const c = await srv.peer(id, token, opts);
          await c.next('OPEN');
          if (heartbeat) c.startHeartbeat(1000);
          c.id = id;
          return c;
        },
      };
      const scenario = (name, fn, opts = {}) => test(name, opts, () => fn(srv));
      define(scenario);
    });
  }
}
