import type { Logger } from 'pino';
import {
  TOPICS,
  type Bus,
  type CommandAckBatch,
  type CommandAckBusRecord,
  type DecisionBatch,
  type DecisionBusRecord,
  type DeviceFrame,
} from '@appliance/protocol';
import type { GatewayMetrics } from './metrics.js';
import type { GatewayOptions } from './options.js';
import type { Session } from './session.js';

/** What the gateway adds to every record it writes for a device. */
interface Stamp {
  scope: string;
  gateway: string;
  remote: string;
  receivedAt: number;
}

/**
 * `decisions` and `command-acks` frames of one connection waiting for the bus. While the bus is down a device's
 * further batches are dropped beyond this (no ack: it sends them again), so memory stays bounded.
 */
const MAX_PENDING_DECISION_BATCHES = 8;

export interface TelemetryDeps {
  bus: Bus;
  options: Pick<GatewayOptions, 'gatewayId'>;
  metrics: GatewayMetrics;
  logger: Logger;
  /** A rate-limited warning (warn-limiter.ts). */
  warn: (kind: string, obj: object, msg: string) => void;
  now: () => number;
}

export type Telemetry = ReturnType<typeof createTelemetry>;

/**
 * What devices report, onto `device-telemetry`: every frame stamped with the authenticated
 * device's scope, this gateway, the device's address and when it arrived.
 */
export function createTelemetry({ bus, options, metrics, logger, warn, now }: TelemetryDeps) {
  /** A frame other than hello or decisions: published as it came, stamped; no ack. */
  function forward(
    session: Session,
    frame: Exclude<DeviceFrame, { type: 'hello' | 'decisions' | 'command-acks' }>,
  ): void {
    const record = {
      ...frame,
      scope: session.claims.scope,
      gateway: options.gatewayId,
      remote: session.remote,
      receivedAt: now(),
    };
    bus
      .publish(TOPICS.telemetry, [{ key: frame.deviceId, value: JSON.stringify(record) }])
      .catch((err: unknown) => {
        logger.warn({ err, device: frame.deviceId }, 'could not publish telemetry');
      });
  }

  /**
   * Each report of a batch becomes a telemetry record of its own, stamped like any other frame,
   * with `seq` numbering it. Once the bus has them all, the device gets `ack` with the highest
   * seq such that every report of this connection up to it is stored: acks are cumulative, so a
   * batch after a lost one is published but not acknowledged until the lost one is sent again.
   * The device sends its outbox oldest first on each connection; what gets no ack it sends again
   * (the fleet view drops a (device, seq) it already has). Batches of a connection go to the bus
   * one after another, so acks come in order.
   */
  function decisions(session: Session, batch: DecisionBatch): void {
    const stamp = stampOf(session);
    publishBatch(
      session,
      batch,
      (i) => {
        const record: DecisionBusRecord & Stamp = {
          type: 'decision',
          deviceId: batch.deviceId,
          decision: batch.decisions[i]!,
          seq: batch.seq + i,
          ...stamp,
        };
        return record;
      },
      batch.decisions.length,
    );
  }

  /**
   * Command acknowledgements: one record `{type: 'command-ack', deviceId, seq, ack}` per ack,
   * stamped, and acknowledged exactly as decision reports are: the device numbers both in one
   * sequence and keeps both in one outbox, so an `ack` covers whatever it sent up to `seq`.
   */
  function commandAcks(session: Session, batch: CommandAckBatch): void {
    const stamp = stampOf(session);
    publishBatch(
      session,
      batch,
      (i) => {
        const record: CommandAckBusRecord & Stamp = {
          type: 'command-ack',
          deviceId: batch.deviceId,
          seq: batch.seq + i,
          ack: batch.acks[i]!,
          ...stamp,
        };
        return record;
      },
      batch.acks.length,
    );
  }

  function stampOf(session: Session): Stamp {
    return {
      scope: session.claims.scope,
      gateway: options.gatewayId,
      remote: session.remote,
      receivedAt: now(),
    };
  }

  /** Publishes `count` records numbered from `batch.seq`, then acks in order (see `decisions`). */
  function publishBatch(
    session: Session,
    batch: { deviceId: string; seq: number },
    record: (i: number) => object,
    count: number,
  ): void {
    const d = session.decisions;
    if (d.queued >= MAX_PENDING_DECISION_BATCHES) {
      metrics.dropped.inc({ reason: 'decisions-backlog' });
      warn(
        'decisions-backlog',
        { device: batch.deviceId },
        'decision reports waiting for the bus: batch not taken',
      );
      return;
    }
    d.stored ??= batch.seq - 1;
    const records = Array.from({ length: count }, (_, i) => ({
      key: batch.deviceId,
      value: JSON.stringify(record(i)),
    }));
    const last = batch.seq + count - 1;
    d.queued++;
    d.chain = d.chain
      .then(() => bus.publish(TOPICS.telemetry, records))
      .then(
        () => {
          if (d.stored === undefined || batch.seq > d.stored + 1) return; // a lost batch before it
          d.stored = Math.max(d.stored, last);
          if (!session.closing && session.ws.readyState === session.ws.OPEN)
            session.ws.send(JSON.stringify({ type: 'ack', seq: d.stored }));
        },
        (err: unknown) => {
          metrics.dropped.inc({ reason: 'decisions-publish-failed' });
          warn(
            'decisions-publish-failed',
            { err, device: batch.deviceId },
            'could not publish decision reports: not acknowledged',
          );
        },
      )
      .finally(() => d.queued--);
  }

  return { forward, decisions, commandAcks };
}
