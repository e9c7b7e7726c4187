export * from './logger.js';
export * from './config.js';
export * from './signing-key.js';
export * from './kafka-security.js';
export * from './durable-file.js';
export * from './shutdown.js';
export * from './binance.js';
export * from './allowed-hosts.js';
