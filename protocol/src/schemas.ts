// Every message on the wire, as zod schemas: one module per family of messages (schemas/), and
// this file the one place the rest of the package and its users import them from. The field
// schemas the modules share (schemas/fields.ts) stay inside the package.
export * from './schemas/limits.js';
export * from './schemas/market.js';
export * from './schemas/control-messages.js';
export * from './schemas/device-token-claims.js';
export * from './schemas/device-frames.js';
export * from './schemas/gateway-frames.js';
export * from './schemas/simulator-result.js';
export * from './schemas/feed-report.js';
