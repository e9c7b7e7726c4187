import { BreakerError } from './breaker-error.js';
import { LEVEL_RANK, MARKET, type BreakerLevel, type CandleReading, type VenueReading } from './types.js';

/** A scope: `market`, or a unified symbol of upper-case letters and digits (`BTC/USDT`). */
const SYMBOL = /^[A-Z0-9]{1,20}\/[A-Z0-9]{1,20}$/;
const VENUE = /^[a-z0-9][a-z0-9._-]{0,39}$/;

function bad(message: string): never {
  throw new BreakerError('E_BAD_INPUT', message);
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

export function checkNow(now: unknown): number {
  if (!finite(now) || now < 0) bad(`now: must be a finite time in ms, not ${String(now)}`);
  return now;
}

export function checkSymbol(symbol: unknown, what = 'symbol'): string {
  if (typeof symbol !== 'string' || !SYMBOL.test(symbol))
    bad(`${what}: must be a symbol such as BTC/USDT, not ${JSON.stringify(symbol)?.slice(0, 60)}`);
  return symbol;
}

export function checkScope(scope: unknown): string {
  return scope === MARKET ? MARKET : checkSymbol(scope, 'scope');
}

export function checkCandle(c: CandleReading): void {
  if (c === null || typeof c !== 'object') bad('candle: must be an object');
  checkSymbol(c.symbol);
  if (!finite(c.time) || c.time < 0)
    bad(`${c.symbol}: time must be a finite time in ms, not ${String(c.time)}`);
  if (!finite(c.close) || c.close <= 0)
    bad(`${c.symbol}: close must be a finite price above 0, not ${String(c.close)}`);
  if (!finite(c.timeframeMs) || c.timeframeMs <= 0)
    bad(`${c.symbol}: timeframeMs must be a finite length above 0, not ${String(c.timeframeMs)}`);
}

export function checkVenue(r: VenueReading): void {
  if (r === null || typeof r !== 'object') bad('venue reading: must be an object');
  if (typeof r.venue !== 'string' || !VENUE.test(r.venue))
    bad(`venue: must be a lower-case name such as binance, not ${JSON.stringify(r.venue)?.slice(0, 60)}`);
  const count = (x: unknown) => finite(x) && Number.isInteger(x) && x >= 0;
  if (!count(r.requests))
    bad(`venue ${r.venue}: requests must be a whole number ≥ 0, not ${String(r.requests)}`);
  if (!count(r.errors) || r.errors > r.requests)
    bad(
      `venue ${r.venue}: errors must be a whole number from 0 to requests (${r.requests}), not ${String(r.errors)}`,
    );
  if (r.latencyP99Ms !== null && (!finite(r.latencyP99Ms) || r.latencyP99Ms < 0))
    bad(`venue ${r.venue}: latencyP99Ms must be null or a finite number ≥ 0, not ${String(r.latencyP99Ms)}`);
}

export function checkNumber(what: string, x: unknown, min: number, exclusive: boolean): number {
  if (!finite(x) || x < min || (exclusive && x === min))
    bad(`${what}: must be a finite number ${exclusive ? 'above' : 'at least'} ${min}, not ${String(x)}`);
  return x;
}

export function checkOverride(
  o: { level: BreakerLevel; reason: string; by: string; expiresAt?: number | null },
  now: number,
): void {
  if (o === null || typeof o !== 'object') bad('override: must be an object');
  if (typeof o.level !== 'string' || !Object.hasOwn(LEVEL_RANK, o.level))
    bad(`override level: must be normal, caution or halt, not ${JSON.stringify(o.level)?.slice(0, 40)}`);
  if (typeof o.reason !== 'string' || o.reason.trim() === '' || o.reason.length > 300)
    bad('override reason: must be 1 to 300 characters');
  if (typeof o.by !== 'string' || o.by.trim() === '' || o.by.length > 100)
    bad('override by: must be 1 to 100 characters');
  const e = o.expiresAt;
  if (e !== undefined && e !== null && (!finite(e) || e <= now))
    bad(`override expiresAt: must be null or a time after now (${now}), not ${String(e)}`);
}

export function checkBy(by: unknown): string {
  if (typeof by !== 'string' || by.trim() === '' || by.length > 100) bad('by: must be 1 to 100 characters');
  return by;
}

export { bad };
