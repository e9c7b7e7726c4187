import type { Candle } from '../candle.js';

/**
 * The candles of a strategy's `inputs`, held until the caller may hand them over. Just before
 * the strategy's `onCandle(t)`, `release(t, ...)` hands over every queued input candle that
 * opened before t and keeps the rest: an input candle that opened at t or later is never seen
 * by the decision at t, however early the bus brought it. Released candles come oldest first,
 * candles of one time in the order of `inputs`, so the sequence a strategy sees does not depend
 * on which symbol's candle happened to arrive first.
 *
 * An input candle that arrives after a later traded candle is still handed over (before the
 * next traded candle): late, never early.
 */
export class InputQueue {
  readonly #symbols: readonly string[];
  /** Per input symbol (index as in `inputs`): its queued candles in time order, from `#heads[i]` on. */
  readonly #queues: Candle[][];
  readonly #heads: number[];
  readonly #lastTime: number[];

  constructor(inputs: readonly string[]) {
    this.#symbols = [...new Set(inputs)];
    this.#queues = this.#symbols.map(() => []);
    this.#heads = this.#symbols.map(() => 0);
    this.#lastTime = this.#symbols.map(() => Number.NEGATIVE_INFINITY);
  }

  /** Input candles queued and not yet released. */
  get size(): number {
    let n = 0;
    for (let i = 0; i < this.#queues.length; i++) n += this.#queues[i]!.length - this.#heads[i]!;
    return n;
  }

  /**
   * Queues a closed candle of one of the inputs. Each symbol's candles must come in strictly
   * increasing time, as the strategy contract promises them: anything else is a bug in the
   * caller, so it throws a RangeError rather than reorder.
   */
  push(symbol: string, candle: Candle): void {
    const i = this.#symbols.indexOf(symbol);
    if (i < 0) throw new RangeError(`${symbol} is not an input (inputs: ${this.#symbols.join(', ')})`);
    if (!(candle.time > this.#lastTime[i]!))
      throw new RangeError(
        `${symbol} input candle at ${candle.time} is not after the previous one at ${this.#lastTime[i]!}`,
      );
    this.#lastTime[i] = candle.time;
    this.#queues[i]!.push(candle);
  }

  /**
   * Hands `deliver` every queued candle with open time < `before` (oldest first, a tie in the
   * order of `inputs`) and drops them from the queue. Returns how many it handed over.
   */
  release(before: number, deliver: (symbol: string, candle: Candle) => void): number {
    let released = 0;
    for (;;) {
      // A k-way merge over a handful of inputs: a linear scan beats a heap at this size.
      let pick = -1;
      let pickTime = before;
      for (let i = 0; i < this.#queues.length; i++) {
        const head = this.#queues[i]![this.#heads[i]!];
        if (head !== undefined && head.time < pickTime) {
          pick = i;
          pickTime = head.time;
        }
      }
      if (pick < 0) break;
      const candle = this.#queues[pick]![this.#heads[pick]!]!;
      this.#heads[pick]!++;
      released++;
      deliver(this.#symbols[pick]!, candle);
    }
    this.#compact();
    return released;
  }

  /** Drops released candles from the arrays, so a long run keeps only what is still queued. */
  #compact(): void {
    for (let i = 0; i < this.#queues.length; i++) {
      const q = this.#queues[i]!;
      const head = this.#heads[i]!;
      if (head === 0) continue;
      if (head === q.length) q.length = 0;
      else if (head >= 1024 && head * 2 >= q.length) q.splice(0, head);
      else continue;
      this.#heads[i] = 0;
    }
  }
}
