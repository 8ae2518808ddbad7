// deploy/compose.yaml (GhostChat + coturn + Redis; profiles "single" and "cluster") checked without a
// container engine: parsed with the `yaml` package, merged and interpolated the way compose does, and
// held against deploy/Dockerfile and the cluster Caddyfile; then run for real as processes (coturn
// with the file's flags, redis-server, our server with the file's environment; see the second block).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { launchChromium } from './lib/browser.mjs';
import { startCoturn } from './lib/coturn.mjs';
import { parse } from 'yaml';
import { envList, interpolate, loadCompose, readImage, REPO, TEST_ENV } from './lib/deploy-files.mjs';
import { startRedis } from './lib/redis.mjs';
import { freePort, startGhostChat } from './lib/servers.mjs';

/** coturn's command as { flag: [values] }. */
function coturnFlags(service) {
  const flags = {};
  for (const arg of service.command) {
    const m = /^--?([a-z-]+)(?:=(.*))?$/.exec(arg);
    assert.ok(m, `unexpected coturn argument ${arg}`);
    (flags[m[1]] ??= []).push(m[2] ?? true);
  }
  return flags;
}

/** "3478:3478/udp" -> { host, container, proto }; ranges as "a-b". */
function portMapping(p) {
  const m = /^(?:([\d.]+):)?([\d-]+):([\d-]+)(?:\/(tcp|udp))?$/.exec(String(p));
  assert.ok(m, `unexpected port mapping ${p}`);
  return { host: m[2], container: m[3], proto: m[4] ?? 'tcp' };
}

describe('deploy/compose.yaml', () => {
  const compose = loadCompose(TEST_ENV);
  const s = compose.services;
  const image = readImage();

  it('interpolation: refuses to start without the shared TURN secret and host; $$ and defaults as compose does', () => {
    assert.throws(() => loadCompose({ ...TEST_ENV, TURN_SECRET: '' }), /TURN_SECRET/);
    assert.throws(() => loadCompose({ ...TEST_ENV, TURN_HOST: undefined }), /TURN_HOST/);
    assert.throws(() => loadCompose({ ...TEST_ENV, TURN_EXTERNAL_IP: undefined }), /TURN_EXTERNAL_IP/);
    assert.equal(interpolate('a$$b ${X:-d} ${Y-e} ${Z}', { Y: '' }), 'a$b d  ');
    assert.throws(() => interpolate('${oops', {}), /invalid interpolation/);
  });

  it('has GhostChat (single and cluster profiles), coturn and Redis', () => {
    assert.deepEqual(Object.keys(s).sort(), ['coturn', 'ghostchat', 'lb', 'node1', 'node2', 'redis']);
    assert.deepEqual(s.ghostchat.profiles, ['single']);
    for (const n of ['node1', 'node2', 'lb']) assert.deepEqual(s[n].profiles, ['cluster'], n);
    assert.equal(s.coturn.profiles, undefined);
    assert.equal(s.redis.profiles, undefined);
    // The example env file selects a profile and names every variable the file needs.
    const example = readFileSync(path.join(REPO, 'deploy/.env.example'), 'utf8');
    assert.match(example, /^COMPOSE_PROFILES=single$/m);
    const used = new Set([...readFileSync(path.join(REPO, 'deploy/compose.yaml'), 'utf8').matchAll(/\$\{([A-Z_]+)/g)].map((m) => m[1]));
    for (const v of used) assert.match(example, new RegExp(`^${v}=`, 'm'), `deploy/.env.example lacks ${v}`);
  });

  it('GhostChat services: the Dockerfile build, its user, port and health check; read-only', () => {
    const [, port] = /:(\d+)$/.exec(image.env.Urls);
    for (const name of ['ghostchat', 'node1', 'node2']) {
      const svc = s[name];
      assert.equal(svc.build.dockerfile, 'deploy/Dockerfile', name);
      assert.ok(existsSync(path.resolve(REPO, 'deploy', svc.build.context, svc.build.dockerfile)), name);
      // USER app in the image is uid 1654 in the aspnet base image.
      assert.equal(image.user, 'app');
      assert.equal(svc.user, '1654:1654', name);
      assert.equal(svc.read_only, true, name);
      assert.deepEqual(svc.healthcheck.test, ['CMD', ...image.healthcheck], name);
      assert.equal(svc.healthcheck.interval, image.healthOptions.interval);
      assert.equal(svc.healthcheck.timeout, image.healthOptions.timeout);
      assert.equal(svc.healthcheck.start_period, image.healthOptions['start-period']);
      assert.equal(String(svc.healthcheck.retries), image.healthOptions.retries);
      assert.ok(svc.healthcheck.test.includes(`http://127.0.0.1:${port}/readyz`), name);
      assert.equal(svc.depends_on.redis.condition, 'service_healthy');
    }
    const published = s.ghostchat.ports.map(portMapping);
    assert.deepEqual(published, [{ host: '8080', container: port, proto: 'tcp' }]);
    assert.ok(image.expose.includes(`${port}/tcp`));
    assert.equal(s.node1.ports, undefined, 'nodes are reached through the load balancer only');
  });

  it('coturn and the ICE service share the REST secret, realm and TURN port; the relay range is published', () => {
    const env = envList(s.ghostchat);
    const flags = coturnFlags(s.coturn);
    // rest-secret provider (contract C1) ⇄ coturn's REST scheme.
    assert.equal(env.GhostChat__Ice__Providers__coturn__Type, 'rest-secret');
    assert.deepEqual(flags['use-auth-secret'], [true]);
    assert.deepEqual(flags['static-auth-secret'], [TEST_ENV.TURN_SECRET]);
    assert.equal(env.GhostChat__Ice__Providers__coturn__Secrets__0, TEST_ENV.TURN_SECRET);
    assert.ok(TEST_ENV.TURN_SECRET.length >= 16);
    assert.deepEqual(flags.realm, [env.GhostChat__Ice__Providers__coturn__Realm]);
    assert.equal(env.GhostChat__Ice__Providers__coturn__Realm, 'ghostchat');
    // Browsers get coturn's port over UDP and TCP, the same port coturn listens on and publishes.
    const listen = flags['listening-port'][0];
    assert.deepEqual([env.GhostChat__Ice__Providers__coturn__Urls__0, env.GhostChat__Ice__Providers__coturn__Urls__1],
      [`turn:${TEST_ENV.TURN_HOST}:${listen}?transport=udp`, `turn:${TEST_ENV.TURN_HOST}:${listen}?transport=tcp`]);
    const ports = s.coturn.ports.map(portMapping);
    assert.ok(ports.some((p) => p.host === listen && p.container === listen && p.proto === 'udp'));
    assert.ok(ports.some((p) => p.host === listen && p.container === listen && p.proto === 'tcp'));
    const range = `${flags['min-port'][0]}-${flags['max-port'][0]}`;
    assert.ok(ports.some((p) => p.host === range && p.container === range && p.proto === 'udp'), `relay range ${range} not published`);
    assert.deepEqual(flags['external-ip'], [TEST_ENV.TURN_EXTERNAL_IP]);
    // Safe defaults: no relaying to loopback or private networks, no admin CLI.
    for (const net of ['127.0.0.0-127.255.255.255', '10.0.0.0-10.255.255.255', '192.168.0.0-192.168.255.255', '172.16.0.0-172.31.255.255']) {
      assert.ok(flags['denied-peer-ip'].includes(net), net);
    }
    assert.deepEqual(flags['no-cli'], [true]);
    // The embedded TURN server is off where coturn relays.
    assert.equal(env.GhostChat__Turn__Enabled, 'false');
  });

  it('cluster profile: two nodes on Redis with one signing key, trusting the load balancer, which balances over both', () => {
    const [a, b] = [envList(s.node1), envList(s.node2)];
    assert.equal(a.GhostChat__Redis__NodeId, 'node1');
    assert.equal(b.GhostChat__Redis__NodeId, 'node2');
    const { GhostChat__Redis__NodeId: _a, ...restA } = a;
    const { GhostChat__Redis__NodeId: _b, ...restB } = b;
    assert.deepEqual(restA, restB, 'the nodes differ in more than their node id');
    assert.equal(a.GhostChat__Signaling__IdSigningKey, TEST_ENV.GHOSTCHAT_ID_SIGNING_KEY);
    assert.equal(a.GhostChat__Redis__ConnectionString, `redis:6379`);
    assert.equal(a.GhostChat__Ice__Providers__coturn__Secrets__0, TEST_ENV.TURN_SECRET);
    assert.equal(a.GhostChat__Network__TrustedProxies__0, s.lb.networks.backend.ipv4_address);
    // The load balancer's Caddyfile (mounted read-only) reaches both nodes on the image's port.
    const mount = s.lb.volumes.find((v) => v.endsWith(':/etc/caddy/Caddyfile:ro'));
    const caddyfile = readFileSync(path.resolve(REPO, 'deploy', mount.split(':')[0]), 'utf8');
    const [, port] = /:(\d+)$/.exec(image.env.Urls);
    assert.match(caddyfile, new RegExp(`reverse_proxy node1:${port} node2:${port}`));
    assert.match(caddyfile, /health_uri \/readyz/);
    assert.deepEqual(s.lb.ports.map(portMapping), [{ host: '8080', container: '8080', proto: 'tcp' }]);
    assert.match(caddyfile, /^:8080 \{/m);
    // The load balancer's address is inside the network's subnet.
    const subnet = compose.networks.backend.ipam.config[0].subnet;
    assert.ok(s.lb.networks.backend.ipv4_address.startsWith(subnet.split('.').slice(0, 3).join('.') + '.'), subnet);
  });

  it('redis: no persistence (ephemeral signaling state only), health-checked', () => {
    assert.deepEqual(s.redis.command, ['redis-server', '--save', '', '--appendonly', 'no']);
    assert.deepEqual(s.redis.healthcheck.test, ['CMD', 'redis-cli', 'ping']);
    const redisUrl = envList(s.ghostchat).GhostChat__Redis__ConnectionString;
    assert.equal(redisUrl.split(':')[0], 'redis');
  });
});

// The compose file, run for real without a container engine: a real coturn with exactly the flags
// the file gives it (its ports moved to free loopback ones), a real redis-server, and our server with
// exactly the file's GhostChat environment (addresses translated the same way). The ICE service must
// hand out credentials that coturn accepts: its own prober allocates on coturn (/readyz), and Chromium
// gathers a relay candidate with them (and none with a forged credential).
describe('deploy/compose.yaml, run: coturn with its flags accepts the ICE service\'s credentials', { timeout: 240_000 }, () => {
  let coturn, redis, server, browser;
  let turnPort;
  const secret = crypto.randomBytes(24).toString('hex');

  before(async () => {
    turnPort = await freePort();
    const relayMin = 40_000 + Math.floor(Math.random() * 20_000);
    const compose = loadCompose({ ...TEST_ENV, TURN_SECRET: secret, TURN_HOST: '127.0.0.1', TURN_EXTERNAL_IP: '127.0.0.1' });
    // coturn: the file's command, with the ports moved; --external-ip dropped (no NAT on loopback).
    const args = compose.services.coturn.command
      .filter((a) => !a.startsWith('--external-ip='))
      .map((a) => a
        .replace(/^--listening-port=\d+$/, `--listening-port=${turnPort}`)
        .replace(/^--min-port=\d+$/, `--min-port=${relayMin}`)
        .replace(/^--max-port=\d+$/, `--max-port=${relayMin + 100}`));
    assert.ok(args.includes(`--static-auth-secret=${secret}`));
    coturn = await startCoturn(args, { port: turnPort });
    redis = await startRedis();
    // GhostChat: the file's environment, Redis and coturn's port translated.
    const env = envList(compose.services.ghostchat);
    const settings = {};
    for (const [k, v] of Object.entries(env)) {
      settings[k.replaceAll('__', ':')] = v
        .replace(/^redis:6379$/, redis.url)
        .replace(/^turn:127\.0\.0\.1:3478\?/, `turn:127.0.0.1:${turnPort}?`);
    }
    assert.equal(settings['GhostChat:Redis:ConnectionString'], redis.url);
    server = await startGhostChat({ settings });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await redis?.stop();
    await coturn?.stop();
  });

  async function iceCheck() {
    const ready = await (await fetch(`${server.httpUrl}/readyz`)).json();
    return ready.checks?.ice;
  }

  it('/api/ice hands out coturn credentials from the rest-secret provider, never the secret', async () => {
    const res = await fetch(`${server.httpUrl}/api/ice`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(!text.includes(secret), 'the shared secret leaked into /api/ice');
    const body = JSON.parse(text);
    assert.deepEqual(body.providers, ['coturn']);
    assert.deepEqual(body.iceServers[0].urls, [`turn:127.0.0.1:${turnPort}?transport=udp`, `turn:127.0.0.1:${turnPort}?transport=tcp`]);
    // TURN REST scheme: "expiry:user", expiry within the file's 12 h lifetime.
    const [expiry] = body.iceServers[0].username.split(':');
    const ttl = Number(expiry) - Date.now() / 1000;
    assert.ok(ttl > 11 * 3600 && ttl <= 12 * 3600 + 60, `credential lifetime ${ttl} s`);
    assert.ok(body.expiresAt);
  });

  it('the server\'s prober allocates on coturn with them: /readyz says coturn is healthy', async () => {
    const deadline = Date.now() + 90_000;
    let ice;
    for (;;) {
      ice = await iceCheck();
      if (ice?.data?.coturn?.state === 'healthy') break;
      assert.ok(Date.now() < deadline, `coturn never probed healthy: ${JSON.stringify(ice)}\n--- coturn ---\n${coturn.output().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(ice.data.coturn.type, 'rest-secret');
    // And Redis is up for signaling: the node is ready.
    assert.equal((await fetch(`${server.httpUrl}/readyz`)).status, 200);
  });

  it('Chromium gathers a relay candidate on coturn with the credentials; a forged one gathers none', async () => {
    const { iceServers } = await (await fetch(`${server.httpUrl}/api/ice`)).json();
    const gather = async (servers) => {
      const ctx = await browser.newContext();
      try {
        const page = await ctx.newPage();
        return await page.evaluate(async (s) => {
          const pc = new RTCPeerConnection({ iceServers: s, iceTransportPolicy: 'relay' });
          pc.createDataChannel('probe');
          const done = new Promise((resolve) => {
            const check = () => pc.iceGatheringState === 'complete' && resolve();
            pc.addEventListener('icegatheringstatechange', check);
            setTimeout(resolve, 30_000);
          });
          await pc.setLocalDescription(await pc.createOffer());
          await done;
          const sdp = pc.localDescription.sdp;
          pc.close();
          return sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:'));
        }, servers);
      } finally {
        await ctx.close();
      }
    };
    const good = await gather(iceServers);
    assert.ok(good.some((c) => / typ relay /.test(c) && c.includes(' 127.0.0.1 ')), `no relay candidate on coturn: ${good.join('\n')}`);
    const forged = iceServers.map((s) => ({ ...s, credential: Buffer.from('not the signature').toString('base64') }));
    const bad = await gather(forged);
    assert.deepEqual(bad.filter((c) => / typ relay /.test(c)), []);
  });
});

describe('.github/workflows/ci.yml', () => {
  const ci = parse(readFileSync(path.join(REPO, '.github/workflows/ci.yml'), 'utf8'));

  it('runs ./test.sh as root in a privileged Debian container (namespaces), and builds the image on version tags', () => {
    assert.deepEqual(ci.on.push.tags, ['v*']);
    const test = ci.jobs.test;
    assert.match(test.container.image, /bookworm/);
    assert.match(test.container.options, /--privileged/);
    assert.ok(test.steps.some((s) => s.run === './test.sh'));
    const image = ci.jobs.image;
    assert.equal(image.needs, 'test');
    assert.match(image.if, /refs\/tags\/v/);
    const build = image.steps.find((s) => /docker build/.test(s.run ?? ''));
    assert.match(build.run, /-f deploy\/Dockerfile/);
    // The smoke test uses the port the image listens on and its health endpoints.
    const [, port] = /:(\d+)$/.exec(readImage().env.Urls);
    const smoke = image.steps.find((s) => /docker run/.test(s.run ?? '')).run;
    assert.match(smoke, new RegExp(`-p ${port}:${port}`));
    assert.match(smoke, /\/readyz/);
  });
});
