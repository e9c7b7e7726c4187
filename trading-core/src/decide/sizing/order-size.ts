/** Where a buy starts: the policy's order size, within the per-order limit, scaled at caution. */
import { breakerFor } from '../breaker-scope.js';
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

/**
 * At `caution` the breaker's multiplier scales every buy (at `normal` it is not applied): the
 * market's, or for an asset with a level of its own the smaller of the two (see breaker-scope.ts).
 */
export function cautionRule(ctx: SizingContext, size: Size): Size {
  const breaker = ctx.state.breaker;
  if (breaker === null) return size;
  const b = breakerFor(breaker, ctx.signal.symbol);
  if (b.level !== 'caution' || !(b.multiplier < 1)) return size;
  const m = b.multiplier;
  const where = b.scope === 'market' ? '' : ` for ${ctx.signal.symbol}`;
  return {
    quote: size.quote * m,
    bound: {
      code: 'R_CAUTION',
      explain: (quote, min) =>
        `The circuit breaker is at caution${where} and cut the order to ${money(quote, ctx.state.quote)} (size x${m}), ${belowMinimum(ctx, min)}`,
    },
    notes: [...size.notes, `caution${where}: size x${m}`],
  };
}
