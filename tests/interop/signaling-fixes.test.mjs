// Differential: the documented differences from peer@1.0.2. Each scenario asserts the
// reference's behaviour for the reference and ours for ours, so it fails if either changes.
import assert from 'node:assert/strict';
import { describeBoth } from './lib/differential.mjs';
import { connectPeer } from './lib/ws-client.mjs';
import { envelope, marker, quietPeriod } from './lib/frames.mjs';

const QUIET = 1000; // only for asserting that something did NOT happen

/**
 * a sends `bad` and then a valid OFFER to b. Ours must relay the OFFER and keep a working (a
 * self-marker round trip); the reference wedges a's reader, so the OFFER never arrives (checked
 * after a marker from c reached b plus a quiet period, since absence has no event to await).
 */
async function checkMalformedIgnored(srv, bad) {
  const a = await srv.open();
  const b = await srv.open();
  const c = await srv.open();
  for (const f of [].concat(bad)) a.send(f);
  a.send({ type: 'OFFER', dst: b.id, payload: 'after' });
  const after = envelope('OFFER', a.id, b.id, 'after');
  if (srv.kind === 'reference') {
    const m = marker(c, b);
    await b.next((j, f) => f.text === m);
    await quietPeriod(QUIET);
    assert.ok(!b.texts().includes(after), 'the reference dropped everything after the bad frame');
  } else {
    await b.next((j, f) => f.text === after);
    const self = marker(a, a);
    await a.next((j, f) => f.text === self);
    assert.deepEqual(a.texts(), ['{"type":"OPEN"}', self], 'no ERROR is sent for a malformed frame');
    assert.ok(a.isOpen());
  }
}

describeBoth('signaling documented fixes', { expireMs: 20_000, aliveMs: 60_000 }, (scenario) => {
  const malformed = {
    'text that is not JSON': 'not json',
    'a JSON number': '123',
    'JSON null': 'null',
    'a JSON string': '"s"',
    'binary that is not UTF-8': Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
    'unclosed JSON': '{"type":"OFFER","dst":"x"',
  };
  for (const [name, bad] of Object.entries(malformed)) {
    scenario(`${name}: reference wedges the socket, ours ignores it and keeps relaying`,
      (srv) => checkMalformedIgnored(srv, bad));
  }

  scenario('too deep JSON: reference relays it, ours drops it and keeps the socket', async (srv) => {
    const deep = '['.repeat(40) + ']'.repeat(40);
    const a = await srv.open();
    const b = await srv.open();
    a.send(`{"type":"OFFER","dst":"${b.id}","payload":${deep}}`);
    const m = marker(a, b);
    await b.next((j, f) => f.text === m);
    if (srv.kind === 'reference') assert.equal(b.texts().length, 3);
    else assert.deepEqual(b.texts(), ['{"type":"OPEN"}', m]);
  });

  scenario('frame over 64 KiB: reference relays it, ours drops it and keeps the socket', async (srv) => {
    const a = await srv.open();
    const b = await srv.open();
    a.send({ type: 'OFFER', dst: b.id, payload: 'x'.repeat(70_000) });
    const m = marker(a, b);
    await b.next((j, f) => f.text === m);
    if (srv.kind === 'reference') assert.equal(b.texts().length, 3);
    else assert.deepEqual(b.texts(), ['{"type":"OPEN"}', m]);
  });

  scenario('ten malformed frames: ours closes with 1008 and a reason, the reference keeps the socket', async (srv) => {
    const a = await srv.open();
    for (let i = 0; i < 10; i++) a.send(`garbage ${i}`);
    if (srv.kind === 'reference') {
      await quietPeriod(QUIET);
      assert.ok(a.isOpen());
    } else {
      const c = await a.waitClosed();
      assert.equal(c.code, 1008);
      assert.notEqual(c.reason, '');
    }
  });

  scenario('ten JSON arrays: the reference ignores them and keeps relaying, ours counts them as malformed and closes with 1008', async (srv) => {
    const a = await srv.open();
    const b = await srv.open();
    for (let i = 0; i < 10; i++) a.send(`[${i}]`);
    if (srv.kind === 'reference') {
      const m = marker(a, b);
      assert.equal((await b.next()).text, m);
      assert.ok(a.isOpen());
    } else {
      const c = await a.waitClosed();
      assert.equal(c.code, 1008);
      assert.notEqual(c.reason, '');
    }
  });

  scenario('same-token reattach: ours sends OPEN and closes the old socket with 4001; the reference does neither', async (srv) => {
    const id = srv.uid();
    const old = await srv.open(id, 'same');
    const other = await srv.open();
    const fresh = await srv.peer(id, 'same');
    if (srv.kind === 'reference') {
      const m = marker(other, { id });
      assert.equal((await fresh.next()).text, m, 'no OPEN before the relayed message');
      assert.ok(old.isOpen());
      // The old socket still relays with src = id.
      old.send({ type: 'OFFER', dst: other.id, payload: 'from-old' });
      assert.equal((await other.next()).text, envelope('OFFER', id, other.id, 'from-old'));
    } else {
      assert.equal((await fresh.next()).text, '{"type":"OPEN"}');
      const c = await old.waitClosed();
      assert.equal(c.code, 4001);
      assert.equal(c.reason, 'replaced by a newer connection');
      const m = marker(other, { id });
      assert.equal((await fresh.next()).text, m);
    }
  });

  // The reference accepts any non-empty id or token; ours refuses these with a clear ERROR.
  const refusedByOursOnly = (what, params, message) => scenario(`${what}: the reference accepts it, ours refuses with "${message}"`, async (srv) => {
    const c = await connectPeer(srv.wsUrl, params(srv));
    const f = await c.next();
    if (srv.kind === 'reference') {
      assert.equal(f.text, '{"type":"OPEN"}');
      c.terminate();
    } else {
      assert.equal(f.json?.type, 'ERROR');
      assert.match(f.json.payload.msg, new RegExp(`^${message}`));
      await c.waitClosed();
    }
  });

  const badIds = { 'a slash': 'a/b', 'a trailing dash': 'abc-', 'two spaces': 'a  b', '65 characters': 'a'.repeat(65), 'non-ASCII': 'é' };
  for (const [name, id] of Object.entries(badIds)) refusedByOursOnly(`an id with ${name}`, () => ({ id, token: 'tok' }), 'Invalid id');

  scenario('ids the PeerJS client allows and tokens of 1-128 printable ASCII are accepted by both', async (srv) => {
    const cases = [['A'.repeat(64), 'tok'], [`x${srv.uid()} y_z-1`, 'tok'], [srv.uid(), '~'.repeat(128)],
      [srv.uid(), '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'], [srv.uid(), 'x']];
    for (const [id, token] of cases) {
      const c = await srv.peer(id, token);
      assert.equal((await c.next()).text, '{"type":"OPEN"}', `${id} / ${token}`);
    }
  });

  scenario('a token containing a space (0x20, printable ASCII) is accepted by both', async (srv) => {
    const c = await srv.peer(srv.uid(), 'two words');
    assert.equal((await c.next()).text, '{"type":"OPEN"}');
  });

  const badTokens = { '129 characters': 't'.repeat(129), 'a control character': 'a\u0001b', 'non-ASCII': 'tö' };
  for (const [name, token] of Object.entries(badTokens)) refusedByOursOnly(`a token with ${name}`, (srv) => ({ id: srv.uid(), token }), 'Invalid token');

  scenario('LEAVE without dst: the reference unregisters but keeps the socket, ours closes it', async (srv) => {
    const a = await srv.open();
    const b = await srv.open();
    a.send({ type: 'LEAVE' });
    if (srv.kind === 'reference') {
      const m = marker(a, b); // still relays, with its old id as src
      assert.equal((await b.next()).text, m);
      assert.ok(a.isOpen());
    } else {
      await a.waitClosed();
    }
    // Either way the id is free for someone else.
    const again = await srv.open(a.id, 'another');
    assert.ok(again.isOpen());
  });

  scenario('offline queue bound: the 65th message gets an immediate EXPIRE from ours; the reference queues all', async (srv) => {
    const a = await srv.open();
    const x = srv.uid();
    for (let i = 1; i <= 65; i++) a.send({ type: 'CANDIDATE', dst: x, payload: { n: i } });
    const m = marker(a, a);
    await a.next((j, f) => f.text === m);
    const late = await srv.open(x);
    if (srv.kind === 'reference') {
      await late.next((j) => j?.payload?.n === 65);
      assert.equal(late.frames.length, 66);
      assert.ok(!a.texts().some((t) => t.includes('EXPIRE')));
    } else {
      // The EXPIRE may arrive before or after the marker, but well before expire_timeout (20 s).
      if (!a.texts().includes(envelope('EXPIRE', x, a.id))) await a.next('EXPIRE', 5000);
      assert.deepEqual(a.texts().filter((t) => t.includes('EXPIRE')), [envelope('EXPIRE', x, a.id)]);
      await late.next((j) => j?.payload?.n === 64);
      const got = late.frames.slice(1).map((f) => f.json.payload.n);
      assert.deepEqual(got, Array.from({ length: 64 }, (_, i) => i + 1));
    }
  });

  scenario('offline queue byte bound: over 256 KiB queued for one id, ours sends EXPIRE at once; the reference queues all', async (srv) => {
    const a = await srv.open();
    const x = srv.uid();
    const big = 'y'.repeat(60_000); // each frame stays under the 64 KiB frame limit
    for (let i = 1; i <= 5; i++) a.send({ type: 'OFFER', dst: x, payload: { n: i, big } });
    const m = marker(a, a);
    await a.next((j, f) => f.text === m);
    const late = await srv.open(x);
    if (srv.kind === 'reference') {
      await late.next((j) => j?.payload?.n === 5);
      assert.equal(late.frames.length, 6);
      assert.ok(!a.texts().some((t) => t.includes('EXPIRE')));
    } else {
      if (!a.texts().includes(envelope('EXPIRE', x, a.id))) await a.next('EXPIRE', 5000);
      // 4 × ~60 KB fit in 256 KiB, the fifth does not.
      await late.next((j) => j?.payload?.n === 4);
      const m2 = marker(a, late);
      await late.next((j, f) => f.text === m2);
      assert.deepEqual(late.frames.slice(1, -1).map((f) => f.json.payload.n), [1, 2, 3, 4]);
    }
  });
});

describeBoth('signaling limits (ours only: the reference has none)', {
  aliveMs: 60_000,
  ghostchat: {
    'GhostChat:Signaling:Limits:MaxSocketsPerIp': 3,
    'GhostChat:Signaling:Limits:MessagesPerSecond': 5,
    'GhostChat:Signaling:Limits:MessageBurst': 5,
    'GhostChat:Signaling:AllowedOrigins:0': 'https://allowed.example',
  },
}, (scenario) => {
  scenario('a fourth socket from one IP: ours refuses with ERROR then close, the reference opens it', async (srv) => {
    const origin = { headers: { Origin: 'https://allowed.example' } };
    for (let i = 0; i < 3; i++) await srv.open(srv.uid(), 'tok', origin);
    const c = await srv.peer(srv.uid(), 'tok', origin);
    const f = await c.next();
    if (srv.kind === 'reference') assert.equal(f.text, '{"type":"OPEN"}');
    else {
      assert.equal(f.json?.type, 'ERROR');
      await c.waitClosed();
    }
  });

  scenario('Origin allow-list: ours refuses another origin with ERROR then close; both accept the allowed one', async (srv) => {
    const ok = await srv.peer(srv.uid(), 'tok', { headers: { Origin: 'https://allowed.example' } });
    assert.equal((await ok.next()).text, '{"type":"OPEN"}');
    const bad = await srv.peer(srv.uid(), 'tok', { headers: { Origin: 'https://evil.example' } });
    const f = await bad.next();
    if (srv.kind === 'reference') assert.equal(f.text, '{"type":"OPEN"}');
    else {
      assert.equal(f.json?.type, 'ERROR');
      await bad.waitClosed();
    }
  });

  scenario('message flood: ours drops frames over the rate and closes with 1008; the reference relays all', async (srv) => {
    const origin = { headers: { Origin: 'https://allowed.example' } };
    const a = await srv.open(srv.uid(), 'tok', origin);
    const b = await srv.open(srv.uid(), 'tok', origin);
    const n = 400;
    for (let i = 1; i <= n; i++) if (a.isOpen()) a.send({ type: 'CANDIDATE', dst: b.id, payload: { n: i } });
    if (srv.kind === 'reference') {
      await b.next((j) => j?.payload?.n === n);
      assert.equal(b.frames.length, n + 1);
    } else {
      const c = await a.waitClosed(20_000);
      assert.equal(c.code, 1008);
      assert.ok(b.frames.length - 1 < n, `relayed ${b.frames.length - 1} of ${n}`);
    }
  });
});

describeBoth('signaling connect rate (ours only)', {
  aliveMs: 60_000,
  ghostchat: {
    'GhostChat:Signaling:Limits:ConnectsPerSecondPerIp': 0.01,
    'GhostChat:Signaling:Limits:ConnectBurstPerIp': 3,
  },
}, (scenario) => {
  scenario('connecting faster than the per-IP rate: ours refuses with ERROR then close, the reference opens', async (srv) => {
    for (let i = 0; i < 3; i++) await srv.open();
    const c = await srv.peer(srv.uid());
    const f = await c.next();
    if (srv.kind === 'reference') assert.equal(f.text, '{"type":"OPEN"}');
    else {
      assert.equal(f.json?.type, 'ERROR');
      assert.equal(typeof f.json.payload?.msg, 'string');
      await c.waitClosed();
    }
  });
});

describeBoth('signaling global socket cap (ours only)', {
  aliveMs: 60_000,
  ghostchat: { 'GhostChat:Signaling:Limits:MaxSockets': 2 },
}, (scenario) => {
  scenario('a socket over MaxSockets: ours refuses with ERROR then close, the reference opens', async (srv) => {
    await srv.open();
    await srv.open();
    const c = await srv.peer(srv.uid());
    const f = await c.next();
    if (srv.kind === 'reference') assert.equal(f.text, '{"type":"OPEN"}');
    else {
      assert.equal(f.json?.type, 'ERROR');
      await c.waitClosed();
    }
  });
});
