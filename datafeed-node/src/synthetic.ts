import { seededRandom, type Candle } from '@appliance/trading-core';

/**
 * Synthetic candles: a geometric random walk with trending regimes, so that crossovers happen.
 * Only for running the system with no data and no network; every signal built on them says so
 * in its stream name (`…-synthetic`).
 */
export function* syntheticCandles(o: {
  start: number;
  stepMs: number;
  price: number;
  seed: number;
}): Generator<Candle> {
  const rnd = seededRandom(o.seed);
  let price = o.price;
  let drift = 0;
  for (let time = o.start; ; time += o.stepMs) {
    if (rnd() < 0.05) drift = (rnd() - 0.5) * 0.004;
    const open = price;
    const close = Math.max(0.01, open * (1 + drift + (rnd() - 0.5) * 0.01));
    const high = Math.max(open, close) * (1 + rnd() * 0.003);
    const low = Math.min(open, close) * (1 - rnd() * 0.003);
    const volume = 100 * (0.5 + rnd() * (Math.abs(close - open) / open > 0.003 ? 3 : 1));
    price = close;
    yield { time, open, high, low, close, volume };
  }
}
