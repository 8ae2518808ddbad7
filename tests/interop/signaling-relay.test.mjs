// Differential: relaying, queueing and ignoring messages (peerjs-protocol.md §2.3, §2.4, §2.6).
import assert from 'node:assert/strict';
import { describeBoth } from './lib/differential.mjs';
import { envelope, marker } from './lib/frames.mjs';

describeBoth('signaling relay', { expireMs: 20_000, aliveMs: 60_000 }, (scenario) => {
  scenario('OFFER/ANSWER/CANDIDATE are rebuilt as type,src,dst,payload with src set by the server', async (srv) => {
    const a = await srv.open();
    const b = await srv.open();
    const sdp = { sdp: { type: 'offer', sdp: 'v=0\r\n' }, type: 'data', connectionId: 'dc_x1', label: 'dc_x1', reliable: true, serialization: 'binary' };
    a.send(`{"payload":${JSON.stringify(sdp)},"dst":"${b.id}","src":"forged","extra":42,"type":"OFFER"}`);
    assert.equal((await b.next()).text, envelope('OFFER', a.id, b.id, sdp));
    b.send({ type: 'ANSWER', dst: a.id, payload: { sdp: { type: 'answer', sdp: 'v=0' }, type: 'data', connectionId: 'dc_x1' } });
    assert.equal((await a.next()).text, envelope('ANSWER', b.id, a.id, { sdp: { type: 'answer', sdp: 'v=0' }, type: 'data', connectionId: 'dc_x1' }));
    b.send({ type: 'CANDIDATE', dst: a.id, payload: 'a string payload' });
    assert.equal((await a.next()).text, envelope('CANDIDATE', b.id, a.id, 'a string payload'));
    b.send({ type: 'CANDIDATE', dst: a.id, payload: 12.5 });
    assert.equal((await a.next()).text, envelope('CANDIDATE', b.id, a.id, 12.5));
    b.send({ type: 'OFFER', dst: a.id });
    assert.equal((await a.next()).text, envelope('OFFER', b.id, a.id));
  });

  scenario('a peer can send to itself', async (srv) => {
    const a = await srv.open();
    a.send({ type: 'OFFER', dst: a.id, payload: { self: true } });
    assert.equal((await a.next()).text, envelope('OFFER', a.id, a.id, { self: true }));
  });

  scenario('a binary frame holding JSON is relayed as text', async (srv) => {
    const a = await srv.open();
    const b = await srv.open();
    a.send(Buffer.from(JSON.stringify({ type: 'OFFER', dst: b.id, payload: { bin: 1 } })));
    const f = await b.next();
    assert.equal(f.binary, false);
    assert.equal(f.text, envelope('OFFER', a.id, b.id, { bin: 1 }));
  });

  scenario('HEARTBEAT, unknown types, missing type, arrays and missing dst are not relayed and do not hurt the socket', async (srv) => {
    const a = await srv.open();
    const b = await srv.open();
    a.send({ type: 'HEARTBEAT', dst: b.id });
    a.send({ type: 'HEARTBEAT' });
    a.send({ type: 'HELLO', dst: b.id, payload: 1 });
    a.send({ dst: b.id, payload: 2 });
    a.send(`[{"type":"OFFER","dst":"${b.id}"}]`);
    a.send({ type: 'OFFER', payload: 3 });
    a.send({ type: 'OFFER', dst: '', payload: 4 });
    const expected = marker(a, b);
    assert.equal((await b.next()).text, expected);
    assert.equal(a.frames.length, 1, `a got only OPEN: ${JSON.stringify(a.texts())}`);
    assert.ok(a.isOpen());
  });

  scenario('LEAVE and EXPIRE are relayed to a registered dst with their payload', async (srv) => {
    const a = await srv.open();
    const b = await srv.open();
    a.send({ type: 'LEAVE', dst: b.id, payload: { why: 'bye' } });
    assert.equal((await b.next()).text, envelope('LEAVE', a.id, b.id, { why: 'bye' }));
    a.send({ type: 'EXPIRE', dst: b.id, payload: 'forged' });
    assert.equal((await b.next()).text, envelope('EXPIRE', a.id, b.id, 'forged'));
    assert.ok(a.isOpen());
  });

  scenario('messages to an offline id are queued and flushed in order right after OPEN', async (srv) => {
    const a = await srv.open();
    const c = await srv.open();
    const b = srv.uid();
    for (let i = 1; i <= 3; i++) a.send({ type: i === 3 ? 'CANDIDATE' : 'OFFER', dst: b, payload: { n: i } });
    // A self-marker round trip proves the server handled a's sends before c sends (and before b connects).
    const ma = marker(a, a); assert.equal((await a.next()).text, ma);
    c.send({ type: 'ANSWER', dst: b, payload: { n: 4 } });
    const mc = marker(c, c); assert.equal((await c.next()).text, mc);
    const peer = await srv.peer(b);
    await peer.next(() => peer.frames.length >= 5);
    assert.deepEqual(peer.texts(), [
      '{"type":"OPEN"}',
      envelope('OFFER', a.id, b, { n: 1 }),
      envelope('OFFER', a.id, b, { n: 2 }),
      envelope('CANDIDATE', a.id, b, { n: 3 }),
      envelope('ANSWER', c.id, b, { n: 4 }),
    ]);
  });

  scenario('LEAVE and EXPIRE to an offline id are dropped, never queued', async (srv) => {
    const a = await srv.open();
    const b = srv.uid();
    a.send({ type: 'LEAVE', dst: b });
    a.send({ type: 'EXPIRE', dst: b });
    a.send({ type: 'OFFER', dst: b, payload: 'queued' });
    const ma = marker(a, a); assert.equal((await a.next()).text, ma);
    const peer = await srv.peer(b);
    await peer.next((j) => j?.type === 'OFFER');
    assert.deepEqual(peer.texts(), ['{"type":"OPEN"}', envelope('OFFER', a.id, b, 'queued')]);
  });

  scenario('a dropped socket is not announced to anyone, and its id is free again', async (srv) => {
    const a = await srv.open();
    const b = await srv.open();
    const c = await srv.open();
    a.send({ type: 'OFFER', dst: b.id, payload: 'hi' });
    await b.next();
    b.send({ type: 'ANSWER', dst: a.id, payload: 'hi' });
    await a.next();
    await a.close();
    const expected = marker(c, b);
    assert.equal((await b.next()).text, expected, 'no LEAVE reached b before the marker');
    // The id is released once the server has seen the close: retry until it registers.
    let got = null;
    for (let i = 0; i < 100 && !got; i++) {
      const again = await srv.peer(a.id, 'another-token');
      const f = await again.next();
      if (f.text === '{"type":"OPEN"}') got = again;
      else { assert.equal(f.json?.type, 'ID-TAKEN'); await again.waitClosed(); }
    }
    assert.ok(got, 'the id was released after its socket closed');
  });
});
