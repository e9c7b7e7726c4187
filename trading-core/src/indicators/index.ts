export * from './sma.js';
export * from './ema.js';
export * from './volume-average.js';
export * from './rsi.js';
export * from './atr.js';
export * from './donchian.js';
export * from './bollinger.js';
export * from './macd.js';
