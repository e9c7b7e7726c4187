/**
 * How numbers, and texts others wrote, read in reasons and notes: the same everywhere, so tests
 * can assert exact text.
 */

/** A quote amount: two decimals and the currency, `'12.50 USDT'`. */
export function money(x: number, currency: string): string {
  return `${twoDecimals(x)} ${currency}`;
}

/** `'300.00 of 500.00 USDT'`: what was used of a limit. */
export function usedOf(used: number, limit: number, currency: string): string {
  return `${twoDecimals(used)} of ${money(limit, currency)}`;
}

function twoDecimals(x: number): string {
  return (Math.abs(x) < 0.005 ? 0 : x).toFixed(2); // never '-0.00'
}

/** A base amount: up to 8 decimals, no trailing zeros, never exponent form. */
export function amount(x: number): string {
  const s = x.toFixed(8).replace(/\.?0+$/, '');
  return s === '-0' ? '0' : s;
}

/** A price: up to 8 decimals and the currency, `'50000 USDT'`, `'0.00001234 USDT'`. */
export function price(x: number, currency: string): string {
  return `${amount(x)} ${currency}`;
}

/** A fraction as a percentage: 0.1 -> '10%', 0.055 -> '5.5%'. */
export function percent(f: number): string {
  return `${Number((f * 100).toFixed(2))}%`;
}

/** A duration: '500 ms', '1.5 s', '5 min', '1 min 30 s', '2 h 5 min'. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.ceil(ms)} ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))} s`;
  const total = Math.floor(ms / 1000);
  const parts: string[] = [];
  const h = Math.floor(total / 3600);
  const min = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h) parts.push(`${h} h`);
  if (min) parts.push(`${min} min`);
  if (s) parts.push(`${s} s`);
  return parts.join(' ');
}

export const DAY_NAMES = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

/** Longest excerpt of a text from elsewhere (a breaker's reason, up to 500 characters) in a reason. */
const EXCERPT_CHARS = 200;

/** Control characters (line breaks included) and direction overrides. */
// eslint-disable-next-line no-control-regex
const UNSHOWABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]+/g;

/**
 * A text from elsewhere as one short line: control characters (line breaks included) and
 * direction overrides become spaces, and beyond `max` characters it is cut, ending in '…'.
 */
export function excerpt(text: string, max = EXCERPT_CHARS): string {
  const line = text.replace(UNSHOWABLE, ' ').trim();
  const chars = Array.from(line); // by code point, so a cut never splits a surrogate pair
  if (chars.length <= max) return line;
  return `${chars
    .slice(0, max - 1)
    .join('')
    .trimEnd()}…`;
}
