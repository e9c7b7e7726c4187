import { CentralPolicy, type Schedule } from './policy.js';

const allDay: Schedule = Object.fromEntries(
  ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [
    d,
    [{ start: '00:00', end: '24:00', maxSpend: null, buying: true }],
  ]),
) as Schedule;

/**
 * The family profile's spending policy unless the operator sets another. Conservative: small
 * orders, a daily cap, 10 % per asset, a cash reserve, the -25 % drawdown stop, and a minute
 * without a heartbeat stops buying. Devices can only tighten it.
 */
export const DEFAULT_FAMILY_POLICY: CentralPolicy = CentralPolicy.parse({
  schema: 1,
  orderQuote: 100,
  maxOrderQuote: 250,
  maxSpendPerDay: 1_000,
  maxExposurePct: 0.1,
  maxOpenPositions: 5,
  cashReservePct: 0.1,
  maxDrawdownPct: 0.25,
  dailyLossLimitPct: 0.05,
  heartbeatTimeoutMs: 60_000,
  costBufferBps: 50,
  schedule: allDay,
});
