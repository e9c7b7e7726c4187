import { ccxt, type Exchange } from './classes.js';

export interface BinanceOptions {
  apiKey?: string;
  secret?: string;
  /**
   * Base URL of a Binance-compatible server (our paper exchange). Every endpoint ccxt knows is
   * redirected there, so nothing can reach the real exchange by accident.
   */
  baseUrl?: string;
  timeoutMs?: number;
}

/** ccxt settings that point every Binance endpoint at `baseUrl` and keep loadMarkets to one spot call. */
export function binanceOverrides(baseUrl: string): {
  urls: { api: Record<string, string> };
  options: Record<string, unknown>;
} {
  const origin = new URL(baseUrl).origin;
  const defaults = new ccxt.binance().urls.api as Record<string, string>;
  const api = Object.fromEntries(
    Object.entries(defaults).map(([name, url]) => [name, `${origin}${new URL(url).pathname}`]),
  );
  // spot only; no sapi calls for currencies or margin pairs during loadMarkets.
  return {
    urls: { api },
    options: { fetchMarkets: { types: ['spot'] }, fetchCurrencies: false, fetchMargins: false },
  };
}

/** ccxt's real `binance` class, spot only, optionally pointed at a Binance-compatible server. */
export function createBinance(o: BinanceOptions = {}): Exchange {
  const overrides = o.baseUrl ? binanceOverrides(o.baseUrl) : { options: {} };
  return new ccxt.binance({
    ...(o.apiKey ? { apiKey: o.apiKey, secret: o.secret } : {}),
    enableRateLimit: false,
    timeout: o.timeoutMs ?? 10_000,
    ...overrides,
    options: { ...overrides.options, defaultType: 'spot' },
  });
}
