import { TOPICS, type Bus, type BusMessage, type Subscription } from '@appliance/protocol';

/** Something that takes the control topic's records one by one (Eligibility, HousePolicy). */
export interface ControlReader {
  onMessage(m: Pick<BusMessage, 'partition' | 'offset' | 'value'>): unknown;
}

/**
 * ONE subscription to the control topic, from its start (so what the control server retained
 * applies at once), each record handed to every reader in turn: the datafeed's eligibility and
 * house policy read the same records, and reading the topic once per reader would fetch and hold
 * each of them twice. Resolves once positioned, before the first candle is run.
 */
export async function followControlTopic(bus: Bus, readers: readonly ControlReader[]): Promise<Subscription> {
  const subscription = await bus.subscribe({
    topic: TOPICS.control,
    from: 'earliest',
    onMessage: (m) => {
      // Every reader gets the record even if one before it throws (as when each had its own
      // subscription); the first error then goes to the bus, as it did.
      let failure: { err: unknown } | undefined;
      for (const reader of readers) {
        try {
          reader.onMessage(m);
        } catch (err) {
          failure ??= { err };
        }
      }
      if (failure) throw failure.err;
    },
  });
  await subscription.ready;
  return subscription;
}
