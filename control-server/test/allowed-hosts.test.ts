// Finding 12 of issue 8: the control server answered any Host header, so a page on an
// attacker's domain, rebound by DNS to 127.0.0.1, could read it as its own origin.
import t from 'tap';
import { HostAllowList } from '@appliance/runtime';
import { ADMIN, rawRequest, setup } from './helpers.js';

t.test('a request naming another host gets 421 before anything else, even with the token', async (t) => {
  const { url, server } = await setup(t);
  await fetch(`${url}/api/devices`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'dev-1' }),
  });
  const port = new URL(url).port;
  for (const host of [
    `evil.example:${port}`,
    'evil.example',
    `127.0.0.1.evil.example:${port}`,
    `localhost.evil.example:${port}`,
    `localhost@evil.example:${port}`,
    `127.0.0.2:${port}`,
    `[::2]:${port}`,
    '0.0.0.0',
  ]) {
    for (const path of ['/', '/healthz', '/dashboard.js', '/api/fleet', '/api/devices']) {
      const res = await rawRequest(url, 'GET', path, { host, authorization: `Bearer ${ADMIN}` });
      t.equal(res.status, 421, `${host} ${path}`);
      t.equal(res.json?.error, 'E_HOST_NOT_ALLOWED');
      t.notMatch(res.text, /dev-1|Fleet/, 'nothing of the page or the API');
    }
  }
  const res = await rawRequest(url, 'GET', '/api/fleet', { host: `evil.example:${port}` });
  t.same(res.json, {
    error: 'E_HOST_NOT_ALLOWED',
    message: 'this server does not answer for host "evil.example"; allow it with --allowed-hosts',
  });
  const post = await rawRequest(
    url,
    'POST',
    '/api/devices',
    { host: 'evil.example', authorization: `Bearer ${ADMIN}` },
    { id: 'dev-2' },
  );
  t.equal(post.status, 421);
  t.same(
    server.registry.list().map((d) => d.id),
    ['dev-1'],
    'nothing registered through a rebound name',
  );
});

t.test('loopback names are answered on any port, in any case', async (t) => {
  const { url } = await setup(t);
  for (const host of [
    'localhost',
    'localhost:1',
    'LOCALHOST:8090',
    'localhost.',
    '127.0.0.1:9',
    '[::1]',
    '[::1]:8090',
  ])
    t.equal((await rawRequest(url, 'GET', '/healthz', { host })).status, 200, host);
  t.equal(
    (await rawRequest(url, 'GET', '/healthz', { host: '' })).status >= 400,
    true,
    'an empty Host is refused',
  );
});

t.test('names given in allowedHosts and the listen address are answered too', async (t) => {
  const { url } = await setup(t, { allowedHosts: ['control.lan', '10.0.0.5', 'fd00::5'] });
  for (const host of ['control.lan', 'Control.LAN:8090', '10.0.0.5:80', '[fd00::5]:8090'])
    t.equal((await rawRequest(url, 'GET', '/healthz', { host })).status, 200, host);
  t.equal((await rawRequest(url, 'GET', '/healthz', { host: 'other.lan' })).status, 421);

  const list = new HostAllowList(['control.lan']);
  list.add('0.0.0.0');
  t.same(list.names(), ['localhost', '127.0.0.1', '[::1]', 'control.lan', '0.0.0.0']);
  t.notOk(list.allows(undefined), 'a request without Host is refused');
  t.notOk(list.allows('control.lan:8090:1'), 'not a Host header');
  t.notOk(list.allows('control.lan/x'));
  t.notOk(list.allows('[::1'));
});
