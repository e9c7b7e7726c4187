// What a gateway sends a device.
import { z } from 'zod';
import { deviceId, offset, partitionKey, streamName } from './fields.js';

/** A gateway's id (`--gateway-id`), as its options accept it. */
const gatewayId = z.string().regex(/^[a-z0-9-]{1,32}$/, 'gateway: lowercase letters, digits and -');

/**
 * Every frame a gateway sends. Gateways build them as strings (a signed message is relayed byte
 * for byte, as parsed JSON inside the frame); gateway/test/frames.test.ts checks that each kind
 * they build parses here, and the device parses every frame with this before acting on it. The
 * signed payloads stay `unknown`: the device verifies them itself.
 */
export const GatewayFrame = z.discriminatedUnion('type', [
  /** First frame on a connection, before hello. */
  z.strictObject({ type: z.literal('welcome'), gateway: gatewayId, deviceId }),
  /** A verified signal record of `stream`, at `offset` of its partition. */
  z.strictObject({ type: z.literal('signal'), stream: streamName, offset, signal: z.unknown() }),
  /** A verified control message, at `offset` of the control topic. */
  z.strictObject({ type: z.literal('control'), offset, control: z.unknown() }),
  /** Sent once after the missed signals of a resume, before live ones. */
  z.strictObject({
    type: z.literal('caught-up'),
    positions: z.record(streamName, offset),
    /**
     * Per partition, the gateway's position as the device goes live: its next hello's `since`.
     * Always sent; absent only from gateways older than `since` (the device then keeps none).
     */
    partitions: z.record(partitionKey, offset).optional(),
  }),
  /**
   * Every decision report and command acknowledgement up to and including `seq` has reached the
   * bus: the device may forget them.
   */
  z.strictObject({
    type: z.literal('ack'),
    seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  }),
]);
export type GatewayFrame = z.infer<typeof GatewayFrame>;
