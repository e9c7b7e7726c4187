export const FEES_ACCOUNT = 'fees';
export const REALISED_PNL_ACCOUNT = 'realised-pnl';
export const CAPITAL_ACCOUNT = 'capital';
export const cashAccount = (quote: string): string => `cash:${quote}`;
export const positionAccount = (asset: string): string => `position:${asset}`;

/** Upper-case exchange codes, as in the unified ccxt symbol `BTC/USDT`. */
export const CURRENCY = /^[A-Z0-9]{1,20}$/;
