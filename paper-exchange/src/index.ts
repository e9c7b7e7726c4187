export {
  createPaperExchange,
  DEFAULT_RANDOM_SEED,
  type OrderSnapshot,
  type PaperExchange,
  type PaperExchangeOptions,
} from './paper-exchange.js';
// ccxt settings for talking to it: `@appliance/paper-exchange/ccxt`, so hosting the exchange
// never loads ccxt (most of a process's memory).
export type { AccountConfig, AccountSnapshot, BalanceSnapshot } from './accounts.js';
export type { MarketConfig } from './markets.js';
export { DEFAULT_FAULTS, seededRandom, type Faults } from './faults.js';
export { DEFAULT_CANDLE_INTERVAL_MS, DEFAULT_MAX_CANDLES, INTERVALS } from './candles.js';
export { DEFAULT_RECV_WINDOW_MS, MAX_RECV_WINDOW_MS } from './binance-auth.js';
export { BinanceError, binanceErrors, PaperExchangeError, type PaperExchangeErrorCode } from './errors.js';
export { CLIENT_ORDER_ID } from './order-params.js';
export { DEFAULT_MARKETS } from './default-markets.js';
