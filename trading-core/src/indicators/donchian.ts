import { assertPeriod, assertSample } from './period.js';

/** The bar a Donchian channel reads. */
export interface HighLow {
  high: number;
  low: number;
}

export interface DonchianValue {
  upper: number;
  lower: number;
  middle: number;
}

/** A snapshot: the window's bars, oldest first (at most `period`). */
export interface DonchianState {
  period: number;
  highs: number[];
  lows: number[];
}

/**
 * Donchian channel: the highest high and lowest low of the last `period` bars, and their
 * midpoint. Each `update` is O(1) amortised with no allocation: a ring of the window plus two
 * monotonic queues of slot indices (the running maximum and minimum). `replace` (a forming
 * candle moved on) rebuilds the queues from the ring, O(period), since the bars the last update
 * pushed out of them may count again; `peek` is O(1).
 */
export class Donchian {
  readonly period: number;
  readonly #highs: Float64Array;
  readonly #lows: Float64Array;
  /** Sequence numbers of bars (bar n lives in slot n % period), decreasing highs / increasing lows. */
  readonly #maxQ: Float64Array;
  readonly #minQ: Float64Array;
  #maxHead = 0;
  #maxTail = 0;
  #minHead = 0;
  #minTail = 0;
  /** Bars seen. */
  #n = 0;

  constructor(period: number) {
    assertPeriod('Donchian', period);
    this.period = period;
    this.#highs = new Float64Array(period);
    this.#lows = new Float64Array(period);
    // Each queue holds at most `period` live entries; head and tail only grow, modulo its size.
    this.#maxQ = new Float64Array(period + 1);
    this.#minQ = new Float64Array(period + 1);
  }

  get ready(): boolean {
    return this.#n >= this.period;
  }

  get value(): DonchianValue | undefined {
    if (!this.ready) return undefined;
    const upper = this.#highs[this.#maxQ[this.#maxHead % this.#maxQ.length]! % this.period]!;
    const lower = this.#lows[this.#minQ[this.#minHead % this.#minQ.length]! % this.period]!;
    return { upper, lower, middle: (upper + lower) / 2 };
  }

  update(bar: HighLow): DonchianValue | undefined {
    check('Donchian', bar);
    this.#push(bar.high, bar.low);
    return this.value;
  }

  /** The channel if the current candle ended as `bar` now; nothing changes. O(1). */
  peek(bar: HighLow): DonchianValue | undefined {
    check('Donchian.peek', bar);
    if (this.#n + 1 < this.period) return undefined;
    // The window would lose bar n - period; each queue's best of the rest is its head, or the
    // next entry when the head is the bar that leaves.
    const leaving = this.#n - this.period;
    const upper = Math.max(
      bar.high,
      this.#bestOfRest(this.#maxQ, this.#maxHead, this.#maxTail, this.#highs, leaving, -Infinity),
    );
    const lower = Math.min(
      bar.low,
      this.#bestOfRest(this.#minQ, this.#minHead, this.#minTail, this.#lows, leaving, Infinity),
    );
    return { upper, lower, middle: (upper + lower) / 2 };
  }

  #bestOfRest(
    q: Float64Array,
    head: number,
    tail: number,
    values: Float64Array,
    leaving: number,
    none: number,
  ): number {
    let at = head;
    if (at < tail && q[at % q.length] === leaving) at++;
    return at < tail ? values[q[at % q.length]! % this.period]! : none;
  }

  /** Replaces the last bar given to `update` (the same candle, moved on). */
  replace(bar: HighLow): DonchianValue | undefined {
    check('Donchian.replace', bar);
    if (this.#n === 0) throw new RangeError('Donchian.replace: no bar to replace yet');
    const slot = (this.#n - 1) % this.period;
    this.#highs[slot] = bar.high;
    this.#lows[slot] = bar.low;
    this.#rebuild();
    return this.value;
  }

  #push(high: number, low: number): void {
    const n = this.#n++;
    this.#highs[n % this.period] = high;
    this.#lows[n % this.period] = low;
    const size = this.#maxQ.length;
    const oldest = n - this.period + 1;
    while (
      this.#maxTail > this.#maxHead &&
      this.#highs[this.#maxQ[(this.#maxTail - 1) % size]! % this.period]! <= high
    )
      this.#maxTail--;
    this.#maxQ[this.#maxTail++ % size] = n;
    while (this.#maxQ[this.#maxHead % size]! < oldest) this.#maxHead++;
    while (
      this.#minTail > this.#minHead &&
      this.#lows[this.#minQ[(this.#minTail - 1) % size]! % this.period]! >= low
    )
      this.#minTail--;
    this.#minQ[this.#minTail++ % size] = n;
    while (this.#minQ[this.#minHead % size]! < oldest) this.#minHead++;
  }

  #rebuild(): void {
    const n = this.#n;
    const first = Math.max(0, n - this.period);
    const highs = [];
    const lows = [];
    for (let i = first; i < n; i++) {
      highs.push(this.#highs[i % this.period]!);
      lows.push(this.#lows[i % this.period]!);
    }
    this.#reset(first);
    for (let i = 0; i < highs.length; i++) this.#push(highs[i]!, lows[i]!);
  }

  /** Empties the queues; the next bar pushed gets sequence number `n`. */
  #reset(n: number): void {
    this.#n = n;
    this.#maxHead = this.#maxTail = this.#minHead = this.#minTail = 0;
  }

  toJSON(): DonchianState {
    const first = Math.max(0, this.#n - this.period);
    const highs: number[] = [];
    const lows: number[] = [];
    for (let i = first; i < this.#n; i++) {
      highs.push(this.#highs[i % this.period]!);
      lows.push(this.#lows[i % this.period]!);
    }
    return { period: this.period, highs, lows };
  }

  static fromJSON(state: DonchianState): Donchian {
    const d = new Donchian(state.period);
    if (state.highs.length !== state.lows.length || state.highs.length > state.period)
      throw new RangeError(`Donchian.fromJSON: highs and lows must be equally long, at most ${state.period}`);
    for (let i = 0; i < state.highs.length; i++) d.update({ high: state.highs[i]!, low: state.lows[i]! });
    return d;
  }
}

function check(where: string, bar: HighLow): void {
  assertSample(where, bar.high);
  assertSample(where, bar.low);
  if (bar.low > bar.high) throw new RangeError(`${where}: low ${bar.low} is above high ${bar.high}`);
}
