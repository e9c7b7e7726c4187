import { notionalOf, toAtoms } from '@appliance/trading-core';
import { formatAmount, parseAmount } from './amount-text.js';
import { binanceErrors, PaperExchangeError } from './errors.js';

type Amount = number | string;

/** A spot market as the caller lists it; amounts as numbers or decimal strings. */
export interface MarketConfig {
  /** Unified symbol, `${base}/${quote}`, e.g. 'BTC/USDT'. */
  symbol: string;
  base: string;
  quote: string;
  /** PRICE_FILTER tickSize; also the minimum price. */
  tickSize: Amount;
  /** LOT_SIZE stepSize. */
  stepSize: Amount;
  /** LOT_SIZE minQty, > 0. */
  minQty: Amount;
  /** NOTIONAL minNotional (price × quantity, in quote), >= 0; applies to market orders too. */
  minNotional: Amount;
  /** PRICE_FILTER maxPrice. Default 1,000,000. */
  maxPrice?: Amount;
  /** LOT_SIZE maxQty. Default 9,000,000. */
  maxQty?: Amount;
}

export interface Market {
  symbol: string;
  /** Binance's id, base and quote run together: 'BTCUSDT'. */
  id: string;
  base: string;
  quote: string;
  tickSize: bigint;
  maxPrice: bigint;
  stepSize: bigint;
  minQty: bigint;
  maxQty: bigint;
  minNotional: bigint;
}

const ASSET = /^[A-Z0-9]{1,20}$/;
const DEFAULT_MAX_PRICE = 1_000_000;
const DEFAULT_MAX_QTY = 9_000_000;
const MAX_BOOK_ATOMS = BigInt(Number.MAX_SAFE_INTEGER);

function amount(symbol: string, name: string, value: Amount, positive: boolean): bigint {
  let atoms: bigint;
  if (typeof value === 'number') {
    atoms = Number.isFinite(value) && value >= 0 && value < 1e12 ? toAtoms(value) : -1n;
  } else {
    const parsed = parseAmount(value);
    atoms = parsed.ok ? parsed.atoms : -1n;
  }
  if (atoms < 0n || (positive && atoms === 0n)) {
    throw new PaperExchangeError(
      'PAPER_ERR_INVALID_OPTION',
      `markets[${symbol}].${name} must be a ${positive ? 'positive' : 'non-negative'} amount with at most 8 decimals, got ${String(value)}`,
    );
  }
  return atoms;
}

function normaliseMarket(c: MarketConfig): Market {
  if (!ASSET.test(c.base) || !ASSET.test(c.quote) || c.base === c.quote) {
    throw new PaperExchangeError(
      'PAPER_ERR_INVALID_OPTION',
      `markets[${c.symbol}]: base and quote must be distinct upper-case asset codes, got ${c.base} and ${c.quote}`,
    );
  }
  if (c.symbol !== `${c.base}/${c.quote}`) {
    throw new PaperExchangeError(
      'PAPER_ERR_INVALID_OPTION',
      `markets[${c.symbol}].symbol must be '${c.base}/${c.quote}' for base ${c.base} and quote ${c.quote}`,
    );
  }
  const market: Market = {
    symbol: c.symbol,
    id: `${c.base}${c.quote}`,
    base: c.base,
    quote: c.quote,
    tickSize: amount(c.symbol, 'tickSize', c.tickSize, true),
    maxPrice: amount(c.symbol, 'maxPrice', c.maxPrice ?? DEFAULT_MAX_PRICE, true),
    stepSize: amount(c.symbol, 'stepSize', c.stepSize, true),
    minQty: amount(c.symbol, 'minQty', c.minQty, true),
    maxQty: amount(c.symbol, 'maxQty', c.maxQty ?? DEFAULT_MAX_QTY, true),
    minNotional: amount(c.symbol, 'minNotional', c.minNotional, false),
  };
  if (market.maxQty < market.minQty || market.maxPrice < market.tickSize) {
    throw new PaperExchangeError(
      'PAPER_ERR_INVALID_OPTION',
      `markets[${c.symbol}]: maxQty must be >= minQty and maxPrice >= tickSize`,
    );
  }
  // Resting orders live in trading-core's OrderBook, which counts atoms as safe integers.
  if (market.maxQty > MAX_BOOK_ATOMS || market.maxPrice > MAX_BOOK_ATOMS) {
    throw new PaperExchangeError(
      'PAPER_ERR_INVALID_OPTION',
      `markets[${c.symbol}]: maxQty and maxPrice must be at most ${formatAmount(MAX_BOOK_ATOMS)} (2^53 - 1 atoms, what the order book counts exactly)`,
    );
  }
  return market;
}

export class Markets {
  private readonly byId = new Map<string, Market>();
  private readonly bySymbol = new Map<string, Market>();

  constructor(configs: readonly MarketConfig[]) {
    for (const config of configs) {
      const market = normaliseMarket(config);
      if (this.byId.has(market.id)) {
        throw new PaperExchangeError('PAPER_ERR_INVALID_OPTION', `markets: ${market.symbol} is listed twice`);
      }
      this.byId.set(market.id, market);
      this.bySymbol.set(market.symbol, market);
    }
  }

  all(): Market[] {
    return [...this.byId.values()];
  }

  /** By Binance id, as HTTP clients name markets; a Binance error when unknown. */
  byWireId(id: string | undefined): Market {
    if (id === undefined || id === '') throw binanceErrors.mandatory('symbol');
    const market = this.byId.get(id);
    if (!market) throw binanceErrors.invalidSymbol();
    return market;
  }

  /** By unified symbol ('BTC/USDT') or id ('BTCUSDT'), as the code driving the exchange names them. */
  find(symbol: string): Market | undefined {
    return this.bySymbol.get(symbol) ?? this.byId.get(symbol);
  }
}

// Binance's step rules are relative to the minimum: (x - min) % step == 0.
export function checkPrice(m: Market, price: bigint): void {
  if (price < m.tickSize || price > m.maxPrice || (price - m.tickSize) % m.tickSize !== 0n) {
    throw binanceErrors.filterFailure('PRICE_FILTER');
  }
}

export function checkQuantity(m: Market, qty: bigint): void {
  if (qty < m.minQty || qty > m.maxQty || (qty - m.minQty) % m.stepSize !== 0n) {
    throw binanceErrors.filterFailure('LOT_SIZE');
  }
}

export function checkNotional(m: Market, price: bigint, qty: bigint): void {
  if (notionalOf(qty, price) < m.minNotional) throw binanceErrors.filterFailure('NOTIONAL');
}

/** One entry of exchangeInfo.symbols, with the fields ccxt reads precision and limits from. */
export function marketToWire(m: Market): Record<string, unknown> {
  return {
    symbol: m.id,
    status: 'TRADING',
    baseAsset: m.base,
    baseAssetPrecision: 8,
    quoteAsset: m.quote,
    quotePrecision: 8,
    quoteAssetPrecision: 8,
    baseCommissionPrecision: 8,
    quoteCommissionPrecision: 8,
    orderTypes: ['LIMIT', 'MARKET'],
    icebergAllowed: false,
    ocoAllowed: false,
    otoAllowed: false,
    quoteOrderQtyMarketAllowed: true,
    allowTrailingStop: false,
    cancelReplaceAllowed: false,
    isSpotTradingAllowed: true,
    isMarginTradingAllowed: false,
    filters: [
      {
        filterType: 'PRICE_FILTER',
        minPrice: formatAmount(m.tickSize),
        maxPrice: formatAmount(m.maxPrice),
        tickSize: formatAmount(m.tickSize),
      },
      {
        filterType: 'LOT_SIZE',
        minQty: formatAmount(m.minQty),
        maxQty: formatAmount(m.maxQty),
        stepSize: formatAmount(m.stepSize),
      },
      {
        filterType: 'NOTIONAL',
        minNotional: formatAmount(m.minNotional),
        applyMinToMarket: true,
        maxNotional: '9000000000.00000000',
        applyMaxToMarket: false,
        avgPriceMins: 0,
      },
    ],
    permissions: [],
    permissionSets: [['SPOT']],
    defaultSelfTradePreventionMode: 'NONE',
    allowedSelfTradePreventionModes: ['NONE'],
  };
}
