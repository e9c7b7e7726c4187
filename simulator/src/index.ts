export * from './windows.js';
export * from './metrics.js';
export * from './deflated-sharpe.js';
export * from './walk-forward.js';
export * from './eligibility.js';
export * from './data-check.js';
