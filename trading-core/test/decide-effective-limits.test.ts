import t from 'tap';
import {
  CentralPolicy,
  ReceivedPolicy,
  ScheduleWindow,
  UserSettings,
  effectiveLimits,
  isCurrentPolicy,
  type LimitName,
  type Schedule,
} from '../src/index.js';

const schedule = (maxSpend: number | null): Schedule =>
  ({ mon: [{ start: '08:00', end: '18:00', maxSpend, buying: true }] }) as Schedule;

const policy = CentralPolicy.parse({
  schema: 1,
  orderQuote: 100,
  maxOrderQuote: 200,
  maxSpendPerDay: 500,
  maxOpenPositions: 3,
  cashReservePct: 0.2,
  dailyLossLimitPct: 0.05,
  heartbeatTimeoutMs: 300_000,
  schedule: schedule(300),
});

t.test('the policy defaults what it may leave out', async (t) => {
  t.equal(policy.maxExposurePct, 0.1);
  t.equal(policy.maxDrawdownPct, 0.25);
  t.equal(policy.costBufferBps, 50);
  t.equal(policy.maxPriceDeviationPct, 0.01);
  t.strictSame(policy.schedule.tue, [], 'a missing weekday has no windows');
});

t.test('without local values the policy applies as it is', async (t) => {
  const { schedules, ...limits } = effectiveLimits(policy, UserSettings.parse({ timeZone: 'UTC' }));
  t.strictSame(limits, {
    orderQuote: 100,
    maxOrderQuote: 200,
    maxSpendPerDay: 500,
    maxExposurePct: 0.1,
    maxOpenPositions: 3,
    cashReservePct: 0.2,
    maxDrawdownPct: 0.25,
    dailyLossLimitPct: 0.05,
    heartbeatTimeoutMs: 300_000,
    costBufferBps: 50,
    maxPriceDeviationPct: 0.01,
  });
  t.strictSame(schedules, [{ owner: 'central', schedule: policy.schedule }]);
});

// [limit, a tighter local value, a looser local value]
const CASES: [LimitName, number, number][] = [
  ['orderQuote', 60, 150],
  ['maxOrderQuote', 150, 1_000],
  ['maxSpendPerDay', 200, 1_000],
  ['maxExposurePct', 0.05, 0.5],
  ['maxOpenPositions', 1, 10],
  ['cashReservePct', 0.5, 0],
  ['maxDrawdownPct', 0.1, 0.5],
  ['dailyLossLimitPct', 0.02, 0.2],
  ['heartbeatTimeoutMs', 60_000, 3_600_000],
  ['costBufferBps', 100, 0],
  ['maxPriceDeviationPct', 0.005, 0.05],
];

for (const [name, tighter, looser] of CASES) {
  t.test(`a tighter local ${name} applies and a looser one is ignored`, async (t) => {
    const tight = UserSettings.parse({ timeZone: 'UTC', [name]: tighter });
    t.equal(effectiveLimits(policy, tight)[name], tighter, 'tighter');
    const loose = UserSettings.parse({ timeZone: 'UTC', [name]: looser });
    t.equal(effectiveLimits(policy, loose)[name], policy[name], 'looser');
  });
}

t.test('a local schedule is added to the central one, never replaces it', async (t) => {
  const own = schedule(1_000);
  const settings = UserSettings.parse({ timeZone: 'UTC', schedule: own });
  t.strictSame(effectiveLimits(policy, settings).schedules, [
    { owner: 'central', schedule: policy.schedule },
    { owner: 'yours', schedule: UserSettings.parse({ timeZone: 'UTC', schedule: own }).schedule },
  ]);
});

t.test('settings are checked by their schema', async (t) => {
  t.notOk(UserSettings.safeParse({ timeZone: 'Mars/Olympus_Mons' }).success, 'unknown time zone');
  t.notOk(UserSettings.safeParse({ timeZone: 'UTC', maxExposurePct: 2 }).success, 'a share above 1');
  t.notOk(UserSettings.safeParse({ timeZone: 'UTC', orderQuote: NaN }).success, 'NaN');
  t.notOk(UserSettings.safeParse({ timeZone: 'UTC', extra: 1 }).success, 'an unknown key');
  t.notOk(UserSettings.safeParse({ timeZone: 'UTC', orderQuote: 1e13 }).success, 'an order above 1e12');
  t.notOk(
    UserSettings.safeParse({ timeZone: 'UTC', maxPriceDeviationPct: 0 }).success,
    'no deviation at all',
  );
  t.notOk(UserSettings.safeParse({ timeZone: 'UTC', maxPriceDeviationPct: 0.21 }).success, 'above 20%');
  t.ok(UserSettings.safeParse({ timeZone: 'America/New_York' }).success);
});

t.test('ReceivedPolicy tells a current policy from one of another format', async (t) => {
  const { maxExposurePct: _e, ...raw } = policy;
  const current = ReceivedPolicy.parse(raw);
  t.equal(isCurrentPolicy(current), true);
  t.equal((current as CentralPolicy).maxExposurePct, 0.1, 'defaults applied');
  const future = ReceivedPolicy.parse({ schema: 2, budgets: { anything: 'new' } });
  t.equal(isCurrentPolicy(future), false);
  t.strictSame(future, { schema: 2, budgets: { anything: 'new' } });
  t.notOk(
    ReceivedPolicy.safeParse({ ...raw, maxSpendPerDay: NaN }).success,
    'a broken current policy: pass null',
  );
  t.notOk(ReceivedPolicy.safeParse({ version: 1 }).success, 'no schema at all');
});

t.test('schedule windows are checked by their schema', async (t) => {
  const ok = (w: object) => ScheduleWindow.safeParse({ maxSpend: null, buying: true, ...w }).success;
  t.ok(ok({ start: '00:00', end: '24:00' }), 'the whole day');
  t.ok(ok({ start: '22:00', end: '02:00' }), 'across midnight');
  t.notOk(ok({ start: '24:00', end: '02:00' }), 'a start of 24:00');
  t.notOk(ok({ start: '7:00', end: '09:00' }), 'a one-digit hour');
  t.notOk(ok({ start: '09:00', end: '09:00' }), 'start equal to end');
  t.notOk(ok({ start: '09:00', end: '10:00', maxSpend: -1 }), 'a negative maxSpend');
  t.notOk(ok({ start: '09:00', end: '10:00', maxSpend: 1e13 }), 'a maxSpend above 1e12');
});
