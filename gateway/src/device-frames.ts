import type { RawData } from 'ws';
import type { Logger } from 'pino';
import { DeviceFrame } from '@appliance/protocol';
import { CLOSE } from './close-codes.js';
import type { GatewayMetrics } from './metrics.js';
import type { GatewayOptions } from './options.js';
import type { Resume } from './resume.js';
import type { Session, Sessions } from './session.js';
import type { Telemetry } from './telemetry.js';

export interface DeviceFramesDeps {
  options: Pick<GatewayOptions, 'maxPayload'>;
  sessions: Sessions;
  resume: Resume;
  telemetry: Telemetry;
  metrics: GatewayMetrics;
  logger: Logger;
  now: () => number;
}

/**
 * What a device sends, checked before anything acts on it: the inbound rate, text only, size,
 * JSON, `DeviceFrame`'s schema and the token's device id; then hello to the resume, everything
 * else (only after hello) to telemetry. Any violation closes the connection.
 */
export function createDeviceFrames({
  options,
  sessions,
  resume,
  telemetry,
  metrics,
  logger,
  now,
}: DeviceFramesDeps) {
  const { refuse } = sessions;

  return function onFrame(session: Session, data: RawData, isBinary: boolean): void {
    if (session.closing) return;
    if (!session.inbound.take(now())) {
      metrics.dropped.inc({ reason: 'rate-limit' });
      return refuse(session, CLOSE.POLICY, 'too many messages: rate limit exceeded');
    }
    if (isBinary) return refuse(session, CLOSE.UNSUPPORTED, 'binary frames are not accepted');
    // Only a connection's first frame may be larger than maxPayload, and only if it is a hello
    // (ws holds every frame to the larger hello limit, http.ts).
    const first = !session.ready && !session.helloing;
    const oversized = byteLength(data) > options.maxPayload;
    const tooBig = () => refuse(session, CLOSE.TOO_BIG, 'frame larger than maxPayload');
    if (oversized && !first) return tooBig();
    let json: unknown;
    try {
      json = JSON.parse(data.toString());
    } catch {
      return oversized ? tooBig() : refuse(session, CLOSE.INVALID_JSON, 'frame is not valid JSON');
    }
    const parsed = DeviceFrame.safeParse(json);
    if (!parsed.success) {
      if (oversized) return tooBig();
      const issue = parsed.error.issues[0];
      return refuse(
        session,
        CLOSE.POLICY,
        `malformed frame: ${issue?.path.join('.') || 'frame'}: ${issue?.message}`,
      );
    }
    const frame = parsed.data;
    if (oversized && frame.type !== 'hello') return tooBig();
    metrics.received.inc({ type: frame.type });
    if (frame.deviceId !== session.claims.sub)
      return refuse(session, CLOSE.POLICY, 'device id does not match token');
    if (frame.type === 'hello') {
      resume.hello(session, frame.resume, frame.since).catch((err: unknown) => {
        logger.error({ err, device: session.claims.sub }, 'resume failed');
        refuse(session, CLOSE.GOING_AWAY, 'resume failed: reconnect');
      });
      return;
    }
    if (!session.ready && !session.helloing) return refuse(session, CLOSE.POLICY, 'hello must come first');
    if (frame.type === 'decisions') return telemetry.decisions(session, frame);
    if (frame.type === 'command-acks') return telemetry.commandAcks(session, frame);
    telemetry.forward(session, frame);
  };
}

/** Bytes of a frame as ws hands it over. */
function byteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data.byteLength;
}
