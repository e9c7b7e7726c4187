import { assertPeriod, assertSameLength, assertSample } from './period.js';

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
 * monotonic queues of ring slots (the running maximum and minimum), all in integer arithmetic.
 * `update` and `replace` return the middle line alone; the getters `upper`, `lower` and
 * `middle` read every line without allocating, while `value` and `peek` build a
 * `DonchianValue` object (for display, not for a per-candle loop). `replace` (a forming candle
 * moved on) rebuilds the queues from the ring, O(period) without allocation, since the bars the
 * last update pushed out of them may count again; `peek` is O(1).
 */
export class Donchian {
  /** A number from the start (never undefined), so the engine keeps the field numeric: see `period.ts`. */
  readonly period: number = 0;
  readonly #highs: Float64Array;
  readonly #lows: Float64Array;
  /**
   * Ring slots of bars in the window, oldest first, with decreasing highs / increasing lows.
   * Each is itself a ring of `period` entries: `head` is where it starts, `len` how many.
   */
  readonly #maxQ: Int32Array;
  readonly #minQ: Int32Array;
  #maxHead = 0;
  #maxLen = 0;
  #minHead = 0;
  #minLen = 0;
  /** The ring slot the next bar goes into; once the window is full, the oldest bar's. */
  #slot = 0;
  /** Bars seen. */
  #n = 0;
  /**
   * `#n >= period`, and the lines once it is: plain double fields written by each step, so the
   * getters are a field read small enough for the engine to always inline (no heap number).
   */
  #ready = false;
  #upper = Number.NaN;
  #lower = Number.NaN;
  #middle = Number.NaN;

  constructor(period: number) {
    assertPeriod('Donchian', period);
    this.period = period;
    this.#highs = new Float64Array(period);
    this.#lows = new Float64Array(period);
    this.#maxQ = new Int32Array(period);
    this.#minQ = new Int32Array(period);
  }

  get ready(): boolean {
    return this.#ready === true;
  }

  /** The highest high of the window; undefined until `period` bars were seen. */
  get upper(): number | undefined {
    return this.#ready === true ? this.#upper : undefined;
  }

  /** The lowest low of the window; undefined until `period` bars were seen. */
  get lower(): number | undefined {
    return this.#ready === true ? this.#lower : undefined;
  }

  /** (upper + lower) / 2; undefined until `period` bars were seen. */
  get middle(): number | undefined {
    return this.#ready === true ? this.#middle : undefined;
  }

  /** Every line as a fresh object (allocates: for display; a per-candle loop reads the getters). */
  get value(): DonchianValue | undefined {
    if (this.#ready !== true) return undefined;
    return { upper: this.#upper, lower: this.#lower, middle: this.#middle };
  }

  /** Takes the next bar and returns the middle line (the others are on the getters: no allocation here). */
  update(bar: HighLow): number | undefined {
    this.push(bar);
    return this.#ready === true ? this.#middle : undefined;
  }

  /**
   * `update` without its result, for a per-candle loop that reads the getters (a bar in, nothing
   * out: no double crosses the call, inlined or not).
   */
  push(bar: HighLow): void {
    check('Donchian', bar);
    this.#highs[this.#slot] = bar.high;
    this.#lows[this.#slot] = bar.low;
    this.#push();
  }

  /** The channel if the current candle ended as `bar` now, as a fresh object; nothing changes. O(1). */
  peek(bar: HighLow): DonchianValue | undefined {
    check('Donchian.peek', bar);
    if (this.#n + 1 < this.period) return undefined;
    // The window would lose the bar in this slot (once full); each queue's best of the rest is
    // its head, or the next entry when the head is the bar that leaves.
    const leaving = this.#n >= this.period ? this.#slot : -1;
    const upper = Math.max(
      bar.high,
      this.#bestOfRest(this.#maxQ, this.#maxHead, this.#maxLen, this.#highs, leaving, -Infinity),
    );
    const lower = Math.min(
      bar.low,
      this.#bestOfRest(this.#minQ, this.#minHead, this.#minLen, this.#lows, leaving, Infinity),
    );
    return { upper, lower, middle: (upper + lower) / 2 };
  }

  #bestOfRest(
    q: Int32Array,
    head: number,
    len: number,
    values: Float64Array,
    leaving: number,
    none: number,
  ): number {
    if (len > 0 && q[head] === leaving) {
      head = head + 1 === this.period ? 0 : head + 1;
      len--;
    }
    return len > 0 ? values[q[head]!]! : none;
  }

  /** Replaces the last bar given to `update` (the same candle, moved on); returns the middle line. */
  replace(bar: HighLow): number | undefined {
    check('Donchian.replace', bar);
    if (this.#n === 0) throw new RangeError('Donchian.replace: no bar to replace yet');
    const slot = this.#slot === 0 ? this.period - 1 : this.#slot - 1;
    this.#highs[slot] = bar.high;
    this.#lows[slot] = bar.low;
    this.#rebuild();
    return this.#ready === true ? this.#middle : undefined;
  }

  /**
   * Queues the bar just written into ring slot `#slot` (no price crosses a call: a double
   * argument of a call the engine does not inline is boxed, an allocation).
   */
  #push(): void {
    const p = this.period;
    const slot = this.#slot;
    const high = this.#highs[slot]!;
    const low = this.#lows[slot]!;
    // The bar leaving (in this very slot) is the oldest in the window: if still queued, it heads.
    if (this.#n >= p) {
      if (this.#maxLen > 0 && this.#maxQ[this.#maxHead] === slot) {
        if (++this.#maxHead === p) this.#maxHead = 0;
        this.#maxLen--;
      }
      if (this.#minLen > 0 && this.#minQ[this.#minHead] === slot) {
        if (++this.#minHead === p) this.#minHead = 0;
        this.#minLen--;
      }
    }
    // Bars no higher (lower) than this one can never be the extreme again while it is in the
    // window. `end` (head + len) is below 2 × period: a subtraction wraps it.
    let end = this.#maxHead + this.#maxLen;
    while (this.#maxLen > 0 && this.#highs[this.#maxQ[end > p ? end - 1 - p : end - 1]!]! <= high) {
      this.#maxLen--;
      end--;
    }
    this.#maxQ[end >= p ? end - p : end] = slot;
    this.#maxLen++;
    end = this.#minHead + this.#minLen;
    while (this.#minLen > 0 && this.#lows[this.#minQ[end > p ? end - 1 - p : end - 1]!]! >= low) {
      this.#minLen--;
      end--;
    }
    this.#minQ[end >= p ? end - p : end] = slot;
    this.#minLen++;
    this.#slot = slot + 1 === p ? 0 : slot + 1;
    // The flag is written only when it changes (see `SessionVwap`'s #sync).
    if (++this.#n >= p) {
      if (this.#ready !== true) this.#ready = true;
      const upper = this.#highs[this.#maxQ[this.#maxHead]!]!;
      const lower = this.#lows[this.#minQ[this.#minHead]!]!;
      this.#upper = upper;
      this.#lower = lower;
      this.#middle = (upper + lower) / 2;
    }
  }

  /** Rebuilds the queues from the ring, oldest bar first: the ring needs no copy, no allocation. */
  #rebuild(): void {
    const n = this.#n;
    const first = Math.max(0, n - this.period);
    this.#n = first;
    this.#slot = first % this.period;
    this.#maxHead = this.#maxLen = this.#minHead = this.#minLen = 0;
    for (let i = first; i < n; i++) this.#push();
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

/** Finite, low <= high; the reasons (which box numbers) only on the failing path. */
function check(where: string, bar: HighLow): void {
  if (!(Number.isFinite(bar.high) && Number.isFinite(bar.low) && bar.low <= bar.high)) refuse(where, bar);
}

function refuse(where: string, bar: HighLow): void {
  assertSample(where, bar.high);
  assertSample(where, bar.low);
  if (bar.low > bar.high) throw new RangeError(`${where}: low ${bar.low} is above high ${bar.high}`);
}

/** Donchian channels over a whole series: three arrays, `NaN` while warming up. */
export interface DonchianSeries {
  upper: Float64Array;
  lower: Float64Array;
  middle: Float64Array;
}

/**
 * Donchian channels over a whole series at once: the same monotonic queues as `Donchian`, over
 * the input arrays themselves (indices in a power-of-two ring), O(1) amortised per bar. The
 * extremes are values of the input, so equal to `Donchian` bit for bit; values are not checked.
 */
export function donchianSeries(high: Float64Array, low: Float64Array, period: number): DonchianSeries {
  assertSameLength('donchianSeries', 'high and low', high, low);
  assertPeriod('donchianSeries', period);
  const n = high.length;
  const upper = new Float64Array(n);
  const lower = new Float64Array(n);
  const middle = new Float64Array(n);
  const warm = Math.min(n, period - 1);
  upper.fill(Number.NaN, 0, warm);
  lower.fill(Number.NaN, 0, warm);
  middle.fill(Number.NaN, 0, warm);
  // At most period + 1 entries are live at once (before the oldest is dropped).
  const mask = 2 ** Math.ceil(Math.log2(period + 1)) - 1;
  const maxQ = new Int32Array(mask + 1);
  const minQ = new Int32Array(mask + 1);
  let maxHead = 0;
  let maxTail = 0;
  let minHead = 0;
  let minTail = 0;
  for (let i = 0; i < n; i++) {
    const h = high[i]!;
    const l = low[i]!;
    while (maxTail > maxHead && high[maxQ[(maxTail - 1) & mask]!]! <= h) maxTail--;
    maxQ[maxTail++ & mask] = i;
    // One bar leaves per step, so at most one entry is out of the window.
    if (maxQ[maxHead & mask]! <= i - period) maxHead++;
    while (minTail > minHead && low[minQ[(minTail - 1) & mask]!]! >= l) minTail--;
    minQ[minTail++ & mask] = i;
    if (minQ[minHead & mask]! <= i - period) minHead++;
    if (i >= warm) {
      const u = high[maxQ[maxHead & mask]!]!;
      const d = low[minQ[minHead & mask]!]!;
      upper[i] = u;
      lower[i] = d;
      middle[i] = (u + d) / 2;
    }
  }
  return { upper, lower, middle };
}
