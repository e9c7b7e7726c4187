import { createServer, type Server } from 'node:http';
import type { StatusView } from './status.js';
import { renderStatusHtml } from './status.js';
import { HostAllowList } from '@appliance/runtime';

export interface StatusServerOptions {
  /** Further host names (no port) the page answers to, besides the loopback names. */
  allowedHosts?: readonly string[];
}

/**
 * The read-only status page, on loopback only: nobody else on the home network can read it,
 * and it has no route that changes anything. A web page elsewhere can still point its own
 * domain at 127.0.0.1 (DNS rebinding) and read the page as same-origin; the one thing it cannot
 * change is the `Host` header, which names its domain. So a Host not on the list gets 421 and
 * nothing else, whatever the method or path.
 */
export async function startStatusServer(
  view: () => StatusView,
  port: number,
  timeZone: string,
  options: StatusServerOptions = {},
): Promise<{ url: string; server: Server }> {
  const allowed = new HostAllowList(options.allowedHosts ?? []);
  const server = createServer((req, res) => {
    if (!allowed.allows(req.headers.host))
      return void res
        .writeHead(421, { 'content-type': 'text/plain; charset=utf-8' })
        .end('misdirected request: this page answers only to its own host names\n');
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
