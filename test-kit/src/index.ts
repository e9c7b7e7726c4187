export * from './errors.js';
export * from './kafka-mock.js';
export * from './wait.js';
export * from './process.js';
export * from './tls.js';
export * from './frames.js';
export * from './clock.js';
