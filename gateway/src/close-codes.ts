/** WebSocket close codes the gateway uses, and when. Listed in docs/errors.md. */
export const CLOSE = {
  /** Frame was not valid JSON. */
  INVALID_JSON: 1007,
  /** Frame parsed but broke the protocol (schema, wrong device id, no hello). */
  POLICY: 1008,
  /** Binary frames are not part of the protocol. */
  UNSUPPORTED: 1003,
  /**
   * Frame larger than maxPayload, or a first frame larger than maxHelloBytes (sent by ws itself,
   * without a reason), or a first frame over maxPayload that is not a hello.
   */
  TOO_BIG: 1009,
  /** The device is not reading fast enough: reconnect later and resume from its offsets. */
  TRY_AGAIN_LATER: 1013,
  /** Gateway shutting down: reconnect elsewhere. */
  GOING_AWAY: 1001,
  /**
   * Another connection authenticated as the same device: one live connection per device on each
   * gateway, the newest wins (as MQTT brokers and Kafka's group coordinator do). Private-use
   * range (4000-4999): the device treats it like any close and reconnects with backoff.
   */
  REPLACED: 4001,
} as const;

/** RFC 6455 limits a close reason to 123 bytes. */
export function closeReason(text: string): string {
  let out = text;
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}
