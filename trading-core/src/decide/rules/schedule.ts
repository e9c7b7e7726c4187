/**
 * Buying by time of day, in the user's time zone: every applying schedule (central, and the
 * user's own if set) needs a window covering now, and every covering window must have buying
 * on. The windows' spending limits are sizing caps (see sizing/spend-caps.ts).
 */
import type { BuyContext } from '../context.js';
import { DAY_NAMES } from '../format.js';
import { formatMinute } from '../local-time.js';
import { ALLOW, deny, type RuleResult } from '../rule.js';
import { whose } from '../schedule-time.js';

export function scheduleRule(ctx: BuyContext): RuleResult {
  for (const { owner } of ctx.limits.schedules) {
    const covering = ctx.windows.filter((w) => w.owner === owner);
    if (covering.length === 0) {
      return deny(
        'R_OUTSIDE_WINDOWS',
        `Buying is off at this time: ${whose(owner)} has no buying window on ${DAY_NAMES[ctx.local.weekday]} at ${formatMinute(ctx.local.minute)}`,
      );
    }
    const off = covering.find((w) => !w.window.buying);
    if (off) {
      return deny(
        'R_SCHEDULE_OFF',
        `Buying is off on ${DAY_NAMES[off.weekday]}s from ${off.window.start} to ${off.window.end} in ${whose(owner)}`,
      );
    }
  }
  return ALLOW;
}
