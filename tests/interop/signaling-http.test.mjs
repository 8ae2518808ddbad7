// Differential: the HTTP endpoints of the PeerJS server (peerjs-protocol.md §1).
import assert from 'node:assert/strict';
import { describeBoth } from './lib/differential.mjs';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const BANNER = '{"name":"PeerJS Server","description":"A server side element to broker connections between PeerJS clients.","website":"https://peerjs.com/"}';

describeBoth('signaling HTTP', {}, (scenario) => {
  scenario('GET /peerjs/id returns a fresh lower-case v4 UUID with no newline', async (srv) => {
    const bodies = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${srv.httpUrl}/peerjs/id?ts=123${i}&version=1.5.5`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
      const body = await res.text();
      assert.equal(body.length, 36, JSON.stringify(body));
      assert.match(body, UUID_V4);
      bodies.push(body);
    }
    assert.equal(new Set(bodies).size, 3, 'ids are fresh');
  });

  scenario('GET /{key}/id does not check the key', async (srv) => {
    const res = await fetch(`${srv.httpUrl}/otherkey/id`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), UUID_V4);
  });

  scenario('GET /peerjs/peers with discovery off is 401 Unauthorized', async (srv) => {
    const res = await fetch(`${srv.httpUrl}/peerjs/peers`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(await res.text(), 'Unauthorized');
  });

  scenario('CORS: the Origin is echoed with Vary: Origin', async (srv) => {
    const withOrigin = await fetch(`${srv.httpUrl}/peerjs/id`, { headers: { Origin: 'https://app.example' } });
    await withOrigin.text();
    assert.equal(withOrigin.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(withOrigin.headers.get('vary') ?? '', /(^|,\s*)Origin(\s*,|$)/);
    assert.equal(withOrigin.headers.get('access-control-allow-credentials'), null);
  });

  scenario('CORS: without Origin there is no ACAO but still Vary: Origin', async (srv) => {
    const without = await fetch(`${srv.httpUrl}/peerjs/id`);
    await without.text();
    assert.equal(without.headers.get('access-control-allow-origin'), null);
    assert.match(without.headers.get('vary') ?? '', /(^|,\s*)Origin(\s*,|$)/);
  });

  scenario('GET / : reference banner vs our web app (documented difference)', async (srv) => {
    const res = await fetch(`${srv.httpUrl}/`);
    assert.equal(res.status, 200);
    const body = await res.text();
    if (srv.kind === 'reference') {
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(body, BANNER);
    } else {
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      assert.notEqual(body, BANNER);
      assert.match(body, /<html/i);
    }
  });

  scenario('CORS preflight: 204 with the Origin echoed, requested headers allowed and GET among the methods', async (srv) => {
    const res = await fetch(`${srv.httpUrl}/peerjs/id`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'x-foo' },
    });
    assert.equal(res.status, 204);
    assert.equal(await res.text(), '');
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.equal(res.headers.get('access-control-allow-headers'), 'x-foo');
    assert.ok((res.headers.get('access-control-allow-methods') ?? '').split(',').map((m) => m.trim()).includes('GET'));
    assert.match(res.headers.get('vary') ?? '', /(^|,\s*)Origin(\s*,|$)/);
  });

  scenario('routes match case-insensitively and tolerate one trailing slash (Express quirk kept)', async (srv) => {
    const res = await fetch(`${srv.httpUrl}/PEERJS/ID/`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), UUID_V4);
  });
});
