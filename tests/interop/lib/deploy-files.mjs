// Readers for the deployment files, so tests check them against the server instead of copying them.
//   readImage(file?) -> { env, user, expose, entrypoint, healthcheck, publish } of deploy/Dockerfile's runtime stage
//   interpolate(value, env) -> value with compose's ${VAR}, ${VAR:-default}, ${VAR-default},
//       ${VAR:?error}, ${VAR?error}, $VAR and $$ substituted in every string (throws like compose does)
//   loadCompose(env, file?) -> the parsed, merged (<<) and interpolated deploy/compose.yaml
//   envList(service) -> the service's environment as an object (list or map form)
//   localEntrypoint(service, secrets, dir) -> the service's entrypoint runnable on this machine: each
//       compose secret /run/secrets/NAME becomes a file in `dir` holding secrets[NAME], /tmp/ becomes `dir`
//   localSettings(service, secrets, dir, translate?) -> a GhostChat service's environment as server
//       settings, each /run/secrets/NAME file it names written in `dir` from secrets[NAME]
//   TEST_ENV -> values for the compose file's variables that the tests use
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { INTEROP_DIR } from './servers.mjs';

export const REPO = path.resolve(INTEROP_DIR, '../..');
export const DOCKERFILE = path.join(REPO, 'deploy/Dockerfile');
export const COMPOSE_FILE = path.join(REPO, 'deploy/compose.yaml');

export function readImage(file = DOCKERFILE) {
  const text = readFileSync(file, 'utf8').replace(/\\\r?\n/g, ' ');
  const lines = text.split('\n').map((l) => l.trim());
  const runtime = lines.slice(lines.findIndex((l) => /^FROM mcr\.microsoft\.com\/dotnet\/aspnet:/.test(l)));
  const env = {};
  for (const l of runtime.filter((x) => x.startsWith('ENV '))) {
    for (const m of l.slice(4).matchAll(/([A-Za-z0-9_]+)=("[^"]*"|\S+)/g)) env[m[1]] = m[2].replace(/^"|"$/g, '');
  }
  const json = (prefix) => {
    const l = runtime.find((x) => x.startsWith(prefix));
    return l ? JSON.parse(l.slice(l.indexOf('['))) : null;
  };
  const healthLine = runtime.find((x) => x.startsWith('HEALTHCHECK ')) ?? '';
  const healthOptions = Object.fromEntries([...healthLine.matchAll(/--([a-z-]+)=(\S+)/g)].map((m) => [m[1], m[2]]));
  return {
    env,
    user: runtime.find((x) => x.startsWith('USER '))?.slice(5).trim() ?? null,
    expose: (runtime.find((x) => x.startsWith('EXPOSE ')) ?? '').slice(7).trim().split(/\s+/).filter(Boolean),
    entrypoint: json('ENTRYPOINT'),
    healthcheck: json('HEALTHCHECK'),
    healthOptions,
    publish: lines.find((l) => l.includes('dotnet publish')),
  };
}

const VAR = /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*)|(\{[^}]*\}?))/g;

export function interpolate(value, env) {
  if (typeof value === 'string') {
    return value.replace(VAR, (whole, braced, op, arg, bare, bad) => {
      if (whole === '$$') return '$';
      if (bad !== undefined) throw new Error(`invalid interpolation format for ${JSON.stringify(value)}`);
      const name = braced ?? bare;
      const v = env[name];
      const unset = v === undefined;
      const empty = unset || v === '';
      switch (op) {
        case ':-': return empty ? arg : v;
        case '-': return unset ? arg : v;
        case ':?': if (empty) throw new Error(`required variable ${name} is missing a value: ${arg}`); return v;
        case '?': if (unset) throw new Error(`required variable ${name} is missing a value: ${arg}`); return v;
        default: return unset ? '' : v;
      }
    });
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)]));
  return value;
}

export function loadCompose(env, file = COMPOSE_FILE) {
  return interpolate(parse(readFileSync(file, 'utf8'), { merge: true }), env);
}

export function envList(service) {
  const e = service.environment ?? {};
  if (Array.isArray(e)) return Object.fromEntries(e.map((x) => { const i = x.indexOf('='); return [x.slice(0, i), x.slice(i + 1)]; }));
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

export function localEntrypoint(service, secrets, dir) {
  let entrypoint = service.entrypoint.map((a) => a.replaceAll('/tmp/', `${dir}/`));
  for (const [name, value] of Object.entries(secrets)) {
    const file = path.join(dir, `secret-${name}`);
    writeFileSync(file, value, { mode: 0o600 });
    entrypoint = entrypoint.map((a) => a.replaceAll(`/run/secrets/${name}`, file));
  }
  assert.ok(!entrypoint.join(' ').includes('/run/secrets/'), `a secret of ${entrypoint.join(' ')} was not given`);
  return entrypoint;
}

/** Values for deploy/compose.yaml's variables (deploy/.env) in tests. */
export const TEST_ENV = Object.freeze({
  TURN_SECRET: 'compose-test-secret-0123456789abcdef',
  REDIS_PASSWORD: 'composetestredispassword0123456789abcdef',
  TURN_HOST: 'turn.test.example',
  TURN_EXTERNAL_IP: '203.0.113.7',
  GHOSTCHAT_ID_SIGNING_KEY: 'compose-test-signing-key-0123456789abcdef',
  GHOSTCHAT_CLUSTER_KEY: 'compose-test-cluster-key-0123456789abcdef',
});

/**
 * A GhostChat service's environment as server settings (GhostChat:…) runnable on this machine:
 * each compose secret file /run/secrets/NAME it names becomes a file in `dir` holding secrets[NAME].
 */
export function localSettings(service, secrets, dir, translate = (v) => v) {
  const settings = {};
  for (const [k, v] of Object.entries(envList(service))) {
    let value = translate(v);
    const m = /^\/run\/secrets\/([a-z_]+)$/.exec(value);
    if (m) {
      assert.ok(service.secrets?.includes(m[1]), `${m[1]} is not one of the service's secrets`);
      assert.ok(m[1] in secrets, `secret ${m[1]} was not given`);
      value = path.join(dir, `secret-${m[1]}`);
      writeFileSync(value, secrets[m[1]], { mode: 0o600 });
    }
    settings[k.replaceAll('__', ':')] = value;
  }
  return settings;
}
