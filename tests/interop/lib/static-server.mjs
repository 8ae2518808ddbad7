// A tiny HTTP server on 127.0.0.1 for browser tests: serves fixed routes from memory or disk.
//   startStaticServer(routes) -> Promise<{ url, port, close() }>
//   routes: { '/path': { type: 'text/html', body: string | Buffer } | { type, file: '/abs/path' } }
// Anything else is 404. It lives in the test process, so it stops with close() (after hooks).
import http from 'node:http';
import { readFile } from 'node:fs/promises';

export async function startStaticServer(routes) {
  const server = http.createServer(async (req, res) => {
    const route = routes[new URL(req.url, 'http://x').pathname];
    if (!route) { res.writeHead(404, { 'content-type': 'text/plain' }); res.end('not found'); return; }
    try {
      const body = route.file ? await readFile(route.file) : route.body;
      res.writeHead(200, { 'content-type': route.type, 'cache-control': 'no-store' });
      res.end(body);
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' }); res.end(String(e.message));
    }
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve); });
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}
