import { errorClass } from '@appliance/errors';

/** Every way the candle store can fail, as a stable code with its plain meaning. */
export const CANDLE_STORE_ERROR_CODES = {
  E_BAD_SERIES: 'the symbol or timeframe is not one the store can name a file after',
  E_BAD_CANDLE: 'the candle is impossible (not finite, high below low, ...): nothing was stored',
  E_CORRUPT: 'a record before the last one is unreadable or out of order: the file needs a person',
  E_CLOSED: 'the store is closed',
} as const;
export type CandleStoreErrorCode = keyof typeof CANDLE_STORE_ERROR_CODES;

export class CandleStoreError extends errorClass('CandleStoreError', CANDLE_STORE_ERROR_CODES) {
  constructor(code: CandleStoreErrorCode, message?: string) {
    super(code, message);
  }
}
