import type { binance } from 'ccxt';
import { errorClass } from '@appliance/errors';
import { createBinance } from '@appliance/runtime/ccxt';
import { translateCcxtError } from '../exchange.js';
import { fingerprint, type ExchangeKeys } from '../keystore/index.js';

/** Why `keys test` refused a key. E_AUTH, E_UNREACHABLE and E_EXCHANGE are the executor's codes. */
export const KEY_CHECK_ERROR_CODES = {
  E_AUTH: 'the exchange refused the API key or its signature',
  E_KEYS_CAN_WITHDRAW: 'the key may withdraw funds: a device key must not',
  E_KEYS_CANNOT_TRADE: 'the key may not trade spot',
  E_UNREACHABLE: 'the exchange did not answer',
  E_EXCHANGE: 'the exchange answered with an unexpected error',
} as const;
export type KeyCheckErrorCode = keyof typeof KEY_CHECK_ERROR_CODES;

export class KeyCheckError extends errorClass<KeyCheckErrorCode>('KeyCheckError', KEY_CHECK_ERROR_CODES) {}

export interface KeyCheckOptions {
  /** A Binance-compatible server (the paper exchange); default the real Binance. */
  paperUrl?: string;
  timeoutMs?: number;
}

/** Binance's GET /sapi/v1/account/apiRestrictions, the fields we read. */
interface ApiRestrictions {
  enableWithdrawals?: unknown;
  enableSpotAndMarginTrading?: unknown;
}

/**
 * Proves the keys work and are safe to keep on a device: they authenticate (fetchBalance)
 * and the key's own restrictions forbid withdrawals, so a stolen device can trade away value
 * at worst but never send it elsewhere. Absent fields count as unsafe.
 */
export async function checkKeys(keys: ExchangeKeys, opts: KeyCheckOptions = {}): Promise<void> {
  const exchange = createBinance({
    apiKey: keys.apiKey,
    secret: keys.secret,
    baseUrl: opts.paperUrl,
    timeoutMs: opts.timeoutMs,
  }) as binance;
  const key = fingerprint(keys.apiKey);
  const exchangeCall = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      const e = translateCcxtError(err);
      // The exchange's own words say which check failed; ccxt's message never holds the secret.
      const detail = e.message.replace(/^binance\s*/, '');
      if (e.code === 'E_AUTH') {
        throw new KeyCheckError('E_AUTH', `the exchange refused key ${key} (${what}: ${detail})`);
      }
      if (e.code === 'E_UNREACHABLE') {
        throw new KeyCheckError('E_UNREACHABLE', `the exchange did not answer (${what}: ${detail})`);
      }
      throw new KeyCheckError('E_EXCHANGE', `the exchange answered ${what} with an error: ${detail}`);
    }
  };

  await exchangeCall('fetchBalance', () => exchange.fetchBalance());
  const restrictions = (await exchangeCall('apiRestrictions', () =>
    exchange.sapiGetAccountApiRestrictions(),
  )) as ApiRestrictions;
  if (restrictions.enableWithdrawals !== false) {
    throw new KeyCheckError(
      'E_KEYS_CAN_WITHDRAW',
      `key ${key} is allowed to withdraw funds; refusing it: create an API key with withdrawals disabled (reading and spot trading only) and store it with \`signal-client keys set\``,
    );
  }
  if (restrictions.enableSpotAndMarginTrading !== true) {
    throw new KeyCheckError(
      'E_KEYS_CANNOT_TRADE',
      `key ${key} is not allowed to trade spot: enable spot trading for it on the exchange`,
    );
  }
}
