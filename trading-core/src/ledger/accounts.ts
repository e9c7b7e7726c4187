export const FEES_ACCOUNT = 'fees';
export const REALISED_PNL_ACCOUNT = 'realised-pnl';
export const CAPITAL_ACCOUNT = 'capital';
const CASH = new Map<string, string>();
const POSITION = new Map<string, string>();
export const cashAccount = (quote: string): string => CASH.get(quote) ?? remember(CASH, quote, 'cash:');
export const positionAccount = (asset: string): string =>
  POSITION.get(asset) ?? remember(POSITION, asset, 'position:');

/**
 * Account names are Map keys looked up several times a fill: the same flat, already-hashed
 * string each time instead of a fresh concatenation to hash anew.
 */
function remember(names: Map<string, string>, code: string, prefix: string): string {
  const name = prefix + code;
  // A bound, in case codes ever come from somewhere unchecked.
  if (names.size < 10_000) names.set(code, name);
  return name;
}

/** Upper-case exchange codes, as in the unified ccxt symbol `BTC/USDT`. */
export const CURRENCY = /^[A-Z0-9]{1,20}$/;

/** Codes CURRENCY accepted, so a fill's asset is matched once rather than on every fill. */
const CURRENCIES = new Set<string>();

export function isCurrency(code: string): boolean {
  if (CURRENCIES.has(code)) return true;
  if (!CURRENCY.test(code)) return false;
  // The same bound as the account names.
  if (CURRENCIES.size < 10_000) CURRENCIES.add(code);
  return true;
}
