export { Breaker, stricter } from './breaker.js';
export { BREAKER_ERROR_CODES, BreakerError, type BreakerErrorCode } from './breaker-error.js';
export { BreakerConfig, DEFAULT_BREAKER_CONFIG, type BreakerConfigInput } from './config.js';
export * from './types.js';
