/**
 * Limits from the portfolio: the asset's share of equity, the cash reserve, and the free
 * quote balance. Cash rules keep `costBufferBps` aside for the fee and slippage of a market
 * buy, so `quote x (1 + buffer)` is what must fit.
 */
import type { SizingContext } from '../context.js';
import { money, percent } from '../format.js';
import { belowMinimum, capAt, type Size } from './size.js';

export function exposureCap(ctx: SizingContext, size: Size): Size {
  const q = ctx.state.quote;
  const { equity, values } = ctx.valuation;
  const max = ctx.limits.maxExposurePct;
  const held = values[ctx.base] ?? 0;
  return capAt(
    ctx,
    size,
    max * equity - held,
    {
      code: 'R_EXPOSURE',
      explain: (quote, min) =>
        quote > 0
          ? `Only ${money(quote, q)} more ${ctx.base} fits under the limit of ${percent(max)} of the portfolio per coin, ${belowMinimum(ctx, min)}`
          : `${ctx.base} already makes up ${percent(held / equity)} of the portfolio; the most allowed per coin is ${percent(max)}`,
    },
    'exposure limit',
  );
}

function buffer(ctx: SizingContext): number {
  return 1 + ctx.limits.costBufferBps / 10_000;
}

export function cashReserveCap(ctx: SizingContext, size: Size): Size {
  const pct = ctx.limits.cashReservePct;
  if (!(pct > 0)) return size; // no reserve: the funds cap alone applies, with its own reason
  const q = ctx.state.quote;
  const reserve = pct * ctx.valuation.equity;
  const free = ctx.state.quoteFree;
  return capAt(
    ctx,
    size,
    (free - reserve) / buffer(ctx),
    {
      code: 'R_CASH_RESERVE',
      explain: (quote, min) =>
        quote > 0
          ? `Only ${money(quote, q)} can be spent without dipping into the cash reserve of ${percent(pct)} of the portfolio (${money(reserve, q)}), ${belowMinimum(ctx, min)}`
          : `Buying would dip into the cash reserve of ${percent(pct)} of the portfolio (${money(reserve, q)}); ${money(free, q)} is free`,
    },
    'cash reserve',
  );
}

export function fundsCap(ctx: SizingContext, size: Size): Size {
  const q = ctx.state.quote;
  const free = ctx.state.quoteFree;
  const bps = ctx.limits.costBufferBps;
  return capAt(
    ctx,
    size,
    free / buffer(ctx),
    {
      code: 'R_NO_FUNDS',
      explain: (quote, min) =>
        quote > 0
          ? `Only ${money(quote, q)} can be spent from the ${money(free, q)} free once ${percent(bps / 10_000)} is kept for fees and slippage, ${belowMinimum(ctx, min)}`
          : `There is no ${q} free to buy with`,
    },
    'funds',
  );
}
