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
  /**
   * Hello frames may be larger than `maxPayload`, up to this many bytes: a device that saved
   * resume points for many streams (a stream-name flood from before the gateway verified
   * signals) must not be refused with 1009 at every connection for ever. Only the first frame
   * of a connection may be this large, and only if it is a hello; its resume points for streams
   * the gateway does not know are ignored.
   */
  maxHelloBytes: 1024 * 1024,
  /**
   * Frames a device may send per second, sustained. A device sends telemetry every few seconds
   * and decision reports as they happen (a few a minute); this is ample.
   */
  inboundRatePerSec: 10,
  /**
   * Frames a device may send at once above the sustained rate. After an outage (its connection
   * or the bus) a device sends: hello, one telemetry frame, and its outbox of unacknowledged
   * decision reports in `decisions` frames of up to 50 reports each. With 30, an outbox of
   * 164 reports (the bus-outage test's) took 4 frames; 60 leaves room for an outbox of
   * 2,500 reports (50 frames) in one go, while a device that floods is still cut off within a
   * few seconds. Before batching, each report was a frame of its own, and the catch-up burst of
   * reports tripped the limit on every device at once (issue #8, finding 14).
   */
  inboundBurst: 60,
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
  /**
   * Refuse credentials that are not bound to a device key (no `cnf`: issued by the old
   * `POST /api/devices/:id/token` rather than by enrolment). Bound credentials always need their
   * proof, whatever this says. On in a tunnel deployment (docs/enrolment.md).
   */
  requireBoundCredentials: false,
  /**
   * Largest signal or control record the gateway relays, in bytes; larger records are dropped.
   * Well under the device's WebSocket `maxPayload` (1 MiB): a frame the device cannot take
   * closes its socket before it learns the offset, so every resume would send it again.
   * A genuine signal is under 1 KiB. Revocation lists, which are never relayed, may be larger
   * (up to `MAX_REVOCATION_BYTES`).
   */
  maxRecordBytes: 256 * 1024,
  /**
   * Most streams the gateway keeps a ring for. Streams come only from verified signals, so this
   * binds memory (`maxStreams × ringCapacity` signals) even if a datafeed key is misused;
   * signals of further streams are dropped with a warning and `gateway_dropped_total{reason="too-many-streams"}`.
   */
  maxStreams: 256,
  /**
   * Most control scopes (breaker, heartbeat, eligibility per stream, policy per profile) the
   * gateway keeps and sends at every hello. Scopes come only from verified control messages;
   * large enough for a control message per device. Beyond: dropped with a warning and
   * `gateway_dropped_total{reason="too-many-control-scopes"}`.
   */
  maxControlScopes: 10_000,
};

/** Largest revocation list accepted (never relayed to devices, so not bound by `maxRecordBytes`). */
export const MAX_REVOCATION_BYTES = 8 * 1024 * 1024;
/** Room a relayed record needs in the frame around it: the device's 1 MiB minus this. */
const MAX_RELAYED_RECORD_BYTES = 1024 * 1024 - 1024;

export const GatewayOptions = z
  .strictObject({
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
    requireBoundCredentials: z.boolean().default(DEFAULT_GATEWAY_OPTIONS.requireBoundCredentials),
    maxHelloBytes: z
      .number()
      .int()
      .min(1024)
      .max(16 * 1024 * 1024)
      .default(DEFAULT_GATEWAY_OPTIONS.maxHelloBytes),
    maxRecordBytes: z
      .number()
      .int()
      .min(1024)
      .max(MAX_RELAYED_RECORD_BYTES)
      .default(DEFAULT_GATEWAY_OPTIONS.maxRecordBytes),
    maxStreams: z.number().int().min(1).max(100_000).default(DEFAULT_GATEWAY_OPTIONS.maxStreams),
    maxControlScopes: z
      .number()
      .int()
      .min(16)
      .max(1_000_000)
      .default(DEFAULT_GATEWAY_OPTIONS.maxControlScopes),
  })
  .superRefine((o, ctx) => {
    if (o.maxHelloBytes < o.maxPayload)
      ctx.addIssue({
        code: 'custom',
        path: ['maxHelloBytes'],
        message: `maxHelloBytes (${o.maxHelloBytes}) must be at least maxPayload (${o.maxPayload})`,
      });
  });
export type GatewayOptions = z.infer<typeof GatewayOptions>;
