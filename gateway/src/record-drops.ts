import type { BusMessage } from '@appliance/protocol';
import type { GatewayMetrics } from './metrics.js';
import type { RecordDropReason } from './record-filter.js';

/** Why a bus record was not taken: a check failed (record-filter.ts), or a bound or version said no. */
export type DropReason = RecordDropReason | 'too-many-streams' | 'too-many-control-scopes' | 'stale-control';

/** Counts and (rate-limited) logs a bus record that is not relayed; returns undefined to end its handler. */
export type DropRecord = (reason: DropReason, m: BusMessage, detail: string) => undefined;

export interface RecordDropsDeps {
  metrics: GatewayMetrics;
  /** A rate-limited warning (warn-limiter.ts): a writer flooding bad records must not flood the logs. */
  warn: (kind: string, obj: object, msg: string) => void;
}

/** The bus records this gateway has not relayed: `stats().dropped` and `gateway_dropped_total`. */
export function createRecordDrops({ metrics, warn }: RecordDropsDeps) {
  let dropped = 0;
  const drop: DropRecord = (reason, m, detail) => {
    dropped++;
    metrics.dropped.inc({ reason });
    warn(
      reason,
      { topic: m.topic, partition: m.partition, offset: m.offset, detail },
      `dropping ${m.topic} record: ${reason}`,
    );
    return undefined;
  };
  return {
    drop,
    /** Records dropped since start. */
    count: () => dropped,
  };
}
