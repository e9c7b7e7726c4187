/**
 * The device's state file is exactly as strict as the wire (what a hello carries), its resume
 * points stay within bounds, and a state file the device cannot use stops it with exit 3 and a
 * plain message, never a stack trace.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Ledger } from '@appliance/trading-core';
import { REPO_ROOT, rejectionOf } from '@appliance/test-kit';
import { emptyState, openStateStore, type ClientState } from '../src/index.js';
import { MAX_RESUME_STREAMS, MAX_SINCE_PARTITIONS } from '../src/state.js';

function stateFile(state: object): string {
  const path = join(mkdtempSync(join(tmpdir(), 'state-')), 'state.json');
  writeFileSync(path, JSON.stringify(state));
  return path;
}

const valid = (over: Partial<ClientState> = {}): ClientState => ({ ...emptyState('dev-1'), ...over });

t.test(
  'the state file is as strict as the wire: bad offsets, stream names and partitions are refused',
  async (t) => {
    const cases: [object, string][] = [
      [valid({ resume: { 'ema.1h': 'abc' } }), 'resume.ema.1h: offset: decimal Kafka offset'],
      [valid({ resume: { 'ema.1h': '1'.repeat(20) } }), 'resume.ema.1h: offset: decimal Kafka offset'],
      [valid({ resume: { 'EMA 1h': '1' } }), 'resume.EMA 1h: stream: lowercase letters, digits, . _ -'],
      [valid({ since: { p0: '1' } }), 'since.p0: partition: a partition number'],
      [valid({ since: { '0': '-1' } }), 'since.0: offset: decimal Kafka offset'],
      [
        valid({
          intents: {
            x: {
              clientOrderId: 'x',
              signalId: 's',
              stream: 'ema.1h',
              offset: '1e3',
              symbol: 'BTC/USDT',
              side: 'buy',
              amount: 1,
              expiresAt: 1,
              createdAt: 1,
              status: 'pending',
              attempts: 1,
            },
          },
        }),
        'intents.x.offset: offset: decimal Kafka offset',
      ],
      [{ ...valid(), deviceId: 'Dev 1' }, 'deviceId: deviceId: lowercase letters, digits and -'],
      [
        valid({ outbox: { next: 1, reports: [], lost: -1 } }),
        'outbox.lost: Too small: expected number to be >=0',
      ],
    ];
    for (const [state, where] of cases) {
      const path = stateFile(state);
      t.equal(
        await rejectionOf(openStateStore(path, 'dev-1')),
        `E_STATE_CORRUPT: state file ${path} does not match its schema at ${where}: refusing to trade`,
        where,
      );
    }
    const legacy = { ...valid() } as Partial<ClientState>;
    delete legacy.outbox;
    const store = await openStateStore(stateFile(legacy), 'dev-1');
    t.same(store.data.outbox, { next: 0, reports: [], lost: 0 }, 'a file from before the outbox opens');
  },
);

t.test('resume points beyond the bounds in an older state file are dropped on load', async (t) => {
  const resume: Record<string, string> = {};
  for (let i = 0; i < 3_000; i++) resume[`flood-${i}`] = '1';
  resume['ema.1h'] = '41';
  resume['ema.4h'] = '42';
  const since: Record<string, string> = {};
  for (let i = 0; i < 600; i++) since[String(599 - i)] = '7';
  const old = valid({ resume, since, lastCandle: { 'ema.1h BTC/USDT': 1, 'ema.4h ETH/USDT': 2 } });

  // Following every stream: over the bound, only streams a verified signal came from are kept.
  const all = await openStateStore(stateFile(old), 'dev-1');
  t.same(all.data.resume, { 'ema.1h': '41', 'ema.4h': '42' });
  t.equal(Object.keys(all.data.since!).length, MAX_SINCE_PARTITIONS);
  t.same(Object.keys(all.data.since!).slice(0, 2), ['0', '1'], 'the lowest partitions are kept');

  // Following some: only theirs, whatever else the file holds.
  const some = await openStateStore(stateFile(old), 'dev-1', { streams: ['ema.4h'] });
  t.same(some.data.resume, { 'ema.4h': '42' });

  // Within the bound nothing is dropped (those points may be all the device has).
  const few: Record<string, string> = {};
  for (let i = 0; i < MAX_RESUME_STREAMS; i++) few[`s-${i}`] = String(i);
  t.equal(
    Object.keys((await openStateStore(stateFile(valid({ resume: few })), 'dev-1')).data.resume).length,
    256,
  );
});

/** `signal-client run` on a state path; resolves with its exit code and what it printed on stderr. */
function run(
  statePath: string,
  opts: { uid?: number } = {},
): Promise<{ code: number | null; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'device-run-'));
  chmodSync(dir, 0o755);
  const config = join(dir, 'config.json');
  const key = 'A'.repeat(43);
  writeFileSync(
    config,
    JSON.stringify({
      deviceId: 'dev-1',
      gatewayUrl: 'ws://127.0.0.1:1',
      token: 'not-a-real-device-token',
      signalKeys: [key],
      controlKeys: [key],
      stateFile: statePath,
      statusPort: 0,
    }),
  );
  chmodSync(config, 0o644);
  // `env -u`: the test runner adds its own NODE_OPTIONS to every child (it would write its
  // process info as the child's user); the device gets only what it needs, and no NOTIFY_SOCKET.
  const node = [process.execPath, '--import', 'tsx', 'signal-client/src/main.ts'];
  const proc = spawn('env', ['-u', 'NODE_OPTIONS', ...node, 'run', '--config', config], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      EXCHANGE_API_KEY: 'k'.repeat(20),
      EXCHANGE_API_SECRET: 's'.repeat(30),
      LOG_LEVEL: 'fatal',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}),
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => proc.on('exit', (code) => resolve({ code, stderr })));
}

t.test(
  'a state file the device cannot use stops it with exit 3 and says why, without a stack trace',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'bad-state-'));
    chmodSync(dir, 0o755);
    const folder = join(dir, 'folder');
    mkdirSync(folder);
    const corrupt = join(dir, 'corrupt.json');
    writeFileSync(corrupt, '{"v":1,"deviceId":"dev-1","resu');
    const badOffset = join(dir, 'bad-offset.json');
    writeFileSync(badOffset, JSON.stringify(valid({ resume: { 'ema.1h': 'abc' } })));
    const unreadable = join(dir, 'unreadable.json');
    writeFileSync(unreadable, JSON.stringify(valid()));
    chmodSync(unreadable, 0o000);
    const underFile = join(corrupt, 'state.json'); // its folder is a file

    const cases: [string, string, { uid?: number }][] = [
      [folder, `state file ${folder} cannot be read (EISDIR)`, {}],
      [corrupt, `state file ${corrupt} is not valid JSON (truncated or corrupt)`, {}],
      [
        badOffset,
        `state file ${badOffset} does not match its schema at resume.ema.1h: offset: decimal Kafka offset`,
        {},
      ],
      [underFile, `state file ${underFile} cannot be created (${corrupt} is not a folder)`, {}],
      // root reads any file: the device runs as nobody to meet one it may not read
      [
        unreadable,
        `state file ${unreadable} cannot be read (EACCES)`,
        process.getuid?.() === 0 ? { uid: 65534 } : {},
      ],
    ];
    const results = await Promise.all(cases.map(([path, , opts]) => run(path, opts)));
    for (const [i, [, message]] of cases.entries()) {
      t.same(results[i], { code: 3, stderr: `E_STATE_CORRUPT: ${message}: refusing to trade\n` }, message);
    }
    t.equal(
      readFileSync(badOffset, 'utf8'),
      JSON.stringify(valid({ resume: { 'ema.1h': 'abc' } })),
      'left as it was',
    );
  },
);

t.test(
  "a state file written by the version before the intent journal opens with the same books and intents, and is written back in today's format",
  async (t) => {
    // fixtures/state-v1.json: written by the device's own modules at commit d9b6892 (see fixtures/README.md).
    const fixture = readFileSync(join(import.meta.dirname, 'fixtures', 'state-v1.json'), 'utf8');
    const old = JSON.parse(fixture) as Record<string, unknown> & {
      intents: Record<string, Record<string, unknown>>;
    };
    t.equal(old.v, 1, 'the fixture is of the old format');
    const path = join(mkdtempSync(join(tmpdir(), 'state-v1-')), 'state.json');
    writeFileSync(path, fixture);

    const store = await openStateStore(path, 'dev-fixture', { streams: ['ema.1h', 'ema.4h'] });
    const { v, journalSeq, intents, ...rest } = store.data;
    t.equal(v, 3);
    t.equal(journalSeq, 0);
    const { v: _v, intents: oldIntents, ...oldRest } = old;
    t.same(
      rest,
      { ...oldRest, commands: {} },
      'books, resume points, decisions, outbox, spends: as they were; no fleet command taken',
    );
    t.ok(Ledger.fromJSON(store.data.ledger).isBalanced(), 'the books balance');
    t.same(Object.keys(intents), Object.keys(oldIntents), 'every intent');
    const errors = Object.values(intents).map((i) => [i.status, i.error ?? null]);
    t.same(errors, [
      ['done', null],
      ['done', null],
      ['failed', { code: 'E_ORDER_REJECTED', message: 'Filter failure: NOTIONAL (scripted)' }],
      ['done', null],
      [
        'failed',
        {
          code: 'E_INSUFFICIENT_FUNDS',
          message: 'Account has insufficient balance for requested action. (scripted)',
        },
      ],
      [
        'abandoned',
        {
          code: 'E_EXPIRED',
          message: 'not on the exchange and the signal expired before it could be sent again',
        },
      ],
      ['pending', null],
    ]);
    for (const [id, intent] of Object.entries(intents)) {
      const { error: _e, ...fields } = intent;
      const { error: _o, ...oldFields } = oldIntents[id]!;
      t.same(fields, oldFields, `intent ${intent.signalId}: every other field as it was`);
    }

    const written = JSON.parse(readFileSync(path, 'utf8')) as ClientState;
    t.equal(written.v, 3, 'written back at once in the new format');
    t.same(written, store.data);
    t.equal(readFileSync(`${path}.intents`).length, 0, 'with an empty intent journal beside it');
    const again = await openStateStore(path, 'dev-fixture', { streams: ['ema.1h', 'ema.4h'] });
    t.same(again.data, store.data, 'and it opens the same the next time');
  },
);

t.test(
  'a state file of format 2 (before fleet commands) opens with no command taken, written back as 3',
  async (t) => {
    const path = join(mkdtempSync(join(tmpdir(), 'state-v2-')), 'state.json');
    const first = await openStateStore(path, 'dev-2xx');
    first.data.fills = 4;
    await first.write();
    await first.close();
    const v2 = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    delete v2.commands;
    v2.v = 2;
    writeFileSync(path, JSON.stringify(v2));
    const store = await openStateStore(path, 'dev-2xx');
    t.equal(store.data.v, 3);
    t.same(store.data.commands, {});
    t.equal(store.data.fills, 4, 'the rest as it was');
    const written = JSON.parse(readFileSync(path, 'utf8')) as ClientState;
    t.equal(written.v, 3, 'written back at once');
    t.same(written.commands, {});
    await store.close();
  },
);

t.test('a state file with a malformed command record is refused', async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'state-cmd-')), 'state.json');
  const first = await openStateStore(path, 'dev-3xx');
  await first.write();
  await first.close();
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  raw.commands = { 'cmd-00000001': { id: 'cmd-00000001', action: 'sell-all' } };
  writeFileSync(path, JSON.stringify(raw));
  await t.rejects(openStateStore(path, 'dev-3xx'), { code: 'E_STATE_CORRUPT' });
});
