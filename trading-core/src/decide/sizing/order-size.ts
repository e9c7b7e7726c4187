/** Where a buy starts: the policy's order size, within the per-order limit, scaled at caution. */
import type { SizingContext } from '../context.js';
import { money } from '../format.js';
import { belowMinimum, type Size } from './size.js';

export function startSize(ctx: SizingContext): Size {
  const { orderQuote, maxOrderQuote } = ctx.limits;
  const q = ctx.state.quote;
  if (maxOrderQuote < orderQuote) {
    return {
      quote: maxOrderQuote,
      bound: {
        code: 'R_ORDER_LIMIT',
        explain: (_quote, min) =>
          `The largest order allowed, ${money(maxOrderQuote, q)}, is ${belowMinimum(ctx, min)}`,
      },
      notes: [`order limit: size cut to ${money(maxOrderQuote, q)}`],
    };
  }
  return {
    quote: orderQuote,
    bound: {
      code: 'R_BELOW_MINIMUM',
      explain: (quote, min) => `An order of ${money(quote, q)} is ${belowMinimum(ctx, min)}`,
    },
    notes: [],
  };
}

/** At `caution` the breaker's multiplier scales every buy (at `normal` it is not applied). */
export function cautionRule(ctx: SizingContext, size: Size): Size {
  const b = ctx.state.breaker;
  if (b?.level !== 'caution' || !(b.multiplier < 1)) return size;
  const m = b.multiplier;
  return {
    quote: size.quote * m,
    bound: {
      code: 'R_CAUTION',
      explain: (quote, min) =>
        `The circuit breaker is at caution and cut the order to ${money(quote, ctx.state.quote)} (size x${m}), ${belowMinimum(ctx, min)}`,
    },
    notes: [...size.notes, `caution: size x${m}`],
  };
}
