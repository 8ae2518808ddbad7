// Differential: accepting and refusing signaling sockets (peerjs-protocol.md §2.1, §2.2).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describeBoth } from './lib/differential.mjs';
import { connect, peerUrl } from './lib/ws-client.mjs';

const NO_PARAMS = '{"type":"ERROR","payload":{"msg":"No id, token, or key supplied to websocket server"}}';
const BAD_KEY = '{"type":"ERROR","payload":{"msg":"Invalid key provided"}}';
const ID_TAKEN = '{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}';
const LIMIT = '{"type":"ERROR","payload":{"msg":"Server has reached its concurrent user limit"}}';

/** Opens a socket, waits until the server closes it, returns { texts, close }. */
async function refused(srv, params, path) {
  const c = await connect(peerUrl(srv.wsUrl, { path, ...params }));
  const close = await c.waitClosed();
  return { texts: c.texts(), close };
}

describeBoth('signaling handshake', {}, (scenario) => {
  scenario('a free id gets exactly {"type":"OPEN"} first', async (srv) => {
    const c = await srv.peer(srv.uid());
    const first = await c.next();
    assert.equal(first.text, '{"type":"OPEN"}');
    assert.equal(first.binary, false);
    assert.ok(c.isOpen());
  });

  for (const missing of ['id', 'token', 'key']) {
    scenario(`missing ${missing}: ERROR "No id, token, or key…" then close`, async (srv) => {
      const params = { id: srv.uid(), token: 'tok', key: 'peerjs' };
      params[missing] = undefined;
      const r = await refused(srv, params);
      assert.deepEqual(r.texts, [NO_PARAMS]);
    });
    scenario(`empty ${missing}: ERROR "No id, token, or key…" then close`, async (srv) => {
      const params = { id: srv.uid(), token: 'tok', key: 'peerjs' };
      params[missing] = '';
      const r = await refused(srv, params);
      assert.deepEqual(r.texts, [NO_PARAMS]);
    });
  }

  scenario('wrong key: ERROR "Invalid key provided" then close', async (srv) => {
    const r = await refused(srv, { id: srv.uid(), token: 'tok', key: 'notpeerjs' });
    assert.deepEqual(r.texts, [BAD_KEY]);
  });

  scenario('a registered id with another token: ID-TAKEN then close; the holder keeps working', async (srv) => {
    const id = srv.uid();
    const holder = await srv.open(id, 'first');
    const r = await refused(srv, { id, token: 'second' });
    assert.deepEqual(r.texts, [ID_TAKEN]);
    const other = await srv.open();
    other.send({ type: 'OFFER', dst: id, payload: 'still-here' });
    assert.equal((await holder.next()).text, `{"type":"OFFER","src":"${other.id}","dst":"${id}","payload":"still-here"}`);
  });

  scenario('a token-bound gc1- id after its holder left: the reference gives it to anyone (OPEN); ours only to its token (documented difference)', async (srv) => {
    // docs/protocol.md, "Peer ids": "gc1-" + the first 16 bytes of SHA-256(token) in lower-case hex.
    const token = `host-${srv.uid()}`;
    const id = 'gc1-' + createHash('sha256').update(token).digest('hex').slice(0, 32);
    const holder = await srv.open(id, token);
    await holder.close();
    let squatter;
    for (let attempt = 0; ; attempt++) { // until the holder's close is processed
      squatter = await srv.peer(id, 'squatter');
      const first = await squatter.next();
      if (first.json.type !== 'ID-TAKEN' || attempt > 100) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const expected = srv.kind === 'reference'
      ? '{"type":"OPEN"}'
      : '{"type":"ERROR","payload":{"msg":"Invalid id: this id belongs to another token (ids beginning with \'gc1-\' are made from their token)"}}';
    assert.equal(squatter.texts().at(-1), expected);
    const back = await srv.peer(id, token);
    assert.equal((await back.next()).text, srv.kind === 'reference' ? '{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}' : '{"type":"OPEN"}');
  });

  scenario('the close after an in-band refusal: the reference sends no status (1005), ours 1000 (documented difference)', async (srv) => {
    // .NET cannot send a close frame without a status code, so ours says 1000 (README, differences).
    const expected = srv.kind === 'reference' ? 1005 : 1000;
    const r1 = await refused(srv, { id: srv.uid(), token: 'tok', key: 'notpeerjs' });
    const r2 = await refused(srv, { id: undefined, token: 'tok' });
    const holder = await srv.open();
    const r3 = await refused(srv, { id: holder.id, token: 'other' });
    assert.equal(r1.close.code, expected, `invalid key close: ${JSON.stringify(r1.close)}`);
    assert.equal(r2.close.code, expected, `missing id close: ${JSON.stringify(r2.close)}`);
    assert.equal(r3.close.code, expected, `ID-TAKEN close: ${JSON.stringify(r3.close)}`);
  });

  scenario('a WebSocket on another path is refused at the handshake', async (srv) => {
    await assert.rejects(connect(`${srv.wsUrl}/peerjs/?key=peerjs&id=${srv.uid()}&token=t`), /handshake refused: HTTP 4\d\d/);
    await assert.rejects(connect(`${srv.wsUrl}/other?key=peerjs&id=${srv.uid()}&token=t`), /handshake refused: HTTP 4\d\d/);
  });

  scenario('query parameters are percent-decoded and the last repeated value wins', async (srv) => {
    const id = srv.uid();
    const c = await connect(`${srv.wsUrl}/peerjs?key=wrong&key=pe%65rjs&id=${id}&token=t%41`);
    assert.equal((await c.next()).text, '{"type":"OPEN"}');
    const other = await srv.open();
    other.send({ type: 'OFFER', dst: id, payload: 1 });
    assert.equal((await c.next()).json.dst, id);
    c.terminate();
  });
});

describeBoth('signaling concurrent limit', { concurrentLimit: 2 }, (scenario) => {
  scenario('the third registered id gets "Server has reached its concurrent user limit"', async (srv) => {
    const a = await srv.open();
    await srv.open();
    const r = await refused(srv, { id: srv.uid(), token: 'tok' });
    assert.deepEqual(r.texts, [LIMIT]);
    // The limit is on new ids only: a same-id, other-token attempt is still ID-TAKEN.
    const t = await refused(srv, { id: a.id, token: 'other' });
    assert.deepEqual(t.texts, [ID_TAKEN]);
    // Once a peer leaves, a new id fits again.
    await a.close();
    let opened = null;
    for (let i = 0; i < 50 && !opened; i++) {
      const c = await srv.peer(srv.uid());
      const f = await c.next();
      if (f.text === '{"type":"OPEN"}') opened = c;
      else await c.waitClosed();
    }
    assert.ok(opened, 'a new id registers after a peer left');
  });
});
