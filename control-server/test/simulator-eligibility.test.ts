// Eligibility from the simulator: signed submissions, refusals that change nothing, operator
// approval, pins and blocks, and the history that survives a restart.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import {
  KeyRing,
  TOPICS,
  createControl,
  createSimulatorResult,
  generateSigner,
  verifyControl,
  type Bus,
  type Control,
  type Signer,
  type SimulatorResultDraft,
} from '@appliance/protocol';
import { waitFor } from '@appliance/test-kit';
import { startControlServer, type ControlServerOptions } from '../src/index.js';
import { ELIGIBILITY_HISTORY_FILE } from '../src/eligibility-history.js';
import { DATABASE_FILE, Store } from '../src/store/database.js';
import { ADMIN, logger, setup } from './helpers.js';

type EligibilityControl = Extract<Control, { kind: 'eligibility' }>;

const sim = generateSigner();
const stranger = generateSigner();

/** A signed run: on `ema.1h`, ETH/USDT eligible and BTC/USDT not, unless told otherwise. */
function run(over: Partial<SimulatorResultDraft> = {}, signer: Signer = sim) {
  const at = over.at ?? Date.now();
  return createSimulatorResult(
    {
      runId: 'run-1',
      at,
      end: at - 60_000,
      node: 'sim-a',
      decisions: [
        {
          stream: 'ema.1h',
          symbol: 'BTC/USDT',
          eligible: false,
          reason: 'max drawdown 31% over 6 months (limit 20%)',
          metrics: { returnPct: -4.2, maxDrawdownPct: 31, trades: 40 },
        },
        { stream: 'ema.1h', symbol: 'ETH/USDT', eligible: true, reason: 'positive on 1m, 3m, 6m and 1y' },
      ],
      ...over,
    },
    signer,
  );
}

/** Every control message on the bus, verified with the control server's key. */
async function watchControl(bus: Bus, control: Signer) {
  const seen: Control[] = [];
  const sub = await bus.subscribe({
    topic: TOPICS.control,
    from: 'earliest',
    onMessage: (m) =>
      void seen.push(
        verifyControl(JSON.parse(m.value.toString()), KeyRing.of(control.publicKey), { now: Date.now() }),
      ),
  });
  await sub.ready;
  const eligibility = (stream: string) =>
    seen.filter((c): c is EligibilityControl => c.kind === 'eligibility' && c.body.stream === stream);
  return {
    seen,
    eligibility,
    latest: (stream: string) => eligibility(stream).at(-1),
    /** Waits for the next heartbeat after a full re-issue, so whatever was going to be published is. */
    async settle(server: { control: { refresh(): Promise<void> } }) {
      const before = seen.filter((c) => c.kind === 'heartbeat').length;
      await server.control.refresh();
      await waitFor(() => seen.filter((c) => c.kind === 'heartbeat').length > before, 'a heartbeat');
    },
  };
}

async function start(t: Test, options: Partial<ControlServerOptions> = {}) {
  const env = await setup(t, { paper: false, simulatorKeys: KeyRing.of(sim.publicKey), ...options });
  const watch = await watchControl(env.bus, env.signer);
  const submit = (body: unknown) => env.call('POST', '/api/simulator/results', body, 'no-admin-token-needed');
  return { ...env, watch, submit };
}

t.test(
  'a signed submission is taken and published, signed by the control server, with reasons and run',
  async (t) => {
    const { submit, watch, call } = await start(t);
    await waitFor(() => watch.latest('ema.1h') !== undefined, 'the seeded eligibility');
    t.same(
      watch.latest('ema.1h')!.body,
      { stream: 'ema.1h', symbols: ['BTC/USDT'] },
      'the --eligibility seed, in the old format',
    );

    const result = run();
    const res = await submit(result);
    t.same(res, {
      status: 201,
      body: { runId: 'run-1', changes: [{ changeId: 'run-1~ema.1h', stream: 'ema.1h', outcome: 'applied' }] },
    });
    await waitFor(() => watch.latest('ema.1h')?.body.run?.id === 'run-1', 'the new eligibility');
    t.same(watch.latest('ema.1h')!.body, {
      stream: 'ema.1h',
      symbols: ['ETH/USDT'],
      reasons: {
        'BTC/USDT': 'max drawdown 31% over 6 months (limit 20%)',
        'ETH/USDT': 'positive on 1m, 3m, 6m and 1y',
      },
      run: { id: 'run-1', at: result.at },
    });

    const view = (await call('GET', '/api/eligibility')).body;
    t.match(view, {
      streams: {
        'ema.1h': { symbols: ['ETH/USDT'], approval: 'auto', source: 'simulator', run: { id: 'run-1' } },
      },
      pending: [],
      overrides: [],
      latest: [
        {
          stream: 'ema.1h',
          symbol: 'BTC/USDT',
          eligible: false,
          runId: 'run-1',
          node: 'sim-a',
          status: 'applied',
          metrics: { maxDrawdownPct: 31 },
        },
        { stream: 'ema.1h', symbol: 'ETH/USDT', eligible: true, status: 'applied' },
      ],
    });
    t.same((await call('GET', '/api/fleet')).body.eligibility, {
      streams: { 'ema.1h': ['ETH/USDT'] },
      warning: null,
    });
    const history = (await call('GET', '/api/eligibility/history')).body.entries as Record<string, unknown>[];
    t.match(history, [
      {
        type: 'submission',
        seq: 1,
        runId: 'run-1',
        node: 'sim-a',
        kid: sim.kid,
        sig: result.sig,
        outcome: { 'ema.1h': 'applied' },
      },
    ]);
  },
);

t.test('hostile or broken submissions are refused with their code and change nothing', async (t) => {
  const { submit, watch, call, server } = await start(t, { simulatorMaxAgeMs: 600_000 });
  await waitFor(() => watch.latest('ema.1h') !== undefined, 'the seeded eligibility');
  const viewBefore = (await call('GET', '/api/eligibility')).body;
  const good = run({ runId: 'run-ok' });
  const { sig: _sig, ...unsigned } = good;
  const forgedUnderSimKid = { ...run({ runId: 'run-forged' }, stranger), kid: sim.kid };
  const tampered = {
    ...good,
    decisions: good.decisions.map((d) => ({ ...d, eligible: true, reason: 'all good' })),
  };
  const controlMessage = createControl(
    {
      kind: 'eligibility',
      version: 1,
      ts: Date.now(),
      ttlMs: 60_000,
      origin: 'x',
      body: { stream: 'ema.1h', symbols: ['DOGE/USDT'] },
    },
    sim,
  );
  const cases: [string, unknown, number, string, RegExp][] = [
    ['unsigned', unsigned, 401, 'E_UNSIGNED', /must be signed by a simulator node's key/],
    ['no body at all', undefined, 400, 'E_MALFORMED', /expected an object/],
    [
      'signed by an unknown key',
      run({ runId: 'run-stranger' }, stranger),
      403,
      'E_UNKNOWN_KEY',
      new RegExp(`signed with unknown key ${stranger.kid}`),
    ],
    [
      'signed by another key under the simulator kid',
      forgedUnderSimKid,
      403,
      'E_BAD_SIGNATURE',
      /signature does not verify/,
    ],
    ['decisions altered after signing', tampered, 403, 'E_BAD_SIGNATURE', /signature does not verify/],
    [
      'a signature of another domain (a control message)',
      controlMessage,
      400,
      'E_MALFORMED',
      /malformed simulator-result/,
    ],
    [
      'stale',
      run({ runId: 'run-old', at: Date.now() - 700_000 }),
      400,
      'E_EXPIRED',
      /simulator result expired/,
    ],
    [
      'from the future',
      run({ runId: 'run-future', at: Date.now() + 120_000 }),
      400,
      'E_NOT_YET_VALID',
      /in the future/,
    ],
    [
      'bad schema: a symbol not in ccxt form',
      run({
        runId: 'run-bad',
        decisions: [{ stream: 'ema.1h', symbol: 'btc', eligible: true, reason: 'x' }],
      }),
      400,
      'E_MALFORMED',
      /decisions\.0\.symbol: symbol: unified ccxt form/,
    ],
    [
      'bad schema: the same symbol decided twice',
      run({
        runId: 'run-twice',
        decisions: [
          { stream: 'ema.1h', symbol: 'ETH/USDT', eligible: true, reason: 'x' },
          { stream: 'ema.1h', symbol: 'ETH/USDT', eligible: false, reason: 'y' },
        ],
      }),
      400,
      'E_MALFORMED',
      /ema\.1h ETH\/USDT is decided twice/,
    ],
    [
      'bad schema: a reason longer than 300 characters',
      run({
        runId: 'run-long',
        decisions: [{ stream: 'ema.1h', symbol: 'ETH/USDT', eligible: true, reason: 'x'.repeat(301) }],
      }),
      400,
      'E_MALFORMED',
      /decisions\.0\.reason/,
    ],
    [
      'bad schema: an unknown field',
      { ...good, admin: true },
      400,
      'E_MALFORMED',
      /malformed simulator-result/,
    ],
    ['oversize', { ...good, pad: 'x'.repeat(1_100_000) }, 413, 'E_TOO_LARGE', /Request body is too large/],
  ];
  for (const [name, body, status, code, message] of cases) {
    const res = await submit(body);
    t.equal(res.status, status, `${name}: ${status}`);
    t.equal(res.body.error, code, `${name}: ${code}`);
    t.match(res.body.message, message, `${name}: says why`);
  }
  t.same((await call('GET', '/api/eligibility')).body, viewBefore, 'nothing changed');
  t.same((await call('GET', '/api/eligibility/history')).body, { entries: [] }, 'nothing recorded');
  await watch.settle(server);
  t.notOk(
    watch.eligibility('ema.1h').some((c) => c.body.run !== undefined || c.body.symbols.includes('DOGE/USDT')),
    'nothing published from them',
  );

  t.equal((await submit(good)).status, 201, 'the genuine one is taken');
  const afterGood = (await call('GET', '/api/eligibility')).body;
  const resigned = run({
    runId: 'run-ok',
    decisions: [{ stream: 'ema.1h', symbol: 'BTC/USDT', eligible: true, reason: 'again' }],
  });
  for (const [name, body] of [
    ['the same submission again', good],
    ['the same run id, re-signed with other decisions', resigned],
  ] as const) {
    t.same(
      await submit(body),
      {
        status: 409,
        body: { error: 'E_REPLAYED', message: 'simulator run run-ok was already received' },
      },
      `replay refused: ${name}`,
    );
  }
  t.same((await call('GET', '/api/eligibility')).body, afterGood, 'the replays changed nothing');
  t.equal(((await call('GET', '/api/eligibility/history')).body.entries as unknown[]).length, 1);
});

t.test('without simulator keys every submission is refused', async (t) => {
  const { submit } = await start(t, { simulatorKeys: new KeyRing() });
  t.match(await submit(run()), { status: 403, body: { error: 'E_UNKNOWN_KEY' } });
});

t.test('a run older than the one in force does not roll eligibility back', async (t) => {
  const { submit, call } = await start(t);
  const now = Date.now();
  t.equal((await submit(run({ runId: 'run-new', at: now }))).status, 201);
  const older = run({
    runId: 'run-older',
    at: now - 30_000,
    decisions: [{ stream: 'ema.1h', symbol: 'BTC/USDT', eligible: true, reason: 'older verdict' }],
  });
  t.match(await submit(older), {
    status: 201,
    body: { changes: [{ stream: 'ema.1h', outcome: 'superseded' }] },
  });
  t.match((await call('GET', '/api/eligibility')).body, {
    streams: { 'ema.1h': { symbols: ['ETH/USDT'], run: { id: 'run-new' } } },
  });
});

t.test('a manual stream publishes nothing until an operator approves; a rejected change never', async (t) => {
  const { submit, watch, call, server } = await start(t, {
    eligibility: { 'ema.1h': ['BTC/USDT'], 'mandate-x.1h': ['BTC/USDT'] },
    eligibilityApproval: { 'mandate-x.1h': 'manual' },
  });
  const decisions = (symbol: string, reason: string) => [
    { stream: 'mandate-x.1h', symbol, eligible: true, reason },
    { stream: 'ema.1h', symbol, eligible: true, reason },
  ];
  const r1 = run({ runId: 'run-m1', decisions: decisions('ETH/USDT', 'steady on every horizon') });
  t.same(await submit(r1), {
    status: 201,
    body: {
      runId: 'run-m1',
      changes: [
        { changeId: 'run-m1~mandate-x.1h', stream: 'mandate-x.1h', outcome: 'pending' },
        { changeId: 'run-m1~ema.1h', stream: 'ema.1h', outcome: 'applied' },
      ],
    },
  });
  await waitFor(() => watch.latest('ema.1h')?.body.run?.id === 'run-m1', 'the auto stream');
  await watch.settle(server);
  t.notOk(
    watch.eligibility('mandate-x.1h').some((c) => c.body.run !== undefined),
    'the manual stream is published unchanged',
  );
  t.same(watch.latest('mandate-x.1h')!.body, { stream: 'mandate-x.1h', symbols: ['BTC/USDT'] });
  const view = (await call('GET', '/api/eligibility')).body;
  t.match(view, {
    streams: { 'mandate-x.1h': { symbols: ['BTC/USDT'], approval: 'manual', source: 'flag' } },
    pending: [
      {
        changeId: 'run-m1~mandate-x.1h',
        stream: 'mandate-x.1h',
        runId: 'run-m1',
        node: 'sim-a',
        wouldAdd: ['ETH/USDT'],
        wouldRemove: ['BTC/USDT'],
        decisions: [{ symbol: 'ETH/USDT', eligible: true, reason: 'steady on every horizon' }],
      },
    ],
    latest: [
      { stream: 'ema.1h', symbol: 'ETH/USDT', status: 'applied' },
      { stream: 'mandate-x.1h', symbol: 'ETH/USDT', status: 'pending' },
    ],
  });

  const approved = await call('POST', '/api/eligibility/pending/run-m1~mandate-x.1h/approve', {
    operator: 'alice',
    reason: 'checked the 1y report',
  });
  t.same(approved, {
    status: 200,
    body: {
      approved: 'run-m1~mandate-x.1h',
      eligibility: {
        symbols: ['ETH/USDT'],
        reasons: { 'ETH/USDT': 'steady on every horizon' },
        run: { id: 'run-m1', at: r1.at },
      },
    },
  });
  await waitFor(() => watch.latest('mandate-x.1h')?.body.run?.id === 'run-m1', 'the approved change');
  t.same(watch.latest('mandate-x.1h')!.body.symbols, ['ETH/USDT']);

  // The next run for the mandate is rejected: it never reaches a device.
  const r2 = run({
    runId: 'run-m2',
    decisions: [{ stream: 'mandate-x.1h', symbol: 'DOGE/USDT', eligible: true, reason: 'one lucky month' }],
  });
  t.equal((await submit(r2)).status, 201);
  t.same(
    await call('POST', '/api/eligibility/pending/run-m2~mandate-x.1h/reject', {}),
    {
      status: 400,
      body: { error: 'E_INVALID', message: 'reason: Invalid input: expected string, received undefined' },
    },
    'a rejection says why',
  );
  t.same(
    await call('POST', '/api/eligibility/pending/run-m2~mandate-x.1h/reject', {
      operator: 'bob',
      reason: 'one good month is luck',
    }),
    { status: 200, body: { rejected: 'run-m2~mandate-x.1h' } },
  );
  await watch.settle(server);
  t.notOk(
    watch.seen.some(
      (c) =>
        c.kind === 'eligibility' && (c.body.run?.id === 'run-m2' || c.body.symbols.includes('DOGE/USDT')),
    ),
    'the rejected change was never published',
  );
  t.same(await call('POST', '/api/eligibility/pending/run-m2~mandate-x.1h/approve', {}), {
    status: 409,
    body: {
      error: 'E_CHANGE_NOT_PENDING',
      message:
        'eligibility change run-m2~mandate-x.1h is not waiting for approval (applied, rejected or superseded)',
    },
  });
  t.same(await call('POST', '/api/eligibility/pending/nope~mandate-x.1h/approve', {}), {
    status: 404,
    body: { error: 'E_CHANGE_UNKNOWN', message: 'no eligibility change nope~mandate-x.1h' },
  });
  const history = (await call('GET', '/api/eligibility/history')).body.entries as Record<string, unknown>[];
  t.match(history.slice(0, 2), [
    {
      type: 'rejected',
      changeId: 'run-m2~mandate-x.1h',
      reason: 'one good month is luck',
      by: { operator: 'bob', origin: { remote: String } },
    },
    { type: 'submission', runId: 'run-m2', outcome: { 'mandate-x.1h': 'pending' } },
  ]);
  t.match(history[2], { type: 'approved', by: { operator: 'alice' }, reason: 'checked the 1y report' });
  t.match((await call('GET', '/api/eligibility')).body, {
    pending: [],
    latest: [{}, { symbol: 'DOGE/USDT', status: 'rejected' }, { symbol: 'ETH/USDT', status: 'applied' }],
  });
});

t.test('a pin or a block overrides the simulator and carries the operator reason', async (t) => {
  const { submit, watch, call } = await start(t);
  t.equal((await submit(run())).status, 201);
  const pin = await call('POST', '/api/eligibility/overrides', {
    stream: 'ema.1h',
    symbol: 'BTC/USDT',
    mode: 'pin',
    reason: 'core holding of the family fund',
    operator: 'alice',
  });
  t.match(pin, {
    status: 200,
    body: {
      stream: 'ema.1h',
      symbol: 'BTC/USDT',
      mode: 'pin',
      eligibility: { symbols: ['BTC/USDT', 'ETH/USDT'] },
    },
  });
  t.equal(
    (
      await call('POST', '/api/eligibility/overrides', {
        stream: 'ema.1h',
        symbol: 'ETH/USDT',
        mode: 'block',
        reason: 'exchange delisting notice',
        operator: 'alice',
      })
    ).status,
    200,
  );
  const expected = {
    symbols: ['BTC/USDT'],
    reasons: {
      'BTC/USDT': 'pinned by the operator: core holding of the family fund',
      'ETH/USDT': 'blocked by the operator: exchange delisting notice',
    },
  };
  await waitFor(
    () => watch.latest('ema.1h')?.body.reasons?.['ETH/USDT']?.startsWith('blocked') === true,
    'the block',
  );
  t.match(watch.latest('ema.1h')!.body, { ...expected, run: { id: 'run-1' } });

  // The simulator's next run agrees with neither: the operator's word stands.
  t.equal((await submit(run({ runId: 'run-2' }))).status, 201);
  await waitFor(() => watch.latest('ema.1h')?.body.run?.id === 'run-2', 'run-2');
  t.match(watch.latest('ema.1h')!.body, expected);
  t.match((await call('GET', '/api/eligibility')).body, {
    overrides: [
      {
        stream: 'ema.1h',
        symbol: 'BTC/USDT',
        mode: 'pin',
        reason: 'core holding of the family fund',
        by: { operator: 'alice' },
      },
      { stream: 'ema.1h', symbol: 'ETH/USDT', mode: 'block', reason: 'exchange delisting notice' },
    ],
  });

  t.same(
    await call('POST', '/api/eligibility/overrides', {
      stream: 'ema.1h',
      symbol: 'ETH/USDT',
      mode: 'block',
      reason: '',
    }),
    {
      status: 400,
      body: { error: 'E_INVALID', message: 'reason: reason: say why' },
    },
  );
  t.equal(
    (
      await call('POST', '/api/eligibility/overrides', {
        stream: 'ema.1h',
        symbol: 'ETH/USDT',
        mode: 'clear',
        reason: 'delisting withdrawn',
      })
    ).status,
    200,
  );
  await waitFor(
    () => watch.latest('ema.1h')?.body.symbols.includes('ETH/USDT') === true,
    'the block cleared',
  );
  t.same(watch.latest('ema.1h')!.body.reasons!['ETH/USDT'], 'positive on 1m, 3m, 6m and 1y');
});

t.test('a restart rebuilds the eligibility in force and keeps the history', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-elig-'));
  const options = {
    dataDir: dir,
    eligibilityApproval: { 'mandate-x.1h': 'manual' as const },
  };
  const first = await start(t, options);
  const r1 = run();
  t.equal((await first.submit(r1)).status, 201);
  await first.call('POST', '/api/eligibility/overrides', {
    stream: 'ema.1h',
    symbol: 'SOL/USDT',
    mode: 'pin',
    reason: 'asked by the family',
  });
  t.equal(
    (
      await first.submit(
        run({
          runId: 'run-p',
          decisions: [{ stream: 'mandate-x.1h', symbol: 'ETH/USDT', eligible: true, reason: 'waiting' }],
        }),
      )
    ).status,
    201,
  );
  const view = (await first.call('GET', '/api/eligibility')).body;
  const history = (await first.call('GET', '/api/eligibility/history')).body;
  await first.server.close();

  // Another --eligibility on the next start: the history, not the seed, says what is in force.
  const second = await start(t, {
    ...options,
    eligibility: { 'ema.1h': ['XRP/USDT'], 'other.1h': ['BTC/USDT'] },
  });
  const again = (await second.call('GET', '/api/eligibility')).body;
  t.same(again.streams, {
    ...(view.streams as object),
    'other.1h': { symbols: ['BTC/USDT'], approval: 'auto', source: 'flag' },
  });
  t.same(again.pending, view.pending, 'the change waiting for approval still waits');
  t.same(again.overrides, view.overrides);
  t.same(again.latest, view.latest);
  t.same((await second.call('GET', '/api/eligibility/history')).body, history);
  await waitFor(() => second.watch.latest('ema.1h')?.body.run?.id === 'run-1', 'published at start');
  t.same(
    second.watch.eligibility('ema.1h')[0]!.body,
    {
      stream: 'ema.1h',
      symbols: ['ETH/USDT', 'SOL/USDT'],
      reasons: {
        'BTC/USDT': 'max drawdown 31% over 6 months (limit 20%)',
        'ETH/USDT': 'positive on 1m, 3m, 6m and 1y',
        'SOL/USDT': 'pinned by the operator: asked by the family',
      },
      run: { id: 'run-1', at: r1.at },
    },
    'the first eligibility published after the restart is the one in force',
  );
  t.match(
    await second.submit(r1),
    { status: 409, body: { error: 'E_REPLAYED' } },
    'a run taken before the restart is still a replay',
  );
  t.equal(
    (await second.call('POST', '/api/eligibility/pending/run-p~mandate-x.1h/approve', { operator: 'carol' }))
      .status,
    200,
    'and the waiting change can be approved',
  );
  t.same(
    second.server.store.db
      .prepare('SELECT type FROM eligibility_history ORDER BY seq')
      .all()
      .map((r) => (r as { type: string }).type),
    ['submission', 'override', 'submission', 'approved'],
  );
});

t.test(
  'an old history file: a last line cut short by a crash is dropped; a corrupt line stops the start and imports nothing',
  async (t) => {
    // The entry as today's file holds it: one JSON line, taken from a server that wrote it.
    const first = await start(t);
    t.equal((await first.submit(run())).status, 201);
    const line = (
      first.server.store.db.prepare('SELECT entry FROM eligibility_history').get() as { entry: string }
    ).entry;

    const dir = mkdtempSync(join(tmpdir(), 'cs-elig-'));
    const file = join(dir, ELIGIBILITY_HISTORY_FILE);
    writeFileSync(file, `${line}\n{"type":"override","seq":2,"at":1,"str`);
    const second = await start(t, { dataDir: dir });
    t.match((await second.call('GET', '/api/eligibility')).body, {
      streams: { 'ema.1h': { run: { id: 'run-1' } } },
    });
    await second.call('POST', '/api/eligibility/overrides', {
      stream: 'ema.1h',
      symbol: 'BTC/USDT',
      mode: 'block',
      reason: 'r',
    });
    t.same(
      second.server.store.db.prepare('SELECT seq FROM eligibility_history ORDER BY seq').all(),
      [{ seq: 1 }, { seq: 2 }],
      'the next entry follows the imported one',
    );
    t.ok(existsSync(`${file}.migrated`), 'the file is renamed, not deleted');
    await second.server.close();

    const bad = mkdtempSync(join(tmpdir(), 'cs-elig-'));
    const badFile = join(bad, ELIGIBILITY_HISTORY_FILE);
    writeFileSync(badFile, `${line}\n${line.replace('"type":"submission"', '"type":"bogus"')}\n`);
    await t.rejects(
      startControlServer({
        bus: second.bus,
        signer: second.signer,
        adminToken: ADMIN,
        logger,
        paper: false,
        dataDir: bad,
      }),
      { code: 'E_ELIGIBILITY_HISTORY_CORRUPT', message: /eligibility-history\.jsonl line 2 is unreadable/ },
    );
    t.ok(existsSync(badFile), 'the corrupt file stays where it is');
    const store = Store.open(join(bad, DATABASE_FILE));
    t.same(
      store.db.prepare('SELECT count(*) AS n FROM eligibility_history').get(),
      { n: 0 },
      'nothing imported',
    );
    store.close();
  },
);

t.test('a stream with 1,000 symbols and long reasons still fits what gateways relay', async (t) => {
  const { submit, watch } = await start(t);
  const decisions = Array.from({ length: 1000 }, (_, i) => ({
    stream: 'wide.1h',
    symbol: `C${i}/USDT`,
    eligible: i % 2 === 0,
    reason: `${i} `.padEnd(300, 'x'),
  }));
  t.equal((await submit(run({ runId: 'run-wide', decisions }))).status, 201);
  await waitFor(() => watch.latest('wide.1h') !== undefined, 'the wide stream');
  const msg = watch.latest('wide.1h')!;
  t.ok(
    JSON.stringify(msg).length < 256 * 1024,
    `${JSON.stringify(msg).length} bytes: under the gateway's 256 KiB`,
  );
  t.equal(msg.body.symbols.length, 500, 'every eligible symbol is named');
  const reasons = msg.body.reasons!;
  t.ok(
    msg.body.symbols.every((s) => reasons[s] !== undefined),
    'the reasons of eligible symbols come before those of the rest',
  );
  t.ok(Object.keys(reasons).length < 1000, 'the reasons of some ineligible symbols are left out');
});
