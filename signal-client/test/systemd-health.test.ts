import { constants } from 'node:os';
import t from 'tap';
import { errorOf, waitFor } from '@appliance/test-kit';
import {
  createHealthMonitor,
  createNotifier,
  describeActivity,
  healthy,
  notifyAddress,
  statusText,
  watchdogInterval,
  MAX_STATUS_LENGTH,
  type HealthInputs,
  type Notifier,
  type NotifyError,
  type NotifyTransport,
} from '../src/systemd/index.js';

const NOW = 1_700_000_000_000;
const LIMITS = { maxLoopLagMs: 2_000, reconnectGraceMs: 600_000 };
const fine: HealthInputs = {
  loopLagMs: 12,
  journal: { lastOkAt: NOW - 5_000, lastFailedAt: null },
  gateway: { connected: true, since: NOW - 3_600_000 },
};

t.test('healthy() decides from loop lag, the journal and the gateway', async (t) => {
  const cases: [string, Partial<HealthInputs>, string[]][] = [
    ['all fine', {}, []],
    ['lag at the limit is fine', { loopLagMs: 2_000 }, []],
    ['lag over the limit', { loopLagMs: 2_345.6 }, ['event loop lag 2346 ms > 2000 ms']],
    ['lag not measurable', { loopLagMs: NaN }, ['event loop lag NaN ms > 2000 ms']],
    ['no journal write yet is fine', { journal: { lastOkAt: null, lastFailedAt: null } }, []],
    [
      'the last journal write failed',
      { journal: { lastOkAt: NOW - 60_000, lastFailedAt: NOW - 30_000, lastError: 'ENOSPC' } },
      ['journal write failed 30 s ago: ENOSPC'],
    ],
    [
      'the only journal write failed',
      { journal: { lastOkAt: null, lastFailedAt: NOW - 1_000 } },
      ['journal write failed 1 s ago'],
    ],
    [
      'a failure followed by a success has recovered',
      { journal: { lastOkAt: NOW - 1_000, lastFailedAt: NOW - 30_000, lastError: 'EIO' } },
      [],
    ],
    ['disconnected within the grace', { gateway: { connected: false, since: NOW - 600_000 } }, []],
    [
      'disconnected past the grace',
      { gateway: { connected: false, since: NOW - 600_001 } },
      ['gateway disconnected for 600 s (grace 600 s)'],
    ],
    [
      'everything wrong at once, every reason given',
      {
        loopLagMs: 5_000,
        journal: { lastOkAt: null, lastFailedAt: NOW, lastError: 'EROFS' },
        gateway: { connected: false, since: NOW - 3_600_000 },
      },
      [
        'event loop lag 5000 ms > 2000 ms',
        'journal write failed 0 s ago: EROFS',
        'gateway disconnected for 3600 s (grace 600 s)',
      ],
    ],
  ];
  for (const [name, over, reasons] of cases) {
    t.same(healthy({ ...fine, ...over }, NOW, LIMITS), { ok: reasons.length === 0, reasons }, name);
  }
});

t.test('describeActivity says what the client is doing in one line', async (t) => {
  t.equal(describeActivity({ phase: 'starting' }), 'starting: loading state');
  t.equal(describeActivity({ phase: 'reconciling', intents: 2 }), 'reconciling 2 intents');
  t.equal(describeActivity({ phase: 'reconciling', intents: 1 }), 'reconciling 1 intent');
  t.equal(describeActivity({ phase: 'connecting', gateway: 'gw-1' }), 'connecting to gw-1');
  t.equal(
    describeActivity({ phase: 'connected', gateway: 'gw-1', decisionsToday: 14 }),
    'connected to gw-1, 14 decisions today',
  );
  t.equal(
    describeActivity({ phase: 'connected', gateway: 'gw-2', decisionsToday: 1 }, 'buying halted'),
    'connected to gw-2, 1 decision today; buying halted',
  );
  t.equal(describeActivity({ phase: 'disconnected' }), 'disconnected: reconnecting');
  t.equal(describeActivity({ phase: 'stopping' }), 'stopping');
});

t.test('NOTIFY_SOCKET: a path as is, @name as an abstract address, anything else refused', async (t) => {
  t.same([...notifyAddress('/run/systemd/notify')], [...Buffer.from('/run/systemd/notify')]);
  t.same([...notifyAddress('@sd-notify')], [0, ...Buffer.from('sd-notify')]);
  t.equal(
    errorOf(() => notifyAddress('vsock:2:1234')),
    'E_NOTIFY_ADDRESS: NOTIFY_SOCKET="vsock:2:1234" is not an absolute unix socket path or @abstract name of at most 107 bytes',
  );
  t.match(
    errorOf(() => notifyAddress(`/${'x'.repeat(107)}`)),
    /^E_NOTIFY_ADDRESS: /,
  );
  t.equal(notifyAddress(`/${'x'.repeat(106)}`).length, 107, 'the longest path fits');
  t.equal(notifyAddress(`@${'x'.repeat(107)}`).length, 108, 'the longest abstract name fits');
  t.match(
    errorOf(() => notifyAddress('@')),
    /^E_NOTIFY_ADDRESS: /,
  );
});

t.test('the watchdog interval is half of WATCHDOG_USEC, and only for this pid', async (t) => {
  t.equal(watchdogInterval({ WATCHDOG_USEC: '30000000' }, 42), 15_000);
  t.equal(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42), 15_000);
  t.equal(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '41' }, 42), null, 'another pid');
  t.equal(watchdogInterval({}, 42), null);
  t.equal(watchdogInterval({ WATCHDOG_USEC: 'soon' }, 42), null);
  t.equal(watchdogInterval({ WATCHDOG_USEC: '0' }, 42), null);
});

t.test('STATUS= text is one bounded line', async (t) => {
  t.equal(statusText('connected\nREADY=1'), 'connected READY=1', 'a newline cannot add an assignment');
  t.equal(statusText('\ttabs\r\n and\u0000 nul '), 'tabs and nul');
  const long = statusText('x'.repeat(500));
  t.equal(long.length, MAX_STATUS_LENGTH);
  t.ok(long.endsWith('…'));
});

/** A transport that records what it was asked to send and answers from a script. */
function fakeTransport(answers: number[] = []) {
  const sent: { address: string; message: string }[] = [];
  const transport: NotifyTransport = {
    send(address, message) {
      sent.push({ address: address.toString('latin1'), message: message.toString() });
      return answers.shift() ?? message.length;
    },
    close() {},
    protect: () => 0,
  };
  return { sent, transport };
}

t.test('createNotifier sends the sd_notify assignments', async (t) => {
  const { sent, transport } = fakeTransport();
  const n = createNotifier({
    env: { NOTIFY_SOCKET: '@sd', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' },
    pid: 7,
    transport: () => transport,
  });
  t.equal(n.enabled, true);
  t.equal(n.watchdogIntervalMs, 15_000);
  t.equal(n.ready('reconciling 2 intents'), true);
  n.ready();
  n.status('connected to gw-1, 14 decisions today');
  n.watchdog();
  n.extendTimeout(20_000, 'reconciling 9 intents');
  n.stopping('stopping');
  t.same(
    sent.map((s) => s.message),
    [
      'READY=1\nSTATUS=reconciling 2 intents',
      'READY=1',
      'STATUS=connected to gw-1, 14 decisions today',
      'WATCHDOG=1',
      'EXTEND_TIMEOUT_USEC=20000000\nSTATUS=reconciling 9 intents',
      'STOPPING=1\nSTATUS=stopping',
    ],
  );
  t.ok(sent.every((s) => s.address === '\u0000sd'));
});

t.test('a failed send is reported, never thrown; READY=1 is retried when PID 1 is busy', async (t) => {
  const { sent, transport } = fakeTransport([-constants.errno.ECONNREFUSED, -constants.errno.EAGAIN]);
  const errors: NotifyError[] = [];
  const n = createNotifier({
    env: { NOTIFY_SOCKET: '/run/systemd/notify' },
    transport: () => transport,
    onError: (e) => errors.push(e),
  });
  t.equal(n.watchdog(), false);
  t.same(
    errors.map((e) => `${e.code}: ${e.message}`),
    ['E_NOTIFY_SEND: sending WATCHDOG: ECONNREFUSED'],
  );
  t.equal(n.ready('up'), false, 'first attempt met EAGAIN');
  await waitFor(() => sent.length >= 3, 'the retried READY=1');
  t.same(
    sent.map((s) => s.message),
    ['WATCHDOG=1', 'READY=1\nSTATUS=up', 'READY=1\nSTATUS=up'],
    'retried once, then it went through',
  );
  t.equal(errors.length, 1, 'a retried message that got through is no error');
});

t.test('createNotifier refuses a NOTIFY_SOCKET it cannot use, and a missing addon', async (t) => {
  t.equal(
    errorOf(() =>
      createNotifier({ env: { NOTIFY_SOCKET: 'relative/path' }, transport: () => fakeTransport().transport }),
    ),
    'E_NOTIFY_ADDRESS: NOTIFY_SOCKET="relative/path" is not an absolute unix socket path or @abstract name of at most 107 bytes',
  );
  const { loadNotifyAddon } = await import('../src/systemd/addon.js');
  t.equal(
    errorOf(() => loadNotifyAddon(['/nonexistent/sd_notify.node'])),
    'E_NOTIFY_ADDON: sd_notify.node not found (looked in /nonexistent/sd_notify.node): ship it beside the executable, ' +
      'or build it for a checkout with `node --import tsx signal-client/src/systemd/native/build.ts`',
  );
});

/** A notifier that records calls, for the monitor. */
function recordingNotifier(watchdogIntervalMs: number | null = 15_000) {
  const calls: string[] = [];
  const notifier: Notifier = {
    enabled: true,
    watchdogIntervalMs,
    ready: () => true,
    status: (text) => (calls.push(`STATUS=${text}`), true),
    watchdog: () => (calls.push('WATCHDOG=1'), true),
    stopping: () => true,
    extendTimeout: () => true,
    close: () => {},
  };
  return { calls, notifier };
}

t.test('the monitor pings only when healthy and sends STATUS= when it changes', async (t) => {
  const { calls, notifier } = recordingNotifier();
  let now = NOW;
  let connected = true;
  let since = NOW;
  let doing = 'connected to gw-1, 0 decisions today';
  const changes: boolean[] = [];
  const m = createHealthMonitor({
    notifier,
    journal: () => ({ lastOkAt: null, lastFailedAt: null }),
    gateway: () => ({ connected, since }),
    status: () => doing,
    now: () => now,
    onChange: (v) => changes.push(v.ok),
  });
  t.equal(m.last, null);
  m.check();
  m.check(); // same status: not sent again
  doing = 'connected to gw-1, 1 decision today';
  m.check();
  connected = false;
  since = now;
  doing = 'disconnected: reconnecting';
  now += 600_001;
  m.check();
  t.same(m.last, { ok: false, reasons: ['gateway disconnected for 600 s (grace 600 s)'] });
  connected = true;
  since = now;
  doing = 'connected to gw-2, 1 decision today';
  m.check();
  t.same(calls, [
    'WATCHDOG=1',
    'STATUS=connected to gw-1, 0 decisions today',
    'WATCHDOG=1',
    'WATCHDOG=1',
    'STATUS=connected to gw-1, 1 decision today',
    'STATUS=unhealthy: gateway disconnected for 600 s (grace 600 s) (disconnected: reconnecting)',
    'WATCHDOG=1',
    'STATUS=connected to gw-2, 1 decision today',
  ]);
  t.same(changes, [false, true], 'told when it turned unhealthy and back');
});

t.test('a callback that throws makes the device unhealthy, not crash', async (t) => {
  const { calls, notifier } = recordingNotifier();
  const m = createHealthMonitor({
    notifier,
    journal: () => {
      throw new Error('store closed');
    },
    gateway: () => ({ connected: true, since: NOW }),
  });
  t.same(m.check(), { ok: false, reasons: ['health check failed: store closed'] });
  t.same(calls, ['STATUS=unhealthy: health check failed: store closed']);
});

t.test('the monitor checks at a quarter of WatchdogSec, and is unref-ed', async (t) => {
  const { calls, notifier } = recordingNotifier(40); // WATCHDOG_USEC=80000: ping every 40 ms
  const m = createHealthMonitor({
    notifier,
    journal: () => ({ lastOkAt: null, lastFailedAt: null }),
    gateway: () => ({ connected: true, since: Date.now() }),
  });
  // The timer itself is recorded, not waited for: what matters is the period asked for, that it
  // does not hold the process up, and that each tick pings.
  const real = globalThis.setInterval;
  const timers: { ms: number | undefined; tick: () => void; unrefs: number }[] = [];
  globalThis.setInterval = ((fn: () => void, ms?: number) => {
    const timer = { ms, tick: fn, unrefs: 0 };
    timers.push(timer);
    return { unref: () => void timer.unrefs++ };
  }) as unknown as typeof setInterval;
  try {
    m.start();
  } finally {
    globalThis.setInterval = real;
  }
  t.teardown(() => m.stop());
  t.match(timers, [{ ms: 20, unrefs: 1 }], 'one timer, every WatchdogSec / 4 = 20 ms, unref-ed');
  const before = calls.filter((c) => c === 'WATCHDOG=1').length;
  for (let i = 0; i < 3; i++) timers[0]!.tick();
  t.equal(calls.filter((c) => c === 'WATCHDOG=1').length - before, 3, 'each check pings');
});
