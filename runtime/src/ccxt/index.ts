/**
 * `@appliance/runtime/ccxt`: ccxt behind its own entry point, so only the processes that talk to
 * an exchange load it (ccxt is most of a process's memory; the gateway never needs it).
 */
export * from './binance.js';
export { ccxt, type Exchange } from './classes.js';
