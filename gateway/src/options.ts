import { z } from 'zod';

/** Defaults for every gateway option, with units. */
export const DEFAULT_GATEWAY_OPTIONS = {
  /** Largest frame a device may send, in bytes; larger frames close the socket with 1009. */
  maxPayload: 64 * 1024,
  /** Interval between pings; a peer that missed a pong by the next ping is dropped. */
  pingIntervalMs: 15_000,
  /** A device must send `hello` within this time after connecting. */
  helloTimeoutMs: 10_000,
  /** Signals kept per stream to answer resumes. */
  ringCapacity: 10_000,
  /** This gateway's name in logs, metrics and the telemetry it forwards. */
  gatewayId: 'gw-1',
  /** Messages a device may send per second, sustained (telemetry and decisions are a few a minute). */
  inboundRatePerSec: 10,
  /** Messages a device may send in a burst above the sustained rate. */
  inboundBurst: 30,
  /**
   * A device whose unsent data passes this many bytes is not keeping up: it is closed with 1013
   * and resumes later from its offsets, so one slow reader cannot grow the gateway's memory.
   */
  sendHighWaterBytes: 1024 * 1024,
  /**
   * Connections start with a PROXY protocol v2 header (behind HAProxy's send-proxy-v2), so the
   * gateway sees each device's tunnel address. Mandatory when on: off without HAProxy.
   */
  proxyProtocol: false,
};

export const GatewayOptions = z.strictObject({
  maxPayload: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024)
    .default(DEFAULT_GATEWAY_OPTIONS.maxPayload),
  pingIntervalMs: z.number().int().min(100).default(DEFAULT_GATEWAY_OPTIONS.pingIntervalMs),
  helloTimeoutMs: z.number().int().min(100).default(DEFAULT_GATEWAY_OPTIONS.helloTimeoutMs),
  ringCapacity: z.number().int().min(1).default(DEFAULT_GATEWAY_OPTIONS.ringCapacity),
  gatewayId: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/)
    .default(DEFAULT_GATEWAY_OPTIONS.gatewayId),
  inboundRatePerSec: z.number().positive().default(DEFAULT_GATEWAY_OPTIONS.inboundRatePerSec),
  inboundBurst: z.number().int().min(1).default(DEFAULT_GATEWAY_OPTIONS.inboundBurst),
  sendHighWaterBytes: z.number().int().min(1024).default(DEFAULT_GATEWAY_OPTIONS.sendHighWaterBytes),
  proxyProtocol: z.boolean().default(DEFAULT_GATEWAY_OPTIONS.proxyProtocol),
});
export type GatewayOptions = z.infer<typeof GatewayOptions>;
