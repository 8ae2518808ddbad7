// deploy/compose.yaml (GhostChat + coturn + Redis; profiles "single" and "cluster") checked without a
// container engine: parsed with the `yaml` package, merged and interpolated the way compose does, and
// held against deploy/Dockerfile and the cluster Caddyfile; then run for real as processes (coturn
// with the file's flags, redis-server, our server with the file's environment; see the second block).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchChromium } from './lib/browser.mjs';
import { startCoturn } from './lib/coturn.mjs';
import { parse } from 'yaml';
import { envList, interpolate, loadCompose, localEntrypoint, localSettings, readImage, REPO, TEST_ENV } from './lib/deploy-files.mjs';
import { redisCommand, startRedis } from './lib/redis.mjs';
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

/** An IP address as { family: 4 | 6, value: BigInt }. */
function ipValue(text) {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(text)) {
    const parts = text.split('.').map(Number);
    assert.ok(parts.every((p) => p >= 0 && p <= 255), text);
    return { family: 4, value: parts.reduce((v, p) => (v << 8n) | BigInt(p), 0n) };
  }
  let t = text;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (dotted) {
    const v4 = ipValue(dotted[1]).value;
    t = t.slice(0, -dotted[1].length) + `${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = t.includes('::') ? t.split('::') : [t, null];
  const h = head ? head.split(':') : [];
  const tl = tail ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...Array(8 - h.length - tl.length).fill('0'), ...tl];
  assert.equal(groups.length, 8, `not an IPv6 address: ${text}`);
  return { family: 6, value: groups.reduce((v, g) => (v << 16n) | BigInt(parseInt(g || '0', 16)), 0n) };
}

/** coturn's denied-peer-ip values as ranges; an address matches only ranges of its own family. */
function denyRanges(values) {
  return values.map((v) => {
    const [a, b = a] = v.split('-');
    const [min, max] = [ipValue(a), ipValue(b)];
    assert.equal(min.family, max.family, v);
    return { text: v, family: min.family, min: min.value, max: max.value };
  });
}
const denied = (ranges, address) => {
  const { family, value } = ipValue(address);
  return ranges.some((r) => r.family === family && r.min <= value && value <= r.max);
};
/** As coturn >= 4.13.1 checks: an IPv4-compatible ::a.b.c.d (not :: or ::1) is checked as a.b.c.d. */
const deniedAfterReduction = (ranges, address) => {
  const { family, value } = ipValue(address);
  const v4 = family === 6 && value >> 32n === 0n && value > 1n
    ? [24n, 16n, 8n, 0n].map((sh) => String((value >> sh) & 255n)).join('.') : address;
  return denied(ranges, v4);
};

describe('deploy/compose.yaml', () => {
  const compose = loadCompose(TEST_ENV);
  const s = compose.services;
  const image = readImage();

  it('interpolation: refuses to start without the shared TURN secret and host; $$ and defaults as compose does', () => {
    assert.throws(() => loadCompose({ ...TEST_ENV, TURN_SECRET: '' }), /TURN_SECRET/);
    assert.throws(() => loadCompose({ ...TEST_ENV, TURN_HOST: undefined }), /TURN_HOST/);
    assert.throws(() => loadCompose({ ...TEST_ENV, TURN_EXTERNAL_IP: undefined }), /TURN_EXTERNAL_IP/);
    assert.throws(() => loadCompose({ ...TEST_ENV, REDIS_PASSWORD: '' }), /REDIS_PASSWORD/);
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
    for (const secret of Object.values(compose.secrets)) used.add(secret.environment);
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
    // The secret reaches coturn as a compose secret (a file), written into its config file at start.
    assert.deepEqual(s.coturn.secrets, ['turn_secret']);
    assert.equal(compose.secrets.turn_secret.environment, 'TURN_SECRET');
    const coturnScript = s.coturn.entrypoint.join('\n');
    assert.match(coturnScript, /secret=\$\(cat \/run\/secrets\/turn_secret\)\n\[ -n "\$secret" \] \|\| \{/);
    assert.match(coturnScript, /printf 'static-auth-secret=%s\\n' "\$secret" > \/tmp\/turnserver\.conf/);
    assert.match(s.coturn.entrypoint.join('\n'), /exec turnserver -c \/tmp\/turnserver\.conf "\$@"/);
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
    assert.deepEqual(flags['no-cli'], [true]);
    // The embedded TURN server is off where coturn relays.
    assert.equal(env.GhostChat__Turn__Enabled, 'false');
  });

  it('every image is pinned to a version; every service drops all capabilities and cannot gain privileges', () => {
    for (const [name, svc] of Object.entries(s)) {
      if (svc.build) {
        assert.equal(svc.image, 'ghostchat:local', name); // built here from deploy/Dockerfile
      } else {
        assert.match(svc.image, /^[a-z0-9./-]+:\d+\.\d+\.\d+(-r\d+)?(@sha256:[0-9a-f]{64})?$/, `${name}: ${svc.image} is not pinned to a version`);
      }
      assert.deepEqual(svc.cap_drop, ['ALL'], name);
      assert.ok(svc.security_opt?.includes('no-new-privileges:true'), `${name} may gain privileges`);
      // Only binaries that carry the file capability (coturn's, Caddy's) get it back in the
      // bounding set, or exec fails; no-new-privileges keeps it from being granted.
      assert.deepEqual(svc.cap_add ?? [], ['coturn', 'lb'].includes(name) ? ['NET_BIND_SERVICE'] : [], name);
    }
  });

  it('no secret on any command line: coturn and Redis read theirs from compose secrets, GhostChat from its environment', () => {
    const secrets = [TEST_ENV.TURN_SECRET, TEST_ENV.REDIS_PASSWORD, TEST_ENV.GHOSTCHAT_ID_SIGNING_KEY, TEST_ENV.GHOSTCHAT_CLUSTER_KEY];
    for (const [name, svc] of Object.entries(s)) {
      const argv = [...(svc.entrypoint ?? []), ...(svc.command ?? []), ...(svc.healthcheck?.test ?? [])].join(' ');
      for (const secret of secrets) assert.ok(!argv.includes(secret), `${name}: a secret is on its command line`);
    }
    assert.deepEqual(compose.secrets, {
      turn_secret: { environment: 'TURN_SECRET' },
      redis_password: { environment: 'REDIS_PASSWORD' },
      cluster_key: { environment: 'GHOSTCHAT_CLUSTER_KEY' },
    });
  });

  it('cluster key: every GhostChat node reads it from the cluster_key secret file, not from its environment', () => {
    for (const name of ['ghostchat', 'node1', 'node2']) {
      const env = envList(s[name]);
      assert.deepEqual(s[name].secrets, ['cluster_key'], name);
      assert.equal(env.GhostChat__Redis__ClusterKeyFile, '/run/secrets/cluster_key', name);
      assert.equal(env.GhostChat__Redis__ClusterKey, undefined, name);
      assert.ok(!Object.values(env).some((v) => v.includes(TEST_ENV.GHOSTCHAT_CLUSTER_KEY)), `${name}: the cluster key is in its environment`);
    }
    // Only the GhostChat nodes get it.
    for (const [name, svc] of Object.entries(s)) {
      if (!['ghostchat', 'node1', 'node2'].includes(name)) assert.ok(!(svc.secrets ?? []).includes('cluster_key'), name);
    }
  });

  it('coturn: a release with CVE-2026-27624 fixed, no TCP relay, and the full deny list (IPv4-in-IPv6 spellings included)', () => {
    const flags = coturnFlags({ command: s.coturn.command });
    // Fixed in 4.9.0; every IPv4-in-IPv6 spelling reduced before the peer checks since 4.13.1.
    const [, major, minor, patch] = /^coturn\/coturn:(\d+)\.(\d+)\.(\d+)/.exec(s.coturn.image).map(Number);
    assert.ok(major * 1e6 + minor * 1e3 + patch >= 4_013_001, `${s.coturn.image} is older than 4.13.1`);
    assert.deepEqual(flags['no-tcp-relay'], [true]);
    assert.deepEqual(flags['no-multicast-peers'], [true]);
    assert.equal(flags['static-auth-secret'], undefined);
    assert.equal(flags.n, undefined, '-n would ignore the config file that holds the secret');

    const values = flags['denied-peer-ip'];
    // "::" (or "::0") as a range end matches every IPv4 peer on coturn >= 4.9.0 (and "0.0.0.0" as a
    // lone address would match everything); no range here starts or ends there except 0.0.0.0/8.
    for (const v of values) assert.ok(!/(^|-)::0?$|^::0?-/.test(v), `${v} would deny every peer`);
    const ranges = denyRanges(values);
    // coturn 4.6.1 compares IPv6 ranges byte by byte (a box, not a span): ranges that are whole
    // CIDR blocks mean the same in every release.
    for (const r of ranges) {
      const size = r.max - r.min + 1n;
      assert.ok((size & (size - 1n)) === 0n && r.min % size === 0n, `${r.text} is not a CIDR block`);
    }
    const mustDeny = {
      'this network': ['0.0.0.0', '0.1.2.3'],
      loopback: ['127.0.0.1', '127.255.255.254', '::1'],
      private: ['10.1.2.3', '172.16.0.1', '172.31.255.254', '192.168.1.1', '172.30.1.2'],
      'link-local (cloud metadata)': ['169.254.169.254', 'fe80::1', 'febf::1'],
      CGNAT: ['100.64.0.1', '100.127.255.254'],
      multicast: ['224.0.0.1', '239.255.255.250', 'ff02::1', 'ff0e::1'],
      reserved: ['240.0.0.1', '255.255.255.255', '192.0.0.8', '192.0.2.1', '192.88.99.1', '198.18.0.1', '198.51.100.1',
        '203.0.113.1', '100::1', '2001::1', '2001:db8::1', '3fff::1', 'fec0::1'],
      'unique local': ['fc00::1', 'fd12:3456::1'],
      NAT64: ['64:ff9b::7f00:1', '64:ff9b::a00:1', '64:ff9b::808:808', '64:ff9b:1::1'],
      '6to4': ['2002:7f00:1::1', '2002:a00:1::1'],
      'IPv4-mapped (CVE-2026-27624)': ['::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '::ffff:0.0.0.0', '::ffff:8.8.8.8'],
    };
    for (const [kind, addresses] of Object.entries(mustDeny)) {
      for (const a of addresses) assert.ok(denied(ranges, a), `${kind}: ${a} is not denied`);
    }
    // IPv4-compatible ::a.b.c.d cannot be denied as a range (see the file); the pinned release
    // reduces it to IPv4 first, where the ranges above deny it.
    for (const a of ['::127.0.0.1', '::10.0.0.1', '::169.254.169.254', '::2']) {
      assert.ok(deniedAfterReduction(ranges, a), `IPv4-compatible: ${a} is not denied after reduction`);
    }
    for (const a of ['8.8.8.8', '1.1.1.1', '203.0.114.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001::1']) {
      assert.ok(!denied(ranges, a), `${a} (public) is denied`);
    }
  });

  it('redis: a password (from a compose secret), on an internal network coturn is not on; GhostChat authenticates', () => {
    assert.deepEqual(s.redis.secrets, ['redis_password']);
    const script = s.redis.entrypoint.join('\n');
    assert.match(script, /password=\$\(cat \/run\/secrets\/redis_password\)\n\[ -n "\$password" \] \|\| \{/);
    assert.match(script, /printf 'requirepass "%s"\\n' "\$password" > \/tmp\/redis\.conf/);
    assert.match(script, /exec redis-server \/tmp\/redis\.conf --save "" --appendonly no "\$@"/);
    assert.match(s.redis.healthcheck.test.join(' '), /REDISCLI_AUTH="\$\(cat \/run\/secrets\/redis_password\)" redis-cli ping/);
    assert.equal(s.redis.user, '999:999');
    assert.equal(s.redis.read_only, true);
    // Networks: Redis only on "backend", which is internal; coturn on none of Redis's networks.
    assert.deepEqual(s.redis.networks, ['backend']);
    assert.equal(compose.networks.backend.internal, true);
    const netsOf = (svc) => (Array.isArray(svc.networks) ? svc.networks : Object.keys(svc.networks ?? {}));
    assert.deepEqual(netsOf(s.coturn).filter((n) => netsOf(s.redis).includes(n)), [], 'coturn can reach Redis');
    for (const name of Object.keys(s).filter((n) => n !== 'redis' && netsOf(s[n]).includes('backend'))) {
      assert.ok(['ghostchat', 'node1', 'node2'].includes(name), `${name} can reach Redis`);
    }
    for (const name of ['ghostchat', 'node1', 'node2']) {
      assert.equal(envList(s[name]).GhostChat__Redis__ConnectionString, `redis:6379,password=${TEST_ENV.REDIS_PASSWORD}`, name);
    }
  });

  it('deploy/.env is created private (0600) with new random secrets by deploy/init-env.sh, which never overwrites it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ghostchat-env-'));
    try {
      const file = path.join(dir, '.env');
      execFileSync(path.join(REPO, 'deploy/init-env.sh'), [file], { stdio: 'pipe' });
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const env = Object.fromEntries(readFileSync(file, 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split(/=(.*)/s).slice(0, 2)));
      const made = ['TURN_SECRET', 'REDIS_PASSWORD', 'GHOSTCHAT_CLUSTER_KEY', 'GHOSTCHAT_ID_SIGNING_KEY'];
      for (const k of made) assert.match(env[k], /^[0-9a-f]{64}$/, k);
      assert.equal(new Set(made.map((k) => env[k])).size, made.length, 'two secrets are the same');
      loadCompose(env); // the file it writes is all compose needs
      assert.throws(() => execFileSync(path.join(REPO, 'deploy/init-env.sh'), [file], { stdio: 'pipe' }), /exists/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Whatever tells operators to make the file makes it private.
    for (const doc of ['deploy/compose.yaml', 'deploy/.env.example', 'docs/operator-guide.md']) {
      const text = readFileSync(path.join(REPO, doc), 'utf8');
      assert.ok(!/\bcp\s+deploy\/\.env\.example/.test(text), `${doc} still copies .env.example with cp`);
      assert.match(text, /deploy\/init-env\.sh/, doc);
    }
  });

  it('cluster profile: two nodes on Redis with one signing key, trusting the load balancer, which balances over both', () => {
    const [a, b] = [envList(s.node1), envList(s.node2)];
    assert.equal(a.GhostChat__Redis__NodeId, 'node1');
    assert.equal(b.GhostChat__Redis__NodeId, 'node2');
    const { GhostChat__Redis__NodeId: _a, ...restA } = a;
    const { GhostChat__Redis__NodeId: _b, ...restB } = b;
    assert.deepEqual(restA, restB, 'the nodes differ in more than their node id');
    assert.equal(a.GhostChat__Signaling__IdSigningKey, TEST_ENV.GHOSTCHAT_ID_SIGNING_KEY);
    assert.equal(a.GhostChat__Redis__ConnectionString, `redis:6379,password=${TEST_ENV.REDIS_PASSWORD}`);
    assert.equal(a.GhostChat__Ice__Providers__coturn__Secrets__0, TEST_ENV.TURN_SECRET);
    assert.equal(a.GhostChat__Network__TrustedProxies__0, s.lb.networks.frontend.ipv4_address);
    // The load balancer's Caddyfile (mounted read-only) reaches both nodes on the image's port.
    const mount = s.lb.volumes.find((v) => v.endsWith(':/etc/caddy/Caddyfile:ro'));
    const caddyfile = readFileSync(path.resolve(REPO, 'deploy', mount.split(':')[0]), 'utf8');
    const [, port] = /:(\d+)$/.exec(image.env.Urls);
    assert.match(caddyfile, new RegExp(`reverse_proxy node1:${port} node2:${port}`));
    assert.match(caddyfile, /health_uri \/readyz/);
    assert.deepEqual(s.lb.ports.map(portMapping), [{ host: '8080', container: '8080', proto: 'tcp' }]);
    assert.match(caddyfile, /^:8080 \{/m);
    // The load balancer's address is inside the network's subnet.
    const subnet = compose.networks.frontend.ipam.config[0].subnet;
    assert.ok(s.lb.networks.frontend.ipv4_address.startsWith(subnet.split('.').slice(0, 3).join('.') + '.'), subnet);
  });

  it('redis: no persistence (ephemeral signaling state only), health-checked', () => {
    assert.match(s.redis.entrypoint.join('\n'), /--save "" --appendonly no/);
    assert.equal(s.redis.healthcheck.test[0], 'CMD-SHELL');
    assert.match(s.redis.healthcheck.test[1], /redis-cli ping \| grep -qx PONG$/);
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
  let coturn, redis, server, browser, dir;
  let turnPort;
  const secret = crypto.randomBytes(24).toString('hex');
  const redisPassword = crypto.randomBytes(24).toString('hex');
  const clusterKey = crypto.randomBytes(32).toString('hex');

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ghostchat-compose-'));
    turnPort = await freePort();
    const relayMin = 40_000 + Math.floor(Math.random() * 20_000);
    const compose = loadCompose({ ...TEST_ENV, TURN_SECRET: secret, REDIS_PASSWORD: redisPassword, TURN_HOST: '127.0.0.1', TURN_EXTERNAL_IP: '127.0.0.1' });
    // coturn: the file's entrypoint (the secret from a secret file into a private config file) and
    // command, with the ports moved; --external-ip dropped (no NAT on loopback).
    const args = compose.services.coturn.command
      .filter((a) => !a.startsWith('--external-ip='))
      .map((a) => a
        .replace(/^--listening-port=\d+$/, `--listening-port=${turnPort}`)
        .replace(/^--min-port=\d+$/, `--min-port=${relayMin}`)
        .replace(/^--max-port=\d+$/, `--max-port=${relayMin + 100}`));
    assert.ok(!args.some((a) => a.includes(secret)));
    coturn = await startCoturn(args, { port: turnPort, launcher: localEntrypoint(compose.services.coturn, { turn_secret: secret }, dir) });
    // Redis: the file's entrypoint, with the password from a secret file.
    redis = await startRedis({ launcher: localEntrypoint(compose.services.redis, { redis_password: redisPassword }, dir), password: redisPassword });
    // GhostChat: the file's environment, Redis and coturn's port translated, the cluster key a secret file.
    const settings = localSettings(compose.services.ghostchat, { cluster_key: clusterKey }, dir, (v) => v
      .replace(/^redis:6379,/, `${redis.url},`)
      .replace(/^turn:127\.0\.0\.1:3478\?/, `turn:127.0.0.1:${turnPort}?`));
    assert.equal(settings['GhostChat:Redis:ConnectionString'], `${redis.url},password=${redisPassword}`);
    server = await startGhostChat({ settings });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await redis?.stop();
    await coturn?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('coturn and Redis run with no secret on their command lines; their config files are private', () => {
    for (const [name, pid] of [['coturn', coturn.pid], ['redis', redis.pid]]) {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      assert.match(cmdline, name === 'coturn' ? /turnserver -c / : /redis-server /, `${name} did not exec its server: ${cmdline}`);
      assert.ok(!cmdline.includes(secret) && !cmdline.includes(redisPassword), `${name}: a secret is on the command line`);
    }
    for (const file of ['turnserver.conf', 'redis.conf']) assert.equal(statSync(path.join(dir, file)).mode & 0o777, 0o600, file);
  });

  it('Redis refuses clients without the password; GhostChat, with it, is ready', async () => {
    assert.match(await redisCommand(redis.port, 'PING\r\n'), /^-NOAUTH/);
    assert.match(await redisCommand(redis.port, 'AUTH wrong-password\r\n'), /^-(WRONGPASS|ERR)/);
    assert.match(await redisCommand(redis.port, `AUTH ${redisPassword}\r\nPING\r\n`), /\+PONG/);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ready = await (await fetch(`${server.httpUrl}/readyz`)).json();
      if (ready.checks?.redis?.status === 'Healthy' || ready.checks?.cluster?.status === 'Healthy') break;
      assert.ok(Date.now() < deadline, `GhostChat never reached Redis: ${JSON.stringify(ready)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
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
    // TURN REST scheme: "expiry:user". One client gets the same user for half the file's 12 h
    // lifetime (docs/operator-guide.md, "The TURN server's limits"), so what is left is 6–12 h.
    const [expiry] = body.iceServers[0].username.split(':');
    const ttl = Number(expiry) - Date.now() / 1000;
    assert.ok(ttl > 6 * 3600 - 60 && ttl <= 12 * 3600 + 60, `credential lifetime ${ttl} s`);
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
