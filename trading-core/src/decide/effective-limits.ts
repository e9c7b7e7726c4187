/**
 * The limits that actually apply: for each numeric limit the stricter of the policy's and
 * the user's value, and both schedules. Settings can only tighten, never loosen.
 */
import type { CentralPolicy, LimitName, Schedule } from './policy.js';
import type { UserSettings } from './settings.js';

/** Which direction is stricter, per limit. */
const STRICTER: Record<LimitName, 'min' | 'max'> = {
  orderQuote: 'min',
  maxOrderQuote: 'min',
  maxSpendPerDay: 'min',
  maxExposurePct: 'min',
  maxOpenPositions: 'min',
  cashReservePct: 'max', // keep more cash
  maxDrawdownPct: 'min', // stop at a smaller loss
  dailyLossLimitPct: 'min',
  heartbeatTimeoutMs: 'min', // give up on a silent server sooner
  costBufferBps: 'max', // set more aside for costs
  maxPriceDeviationPct: 'min', // trust a signal's price less far from the market
};
const NAMES = Object.keys(STRICTER) as LimitName[];

/** Whose schedule: the control server's, or the user's own. */
export type ScheduleOwner = 'central' | 'yours';

export interface OwnedSchedule {
  owner: ScheduleOwner;
  schedule: Schedule;
}

export type EffectiveLimits = Record<LimitName, number> & {
  /**
   * Every schedule that applies (the central one first, then the user's if set). They are
   * not merged into one: buying needs a buying window in each, and each window's
   * `maxSpend` is checked against the spends of its own window instance. Intersecting the
   * windows instead would reset the count at every cut and could let more through than
   * either schedule allows.
   */
  schedules: readonly OwnedSchedule[];
};

export function effectiveLimits(policy: CentralPolicy, settings: UserSettings): EffectiveLimits {
  const limits = { schedules: [{ owner: 'central', schedule: policy.schedule }] } as {
    schedules: OwnedSchedule[];
  } & Record<LimitName, number>;
  for (const name of NAMES) {
    const central = policy[name];
    const local = settings[name];
    // A missing (or, defensively, non-finite) local value cannot loosen anything: ignore it.
    limits[name] =
      typeof local !== 'number' || !Number.isFinite(local)
        ? central
        : STRICTER[name] === 'min'
          ? Math.min(central, local)
          : Math.max(central, local);
  }
  if (settings.schedule) limits.schedules.push({ owner: 'yours', schedule: settings.schedule });
  return limits;
}
