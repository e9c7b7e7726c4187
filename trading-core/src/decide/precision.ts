/**
 * Rounding to the exchange's grid, as ccxt does it: amounts truncated (never more than
 * asked or held), prices rounded to the nearest tick. Results are cleaned to the step's
 * decimals so 3 x 0.1 is 0.3, not 0.30000000000000004.
 */
import type { MarketRules } from './types.js';

/**
 * Float noise in `x / step`: a quotient a few ulps below a whole number counts as on it
 * (0.3 / 0.1 must be 3 steps, not 2). Relative to the quotient (so 2e6 / 1e-5 works) plus a
 * tiny absolute part, both far below the 1e-8 unit balances are kept in, so a rounded-down
 * amount never exceeds a real balance.
 */
function noise(q: number): number {
  return Math.abs(q) * 2e-15 + 1e-12;
}

function stepDecimals(step: number): number {
  for (let d = 0; d <= 15; d++) {
    const s = step * 10 ** d;
    if (Math.abs(s - Math.round(s)) <= 1e-9 * Math.max(1, s)) return d;
  }
  return 15;
}

function onGrid(n: number, step: number): number {
  return Number((n * step).toFixed(stepDecimals(step)));
}

export function floorToStep(x: number, step: number): number {
  const q = x / step;
  const n = Math.floor(q + noise(q));
  return n > 0 ? onGrid(n, step) : 0;
}

function ceilToStep(x: number, step: number): number {
  const q = x / step;
  return onGrid(Math.max(0, Math.ceil(q - noise(q))), step);
}

export function roundToStep(x: number, step: number): number {
  return onGrid(Math.round(x / step), step);
}

/** Quote amounts are kept at 1e-8, the ledger's precision. */
export function roundQuote(x: number): number {
  return Number(x.toFixed(8));
}

/** The smallest amount the market takes at `price`: at least one step, minAmount and minNotional. */
export function minOrderAmount(market: MarketRules, price: number): number {
  const need = Math.max(market.amountStep, market.minAmount, market.minNotional / price);
  return ceilToStep(need, market.amountStep);
}

/** Whether a rounded amount at `price` meets the market's minimums. */
export function meetsMinimums(market: MarketRules, amount: number, price: number): boolean {
  return amount > 0 && amount >= market.minAmount && roundQuote(amount * price) >= market.minNotional;
}

export function validMarket(m: MarketRules): string | null {
  for (const k of ['amountStep', 'priceTick'] as const) {
    if (!(typeof m[k] === 'number' && Number.isFinite(m[k]) && m[k] > 0)) return `${k}: ${String(m[k])}`;
  }
  for (const k of ['minAmount', 'minNotional'] as const) {
    if (!(typeof m[k] === 'number' && Number.isFinite(m[k]) && m[k] >= 0)) return `${k}: ${String(m[k])}`;
  }
  return null;
}
