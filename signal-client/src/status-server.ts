import { createServer, type Server } from 'node:http';
import type { StatusView } from './status.js';
import { renderStatusHtml } from './status.js';

/**
 * The read-only status page, on loopback only: nobody else on the home network can read it,
 * and it has no route that changes anything.
 */
export async function startStatusServer(
  view: () => StatusView,
  port: number,
  timeZone: string,
): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET') return void res.writeHead(405, { allow: 'GET' }).end();
    if (req.url === '/status.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(view()));
    } else if (req.url === '/') {
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end(renderStatusHtml(view(), timeZone));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  return { url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : port}`, server };
}
