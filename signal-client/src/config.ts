import { z } from 'zod';

const publicKey = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'base64url Ed25519 public key (43 characters)');

/** The device's configuration file. Secrets are never in it: API keys come from the keystore. */
export const ClientConfig = z.strictObject({
  deviceId: z.string().regex(/^[a-z0-9][a-z0-9-]{2,63}$/),
  gatewayUrl: z.string().regex(/^wss?:\/\//, 'gatewayUrl: ws:// or wss:// URL'),
  /** Device token issued by the control server at provisioning. */
  token: z.string().min(10),
  quote: z.string().default('USDT'),
  /** Streams this device acts on; signals of other streams are skipped. Empty: all. */
  streams: z.array(z.string()).default([]),
  /** Keys pinned at provisioning: datafeed nodes (signals) and the control server (control). */
  signalKeys: z.array(publicKey).min(1),
  controlKeys: z.array(publicKey).min(1),
  policy: z
    .strictObject({
      orderQuote: z.number().positive().default(100),
      maxSpendPerDay: z.number().positive().default(500),
      costBufferBps: z.number().min(0).max(1000).default(50),
    })
    .prefault({}),
  settings: z.strictObject({ paused: z.boolean().default(false) }).prefault({}),
  stateFile: z.string().min(1),
  exchange: z
    .strictObject({
      paperUrl: z.string().url().optional(),
      timeoutMs: z.number().int().positive().default(10_000),
    })
    .prefault({}),
  /** How an order whose outcome is unknown is settled (see signal-client/src/execution.ts). */
  execution: z
    .strictObject({
      notFoundGraceMs: z.number().int().min(0).default(30_000),
      notFoundLookups: z.number().int().min(1).default(3),
      lookupIntervalMs: z.number().int().min(10).default(1_000),
    })
    .prefault({}),
  telemetryIntervalMs: z.number().int().min(100).default(5_000),
  maxClockSkewMs: z.number().int().min(0).default(5_000),
});
export type ClientConfig = z.infer<typeof ClientConfig>;
