// deploy/compose.yaml (GhostChat + coturn + Redis; profiles "single" and "cluster") checked without a
// container engine: parsed with the `yaml` package, merged and interpolated the way compose does, and
// held against deploy/Dockerfile, the cluster Caddyfile and the server's configuration keys.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { envList, interpolate, loadCompose, readImage, REPO } from './lib/deploy-files.mjs';

export const TEST_ENV = Object.freeze({
  TURN_SECRET: 'compose-test-secret-0123456789abcdef',
  TURN_HOST: 'turn.test.example',
  TURN_EXTERNAL_IP: '203.0.113.7',
  GHOSTCHAT_ID_SIGNING_KEY: 'compose-test-signing-key-0123456789abcdef',
});

/** coturn's command as { flag: [values] }. */
export function coturnFlags(service) {
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
