import type { Candle } from '@appliance/trading-core';

/** Deterministic PRNG (mulberry32): the same seed gives the same synthetic market. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
  const rnd = mulberry32(o.seed);
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
