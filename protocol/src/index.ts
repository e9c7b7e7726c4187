export * from './errors.js';
export * from './canonical.js';
export * from './schemas.js';
export * from './topics.js';
export * from './keys.js';
export * from './signing.js';
export * from './signal.js';
export * from './candle.js';
export * from './control.js';
export * from './device-token.js';
export * from './replay-guard.js';
export * from './bus.js';
export { EmbeddedBus, DEFAULT_EMBEDDED_RETENTION, type EmbeddedBusOptions } from './embedded-bus.js';
export {
  KafkaBus,
  KafkaBusError,
  createKafkaBus,
  type KafkaBusOptions,
  type KafkaTlsOptions,
  type KafkaSaslOptions,
  type KafkaBusErrorCode,
  type BusLogger,
} from './kafka-bus.js';
export * from './offsets.js';
