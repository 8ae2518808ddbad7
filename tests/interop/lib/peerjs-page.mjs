// A blank page that loads the official peerjs client, served from a separate origin (our server's
// CSP forbids inline script on its own origin, and a cross-origin page also exercises CORS).
//   startPeerjsPages(title) -> Promise<{ url, port, close() }>
import path from 'node:path';
import { INTEROP_DIR } from './servers.mjs';
import { startStaticServer } from './static-server.mjs';

export function startPeerjsPages(title = 'peerjs interop') {
  const page = `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>
<script src="/peerjs.min.js"></script></head><body>${title} page</body></html>`;
  return startStaticServer({
    '/': { type: 'text/html; charset=utf-8', body: page },
    '/peerjs.min.js': { type: 'text/javascript; charset=utf-8', file: path.join(INTEROP_DIR, 'node_modules/peerjs/dist/peerjs.min.js') },
  });
}
