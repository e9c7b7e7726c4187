/**
 * The spot markets the paper exchange lists by default: the pairs in ../shared/data, with
 * Binance's filters for them (tick size, lot step, minimum quantity and notional).
 */
export const DEFAULT_MARKETS = [
  {
    symbol: 'BTC/USDT',
    base: 'BTC',
    quote: 'USDT',
    tickSize: 0.01,
    stepSize: 0.00001,
    minQty: 0.00001,
    minNotional: 5,
  },
  {
    symbol: 'ETH/USDT',
    base: 'ETH',
    quote: 'USDT',
    tickSize: 0.01,
    stepSize: 0.0001,
    minQty: 0.0001,
    minNotional: 5,
  },
  {
    symbol: 'SOL/USDT',
    base: 'SOL',
    quote: 'USDT',
    tickSize: 0.01,
    stepSize: 0.001,
    minQty: 0.001,
    minNotional: 5,
  },
  {
    symbol: 'BNB/USDT',
    base: 'BNB',
    quote: 'USDT',
    tickSize: 0.01,
    stepSize: 0.001,
    minQty: 0.001,
    minNotional: 5,
  },
  {
    symbol: 'XRP/USDT',
    base: 'XRP',
    quote: 'USDT',
    tickSize: 0.0001,
    stepSize: 0.1,
    minQty: 0.1,
    minNotional: 5,
  },
  {
    symbol: 'ADA/USDT',
    base: 'ADA',
    quote: 'USDT',
    tickSize: 0.0001,
    stepSize: 0.1,
    minQty: 0.1,
    minNotional: 5,
  },
  {
    symbol: 'DOGE/USDT',
    base: 'DOGE',
    quote: 'USDT',
    tickSize: 0.00001,
    stepSize: 1,
    minQty: 1,
    minNotional: 5,
  },
];
