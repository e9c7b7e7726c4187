import type { BusMessage } from '@appliance/protocol';
import type { GatewayOptions } from './options.js';
import type { DropRecord } from './record-drops.js';
import { checkSignalRecord, type RelayedSignal, type SignalCheck } from './record-filter.js';
import { StreamRing } from './stream-ring.js';

export interface StreamStoreDeps {
  options: Pick<GatewayOptions, 'ringCapacity' | 'maxStreams'>;
  /** How a signal record is verified (record-filter.ts): keys, partitions, size. */
  signalCheck: SignalCheck;
  drop: DropRecord;
}

export type StreamStore = ReturnType<typeof createStreamStore>;

/**
 * What this gateway has read of the signals topic: a ring of recent verified signals per stream
 * (at most `maxStreams`), and per partition the offset of the newest record read.
 */
export function createStreamStore({ options, signalCheck, drop }: StreamStoreDeps) {
  const rings = new Map<string, StreamRing>();
  /** Per partition of the signals topic, the offset of the newest record read. */
  const heads = new Map<string, string>();

  /**
   * Takes a record read from the signals topic: the verified signal, now in its stream's ring,
   * or undefined if it was dropped.
   */
  function take(m: BusMessage): RelayedSignal | undefined {
    // Heads are positions, not content: every record read, verified or not, moves its
    // partition's head. A device's `since` says "everything up to here was considered when I
    // went live"; a dropped record is considered too, and a stream only begins (a ring only
    // exists) with a verified record, so no genuine signal at or before a head is ever owed.
    heads.set(String(m.partition), m.offset);
    const checked = checkSignalRecord(m, signalCheck);
    if (!checked.ok) return drop(checked.reason, m, checked.detail);
    const { stream, frame } = checked;
    let ring = rings.get(stream);
    if (!ring) {
      if (rings.size >= options.maxStreams)
        return drop('too-many-streams', m, `${rings.size} streams held; ${stream} is not taken`);
      rings.set(stream, (ring = new StreamRing(options.ringCapacity, m.partition)));
    }
    ring.push({ offset: m.offset, frame });
    return checked;
  }

  return {
    take,
    /** Checks a record read back from the bus like every other: rings hold verified ones only. */
    check: (m: BusMessage) => checkSignalRecord(m, signalCheck),
    rings: rings as ReadonlyMap<string, StreamRing>,
    heads: heads as ReadonlyMap<string, string>,
  };
}
