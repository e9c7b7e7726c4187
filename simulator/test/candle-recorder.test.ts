import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import pino from 'pino';
import {
  EmbeddedBus,
  KeyRing,
  TOPICS,
  createCandle,
  exportPublicKey,
  generateSigner,
  type CandleMessage,
} from '@appliance/protocol';
import { waitFor } from '@appliance/test-kit';
import { CandleRecorder } from '../src/node/candle-recorder.js';
import { CandleStore } from '../src/node/candle-store.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);
const logger = pino({ level: 'silent' });
const feed = generateSigner();
const forger = generateSigner();
const keys = KeyRing.of(exportPublicKey(feed.publicKey));

function candle(i: number, signer = feed, close = 100 + i): CandleMessage {
  return createCandle(
    {
      origin: 'feed-1',
      symbol: 'BTC/USDT',
      timeframe: '1h',
      time: T0 + i * HOUR,
      open: close,
      high: close + 1,
      low: close - 1,
      close,
      volume: 5,
      ts: T0 + (i + 1) * HOUR,
    },
    signer,
  );
}

async function publish(bus: EmbeddedBus, ...values: (CandleMessage | string)[]) {
  await bus.publish(
    TOPICS.candles,
    values.map((v) => ({ key: 'BTC/USDT', value: typeof v === 'string' ? v : JSON.stringify(v) })),
  );
}

t.test(
  'verified candles from the bus are stored; forged, altered and redelivered ones are not',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'candle-recorder-'));
    const bus = new EmbeddedBus();
    const store = await CandleStore.open({ dir, logger });
    const recorder = new CandleRecorder({ bus, store, keys, logger });
    await recorder.start();
    const altered = { ...candle(3), close: 90, low: 80 };
    await publish(
      bus,
      candle(0),
      candle(1),
      candle(1),
      candle(2, forger),
      altered,
      'not json',
      candle(2, feed, 50),
      candle(5),
    );
    await waitFor(() => {
      const s = recorder.stats();
      return s.stored + s.duplicate + Object.values(s.dropped).reduce((a, b) => a + b, 0) >= 8;
    }, 'every record handled');
    t.match(recorder.stats(), {
      stored: 4,
      duplicate: 1,
      conflict: 0,
      dropped: { 'unknown-key': 1, 'bad-signature': 1, malformed: 1 },
    });
    t.same(
      (await store.read('BTC/USDT', '1h')).map((c) => [c.time, c.close]),
      [
        [T0, 100],
        [T0 + HOUR, 101],
        [T0 + 2 * HOUR, 50],
        [T0 + 5 * HOUR, 105],
      ],
    );
    t.same(store.gaps(), [
      { symbol: 'BTC/USDT', timeframe: '1h', from: T0 + 3 * HOUR, to: T0 + 4 * HOUR, missing: 2 },
    ]);
    await recorder.stop();
    await store.close();

    // A restart reads the topic from the start again: all of it is already held.
    const again = await CandleStore.open({ dir, logger });
    const second = new CandleRecorder({ bus, store: again, keys, logger });
    await second.start();
    await publish(bus, candle(6));
    await waitFor(() => second.stats().stored >= 1, 'the new candle stored');
    t.match(second.stats(), { stored: 1, duplicate: 5 });
    t.equal((await again.read('BTC/USDT', '1h')).length, 5);
    await second.stop();
    await again.close();
  },
);
