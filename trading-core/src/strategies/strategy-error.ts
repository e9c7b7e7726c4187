import { errorClass } from '@appliance/errors';

/** Every way asking for a strategy by name can fail, as a stable code with its plain meaning. */
export const STRATEGY_ERROR_CODES = {
  E_UNKNOWN_STRATEGY: 'no strategy has that name',
  E_STRATEGY_PARAMS: "the parameters are not the strategy's, or out of range",
} as const;

export type StrategyErrorCode = keyof typeof STRATEGY_ERROR_CODES;

/** Thrown before any strategy exists: nothing is half-built. */
export class StrategyError extends errorClass('StrategyError', STRATEGY_ERROR_CODES) {
  constructor(code: StrategyErrorCode, message?: string) {
    super(code, message);
  }
}
