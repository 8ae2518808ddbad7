// Differential: EXPIRE of queued messages and the alive timeout (peerjs-protocol.md §2.6, §2.7).
// Both servers run with expire 1500 ms, alive 3000 ms, sweep 1000 ms (lib/differential.mjs TIMING).
import assert from 'node:assert/strict';
import { describeBoth, TIMING } from './lib/differential.mjs';
import { envelope, marker, quietPeriod } from './lib/frames.mjs';

const GENEROUS = 20_000;

describeBoth('signaling timeouts', {}, (scenario) => {
  scenario('queued messages expire: one EXPIRE per (src,dst) pair, not before expire_timeout', async (srv) => {
    const a = await srv.open();
    const other = await srv.open();
    const x = srv.uid();
    const sentAt = Date.now();
    a.send({ type: 'OFFER', dst: x, payload: 1 });
    a.send({ type: 'CANDIDATE', dst: x, payload: 2 });
    other.send({ type: 'OFFER', dst: x, payload: 3 });
    const e = await a.next('EXPIRE', GENEROUS);
    assert.equal(e.text, envelope('EXPIRE', x, a.id));
    assert.ok(e.at - sentAt >= TIMING.expireMs - 50, `EXPIRE after ${e.at - sentAt} ms`);
    assert.equal((await other.next('EXPIRE', GENEROUS)).text, envelope('EXPIRE', x, other.id));
    // Absence check: no second EXPIRE for the same pair across two more sweeps.
    await quietPeriod(2 * TIMING.cleanupMs + 500);
    assert.deepEqual(a.texts().filter((t) => t.includes('EXPIRE')), [envelope('EXPIRE', x, a.id)]);
    // The expired queue is gone: x gets only OPEN and then our marker.
    const late = await srv.open(x);
    const m = marker(a, late);
    assert.equal((await late.next()).text, m);
    assert.deepEqual(late.texts(), ['{"type":"OPEN"}', m]);
  });

  scenario('EXPIRE goes to whoever holds the sender id when the queue expires, even a new socket', async (srv) => {
    const a = await srv.open();
    const x = srv.uid();
    a.send({ type: 'OFFER', dst: x, payload: 1 });
    const m = marker(a, a);
    await a.next((j, f) => f.text === m);
    await a.close();
    let back = null;
    for (let i = 0; i < 100 && !back; i++) {
      const c = await srv.peer(a.id, 'second-token');
      const f = await c.next();
      if (f.text === '{"type":"OPEN"}') back = c;
      else await c.waitClosed();
    }
    assert.ok(back, 'the sender id registers again');
    back.startHeartbeat(1000);
    assert.equal((await back.next('EXPIRE', GENEROUS)).text, envelope('EXPIRE', x, a.id));
  });

  scenario('a socket that never heartbeats is closed after alive_timeout and its id released', async (srv) => {
    const a = await srv.open(undefined, 'tok', { heartbeat: false });
    const openedAt = Date.now();
    const c = await a.waitClosed(GENEROUS);
    assert.ok(c.at - openedAt >= TIMING.aliveMs - 100, `closed after ${c.at - openedAt} ms`);
    const again = await srv.open(a.id, 'new-token');
    assert.ok(again.isOpen());
  });

  scenario('a socket that heartbeats stays registered past alive_timeout', async (srv) => {
    const a = await srv.open(); // heartbeats every second
    const b = await srv.open();
    await quietPeriod(2 * TIMING.aliveMs);
    assert.ok(a.isOpen());
    const m = marker(b, a);
    assert.equal((await a.next()).text, m);
  });

  scenario('liveness from non-HEARTBEAT frames: reference closes, ours keeps (documented fix)', async (srv) => {
    const a = await srv.open(undefined, 'tok', { heartbeat: false });
    const timer = setInterval(() => { if (a.isOpen()) a.send({ type: 'OFFER', dst: a.id, payload: 'alive' }); }, 700);
    try {
      if (srv.kind === 'reference') {
        await a.waitClosed(GENEROUS);
      } else {
        await quietPeriod(2 * TIMING.aliveMs);
        assert.ok(a.isOpen(), `closed: ${JSON.stringify(await Promise.race([a.closed, null]))}`);
      }
    } finally {
      clearInterval(timer);
    }
  });
});
