/**
 * Spending limits by time: each covering window's `maxSpend` against what was spent in
 * that window instance, and the per-day limit against what was spent on the local calendar
 * day (so it resets at local midnight, not UTC midnight). A spend stamped after `now`
 * counts everywhere: the clock went back, the money is still gone.
 */
import type { SizingContext } from '../context.js';
import { DAY_NAMES, money, usedOf } from '../format.js';
import { instanceDay, whose } from '../schedule-time.js';
import { belowMinimum, capAt, type Size } from './size.js';

export function windowCaps(ctx: SizingContext, size: Size): Size {
  const q = ctx.state.quote;
  for (const w of ctx.windows) {
    const max = w.window.maxSpend;
    if (max === null) continue;
    let spent = 0;
    for (const s of ctx.spends) {
      if (s.ts > ctx.now || instanceDay(w.window, w.weekday, s.local) === w.instanceDay) spent += s.quote;
    }
    const which = `the buying window on ${DAY_NAMES[w.weekday]}s from ${w.window.start} to ${w.window.end} in ${whose(w.owner)}`;
    size = capAt(
      ctx,
      size,
      max - spent,
      {
        code: 'R_WINDOW_LIMIT',
        explain: (quote, min) =>
          quote > 0
            ? `Only ${money(quote, q)} of the ${money(max, q)} limit is left in ${which}, ${belowMinimum(ctx, min)}`
            : `The spending limit of ${which} is used up: ${usedOf(spent, max, q)} spent`,
      },
      'window limit',
    );
  }
  return size;
}

export function dailyCap(ctx: SizingContext, size: Size): Size {
  const q = ctx.state.quote;
  const max = ctx.limits.maxSpendPerDay;
  let spent = 0;
  for (const s of ctx.spends) if (s.ts > ctx.now || s.local.day === ctx.local.day) spent += s.quote;
  return capAt(
    ctx,
    size,
    max - spent,
    {
      code: 'R_DAILY_LIMIT',
      explain: (quote, min) =>
        quote > 0
          ? `Only ${money(quote, q)} of today's ${money(max, q)} spending limit is left, ${belowMinimum(ctx, min)}`
          : `Today's spending limit is used up: ${usedOf(spent, max, q)} spent`,
    },
    'daily limit',
  );
}
