export * from './sma.js';
export * from './ema.js';
export * from './volume-average.js';
export * from './rsi.js';
