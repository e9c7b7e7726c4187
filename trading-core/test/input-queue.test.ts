import t from 'tap';
import type { Candle } from '../src/candle.js';
import { InputQueue } from '../src/strategies/input-queue.js';
import { throwsExactly } from './helpers/throws.js';

const HOUR = 3_600_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % HOUR);
const at = (h: number, close = 1): Candle => ({
  time: T0 + h * HOUR,
  open: close,
  high: close,
  low: close,
  close,
  volume: 1,
});

/** What `release(before)` hands over, as `SYMBOL@hour`. */
function drain(q: InputQueue, beforeHour: number): string[] {
  const out: string[] = [];
  q.release(T0 + beforeHour * HOUR, (symbol, c) => out.push(`${symbol}@${(c.time - T0) / HOUR}`));
  return out;
}

t.test('only candles that opened strictly before the traded candle are released', async (t) => {
  const q = new InputQueue(['BTC/USDT']);
  q.push('BTC/USDT', at(0));
  q.push('BTC/USDT', at(1));
  q.push('BTC/USDT', at(2));
  t.same(drain(q, 1), ['BTC/USDT@0'], 'before 1h: the 0h candle only; 1h opened at the same time');
  t.equal(q.size, 2, 'the rest stays queued');
  t.same(drain(q, 1), [], 'nothing twice');
  t.same(drain(q, 3), ['BTC/USDT@1', 'BTC/USDT@2']);
  t.equal(q.size, 0);
});

t.test(
  'released oldest first across inputs, a tie in the order of inputs, whatever the push order',
  async (t) => {
    const pushes: [string, number][] = [
      ['ETH/USDT', 0],
      ['ETH/USDT', 1],
      ['BTC/USDT', 0],
      ['SOL/USDT', 1],
      ['BTC/USDT', 1],
      ['BTC/USDT', 2],
    ];
    const expected = ['BTC/USDT@0', 'ETH/USDT@0', 'BTC/USDT@1', 'ETH/USDT@1', 'SOL/USDT@1'];
    // Every interleaving that keeps each symbol in time order gives the same sequence.
    for (const order of [pushes, [...pushes].reverse().sort((a, b) => a[1] - b[1])]) {
      const q = new InputQueue(['BTC/USDT', 'ETH/USDT', 'SOL/USDT']);
      for (const [symbol, hour] of order) q.push(symbol, at(hour));
      t.same(drain(q, 2), expected, order.map(([s, h]) => `${s}@${h}`).join(' '));
      t.same(drain(q, 3), ['BTC/USDT@2']);
    }
  },
);

t.test(
  'a candle that arrives late is released before the next traded candle, never before its own time',
  async (t) => {
    const q = new InputQueue(['BTC/USDT']);
    t.same(drain(q, 1), [], 'nothing queued yet: the decision at 1h goes without it');
    q.push('BTC/USDT', at(0));
    t.same(drain(q, 2), ['BTC/USDT@0']);
  },
);

t.test('a long run keeps only what is still queued', async (t) => {
  const q = new InputQueue(['BTC/USDT']);
  let seen = 0;
  const waiting = new Set<number>();
  for (let h = 0; h < 5000; h++) {
    q.push('BTC/USDT', at(h, h + 1));
    q.push('BTC/USDT', at(h + 0.5, h + 1.5));
    seen += q.release(T0 + (h + 0.25) * HOUR, () => undefined);
    waiting.add(q.size);
    seen += q.release(T0 + (h + 1) * HOUR, () => undefined);
  }
  t.same([...waiting], [1], 'each hour the half-hour candle waits for the next release');
  t.equal(seen, 10_000, 'every candle released once');
  t.equal(q.size, 0);
});

t.test('a symbol that is not an input, or a candle out of order, is a bug in the caller', async (t) => {
  const q = new InputQueue(['BTC/USDT']);
  throwsExactly(t, () => q.push('ETH/USDT', at(0)), {
    name: 'RangeError',
    message: 'ETH/USDT is not an input (inputs: BTC/USDT)',
  });
  q.push('BTC/USDT', at(1));
  throwsExactly(t, () => q.push('BTC/USDT', at(1)), {
    name: 'RangeError',
    message: `BTC/USDT input candle at ${T0 + HOUR} is not after the previous one at ${T0 + HOUR}`,
  });
  t.equal(q.size, 1, 'the refused candles are not queued');
});
