import type { Candle } from '../candle.js';
import { assertPeriod, assertSample } from './period.js';

/** What a VWAP reads of a candle. */
export type VwapBar = Pick<Candle, 'time' | 'high' | 'low' | 'close' | 'volume'>;

const DAY_MS = 86_400_000;

/** The typical price (high + low + close) / 3, as technicalindicators and most charting tools weigh it. */
export function typicalPrice(bar: Pick<Candle, 'high' | 'low' | 'close'>): number {
  return (bar.high + bar.low + bar.close) / 3;
}

function check(where: string, bar: VwapBar): void {
  for (const x of [bar.time, bar.high, bar.low, bar.close, bar.volume]) assertSample(where, x);
  if (bar.volume < 0) throw new RangeError(`${where}: volume must not be negative, got ${bar.volume}`);
}

/**
 * Session VWAP: Σ typical × volume / Σ volume since the session began (a UTC day by default, or
 * `sessionMs` aligned to the epoch), O(1) per bar. A session with no volume yet has no VWAP
 * (undefined), as no trade set a price. `peek`/`replace` follow a forming candle.
 */
export class SessionVwap {
  readonly sessionMs: number;
  #session = Number.NaN;
  #pv = 0;
  #v = 0;
  #hasBefore = false;
  #beforeSession = Number.NaN;
  #beforePv = 0;
  #beforeV = 0;

  constructor(sessionMs = DAY_MS) {
    assertPeriod('SessionVwap', sessionMs);
    this.sessionMs = sessionMs;
  }

  get value(): number | undefined {
    return this.#v > 0 ? this.#pv / this.#v : undefined;
  }

  update(bar: VwapBar): number | undefined {
    check('SessionVwap', bar);
    const session = Math.floor(bar.time / this.sessionMs);
    if (session < this.#session)
      throw new RangeError(`SessionVwap: bar at ${bar.time} is in a session before the current one`);
    this.#hasBefore = true;
    this.#beforeSession = this.#session;
    this.#beforePv = this.#pv;
    this.#beforeV = this.#v;
    this.#apply(session, bar);
    return this.value;
  }

  peek(bar: VwapBar): number | undefined {
    check('SessionVwap.peek', bar);
    const same = Math.floor(bar.time / this.sessionMs) === this.#session;
    const pv = (same ? this.#pv : 0) + typicalPrice(bar) * bar.volume;
    const v = (same ? this.#v : 0) + bar.volume;
    return v > 0 ? pv / v : undefined;
  }

  replace(bar: VwapBar): number | undefined {
    check('SessionVwap.replace', bar);
    if (!this.#hasBefore) throw new RangeError('SessionVwap.replace: no bar to replace yet');
    this.#session = this.#beforeSession;
    this.#pv = this.#beforePv;
    this.#v = this.#beforeV;
    this.#apply(Math.floor(bar.time / this.sessionMs), bar);
    return this.value;
  }

  #apply(session: number, bar: VwapBar): void {
    if (session !== this.#session) {
      this.#session = session;
      this.#pv = 0;
      this.#v = 0;
    }
    this.#pv += typicalPrice(bar) * bar.volume;
    this.#v += bar.volume;
  }
}

/**
 * Rolling VWAP over the last `period` bars: Σ typical × volume / Σ volume, O(1) per bar with both
 * sums kept over a ring and recomputed from it every `period` bars (so what leaves the window
 * leaves no rounding behind). No volume in the window: undefined.
 */
export class RollingVwap {
  readonly period: number;
  readonly #pv: Float64Array;
  readonly #v: Float64Array;
  #n = 0;
  #sumPv = 0;
  #sumV = 0;
  /** Bars in the window with volume: counted exactly, since the sum of none may round to 1e-13. */
  #traded = 0;
  #sinceExact = 0;

  constructor(period: number) {
    assertPeriod('RollingVwap', period);
    this.period = period;
    this.#pv = new Float64Array(period);
    this.#v = new Float64Array(period);
  }

  get ready(): boolean {
    return this.#n >= this.period;
  }

  get value(): number | undefined {
    return this.ready && this.#traded > 0 ? this.#sumPv / this.#sumV : undefined;
  }

  update(bar: VwapBar): number | undefined {
    check('RollingVwap', bar);
    const slot = this.#n % this.period;
    this.#put(slot, bar);
    this.#n++;
    if (++this.#sinceExact >= this.period) this.#exact();
    return this.value;
  }

  peek(bar: VwapBar): number | undefined {
    check('RollingVwap.peek', bar);
    if (this.#n + 1 < this.period) return undefined;
    const slot = this.#n % this.period;
    const sumPv = this.#sumPv + (typicalPrice(bar) * bar.volume - this.#pv[slot]!);
    const sumV = this.#sumV + (bar.volume - this.#v[slot]!);
    const traded = this.#traded + (bar.volume > 0 ? 1 : 0) - (this.#v[slot]! > 0 ? 1 : 0);
    return traded > 0 ? sumPv / sumV : undefined;
  }

  replace(bar: VwapBar): number | undefined {
    check('RollingVwap.replace', bar);
    if (this.#n === 0) throw new RangeError('RollingVwap.replace: no bar to replace yet');
    this.#put((this.#n - 1) % this.period, bar);
    return this.value;
  }

  #put(slot: number, bar: VwapBar): void {
    const pv = typicalPrice(bar) * bar.volume;
    this.#traded += (bar.volume > 0 ? 1 : 0) - (this.#v[slot]! > 0 ? 1 : 0);
    this.#sumPv += pv - this.#pv[slot]!;
    this.#sumV += bar.volume - this.#v[slot]!;
    this.#pv[slot] = pv;
    this.#v[slot] = bar.volume;
  }

  #exact(): void {
    let pv = 0;
    let v = 0;
    for (let i = 0; i < this.period; i++) {
      pv += this.#pv[i]!;
      v += this.#v[i]!;
    }
    this.#sumPv = pv;
    this.#sumV = v;
    this.#sinceExact = 0;
  }
}
