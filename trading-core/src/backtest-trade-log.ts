import type { BacktestTrade } from './backtest.js';
import type { OrderSide } from './fill-model.js';

/** Numbers kept per trade: quantity, price, notional, fee, time. */
const FIELDS = 5;
const BUY = 1;

/**
 * A backtest's trades as they are booked, five numbers and a side byte each in typed arrays,
 * made into `BacktestTrade` objects once at the end.
 *
 * Why not an array of objects from the start: every trade lives to the end of the run, so an
 * array of them is an old object pointing at young ones, and each young-generation collection
 * during the run rescans all of it. Measured on real candles with a fill every other candle,
 * pushing objects cost about 110 ns a fill more than this (issue #11; docs/benchmarks.md).
 */
export class TradeLog {
  #count = 0;
  #numbers = new Float64Array(64 * FIELDS);
  #sides = new Uint8Array(64);

  add(side: OrderSide, quantity: number, price: number, notional: number, fee: number, time: number): void {
    const i = this.#count;
    if (i === this.#sides.length) this.#grow();
    const numbers = this.#numbers;
    const k = i * FIELDS;
    numbers[k] = quantity;
    numbers[k + 1] = price;
    numbers[k + 2] = notional;
    numbers[k + 3] = fee;
    numbers[k + 4] = time;
    this.#sides[i] = side === 'buy' ? BUY : 0;
    this.#count = i + 1;
  }

  /** Every trade so far, oldest first, as new objects. */
  toArray(): BacktestTrade[] {
    const numbers = this.#numbers;
    const sides = this.#sides;
    const out: BacktestTrade[] = [];
    for (let i = 0; i < this.#count; i++) {
      const k = i * FIELDS;
      out.push({
        side: sides[i] === BUY ? 'buy' : 'sell',
        quantity: numbers[k]!,
        price: numbers[k + 1]!,
        notional: numbers[k + 2]!,
        fee: numbers[k + 3]!,
        time: numbers[k + 4]!,
      });
    }
    return out;
  }

  #grow(): void {
    const numbers = new Float64Array(this.#numbers.length * 2);
    numbers.set(this.#numbers);
    const sides = new Uint8Array(this.#sides.length * 2);
    sides.set(this.#sides);
    this.#numbers = numbers;
    this.#sides = sides;
  }
}
