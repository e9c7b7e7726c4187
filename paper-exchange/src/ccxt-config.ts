import { binanceOverrides } from '@appliance/runtime/ccxt';
import { PaperExchangeError } from './errors.js';

export type BinanceApiName = string;

export type PaperExchangeCcxtConfig = ReturnType<typeof binanceOverrides>;

/**
 * What to merge into `new ccxt.binance({ apiKey, secret, ...paperExchangeCcxtConfig(url) })`
 * so that ccxt trades against the paper exchange at `baseUrl`:
 * - fetchMarkets.types ['spot']: loadMarkets reads only /api/v3/exchangeInfo (no fapi, dapi);
 * - fetchCurrencies false: no signed sapi capital/config/getall call during loadMarkets;
 * - fetchMargins false: no sapi margin/allPairs calls during loadMarkets.
 */
export function paperExchangeCcxtConfig(baseUrl: string): PaperExchangeCcxtConfig {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new PaperExchangeError(
      'PAPER_ERR_INVALID_OPTION',
      `baseUrl must be an absolute URL, got ${baseUrl}`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new PaperExchangeError('PAPER_ERR_INVALID_OPTION', `baseUrl must be http(s), got ${baseUrl}`);
  }
  return binanceOverrides(baseUrl);
}
