export * from './candle.js';
export * from './fill-model.js';
