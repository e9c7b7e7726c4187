import type { Candle } from '../candle.js';
import { assertPeriod, assertSameLength, assertSample } from './period.js';

/** What a VWAP reads of a candle. */
export type VwapBar = Pick<Candle, 'time' | 'high' | 'low' | 'close' | 'volume'>;

const DAY_MS = 86_400_000;

/** The typical price (high + low + close) / 3, as technicalindicators and most charting tools weigh it. */
export function typicalPrice(bar: Pick<Candle, 'high' | 'low' | 'close'>): number {
  return (bar.high + bar.low + bar.close) / 3;
}

/** Every field finite, volume not negative; the reasons (which box numbers) only on the failing path. */
function check(where: string, bar: VwapBar): void {
  const volume = bar.volume;
  if (!(
    Number.isFinite(bar.time) &&
    Number.isFinite(bar.high) &&
    Number.isFinite(bar.low) &&
    Number.isFinite(bar.close) &&
    Number.isFinite(volume) &&
    volume >= 0
  ))
    refuse(where, bar);
}

function refuse(where: string, bar: VwapBar): void {
  assertSample(where, bar.time);
  assertSample(where, bar.high);
  assertSample(where, bar.low);
  assertSample(where, bar.close);
  assertSample(where, bar.volume);
  if (bar.volume < 0) throw new RangeError(`${where}: volume must not be negative, got ${bar.volume}`);
}

/** A snapshot of a SessionVwap, enough to continue bit for bit where it stopped. */
export interface SessionVwapState {
  sessionMs: number;
  /** The current session's number (`floor(time / sessionMs)`); null before the first bar. */
  session: number | null;
  /** Σ typical × volume and Σ volume since the session began. */
  pv: number;
  volume: number;
}

/** A snapshot of a RollingVwap, enough to continue bit for bit where it stopped. */
export interface RollingVwapState {
  period: number;
  /** Bars seen, capped at `period`. */
  count: number;
  /** The ring slot the next bar goes into (slot order decides how the sums are recomputed). */
  next: number;
  /** Per ring slot, `period` of each: typical × volume and volume (0 in slots not filled yet). */
  pv: number[];
  volume: number[];
  sumPv: number;
  sumVolume: number;
  /** Bars since the sums were last recomputed from the ring, in [0, period). */
  sinceExact: number;
}

/**
 * Session VWAP: Σ typical × volume / Σ volume since the session began (a UTC day by default, or
 * `sessionMs` aligned to the epoch), O(1) per bar. A session with no volume yet has no VWAP
 * (undefined), as no trade set a price. `peek`/`replace` follow a forming candle.
 */
export class SessionVwap {
  /** A number from the start (never undefined), so the engine keeps the field numeric: see `period.ts`. */
  readonly sessionMs: number = 0;
  #session = Number.NaN;
  #pv = 0;
  #v = 0;
  #hasBefore = false;
  #beforeSession = Number.NaN;
  #beforePv = 0;
  #beforeV = 0;
  /** `#v > 0` and `#pv / #v` (0 before), kept in plain fields so `value` is a field read (see `Donchian`). */
  #ready = false;
  #value = 0;

  constructor(sessionMs = DAY_MS) {
    assertPeriod('SessionVwap', sessionMs);
    this.sessionMs = sessionMs;
  }

  /** Whether the session has traded volume (so `value` is defined). */
  get ready(): boolean {
    return this.#ready === true;
  }

  get value(): number | undefined {
    return this.#ready === true ? this.#value : undefined;
  }

  update(bar: VwapBar): number | undefined {
    this.push(bar);
    return this.#ready === true ? this.#value : undefined;
  }

  /**
   * `update` without its result, for a per-candle loop: test `ready`, then read `value` (its
   * `undefined` branch folds away and no double is boxed; a bar in, nothing out).
   */
  push(bar: VwapBar): void {
    check('SessionVwap', bar);
    const session = Math.floor(bar.time / this.sessionMs);
    if (session < this.#session)
      throw new RangeError(`SessionVwap: bar at ${bar.time} is in a session before the current one`);
    this.#hasBefore = true;
    this.#beforeSession = this.#session;
    this.#beforePv = this.#pv;
    this.#beforeV = this.#v;
    this.#apply(session, bar);
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
    if (this.#hasBefore !== true) throw new RangeError('SessionVwap.replace: no bar to replace yet');
    this.#session = this.#beforeSession;
    this.#pv = this.#beforePv;
    this.#v = this.#beforeV;
    this.#apply(Math.floor(bar.time / this.sessionMs), bar);
    return this.#ready === true ? this.#value : undefined;
  }

  #apply(session: number, bar: VwapBar): void {
    if (session !== this.#session) {
      this.#session = session;
      this.#pv = 0;
      this.#v = 0;
    }
    this.#pv += ((bar.high + bar.low + bar.close) / 3) * bar.volume;
    this.#v += bar.volume;
    this.#sync();
  }

  /**
   * The value is stored on every step, the session traded or not: a store taken on one branch
   * only made a streaming step a tenth slower (81 → 91 M bars/s, measured when it became
   * unconditional). The flag is written only when it changes: stored on every step, it makes the
   * engine box the value its readers return (measured, test/no-allocation.test.ts).
   */
  #sync(): void {
    const v = this.#v;
    const ready = v > 0;
    this.#value = ready ? this.#pv / v : 0;
    if (this.#ready !== ready) this.#ready = ready;
  }

  toJSON(): SessionVwapState {
    return {
      sessionMs: this.sessionMs,
      session: Number.isNaN(this.#session) ? null : this.#session,
      pv: this.#pv,
      volume: this.#v,
    };
  }

  /** Continues from a snapshot (`replace` needs an `update` after it). Bad snapshots are refused. */
  static fromJSON(state: SessionVwapState): SessionVwap {
    const s = new SessionVwap(state.sessionMs);
    if (state.session !== null && !Number.isSafeInteger(state.session))
      throw new RangeError(`SessionVwap.fromJSON: session must be an integer or null, got ${state.session}`);
    assertSample('SessionVwap.fromJSON', state.pv);
    assertSample('SessionVwap.fromJSON', state.volume);
    if (state.volume < 0)
      throw new RangeError(`SessionVwap.fromJSON: volume must not be negative, got ${state.volume}`);
    if (state.session === null && (state.pv !== 0 || state.volume !== 0))
      throw new RangeError('SessionVwap.fromJSON: no session yet, so no sums');
    s.#session = state.session ?? Number.NaN;
    s.#pv = state.pv;
    s.#v = state.volume;
    s.#sync();
    return s;
  }
}

/**
 * Rolling VWAP over the last `period` bars: Σ typical × volume / Σ volume, O(1) per bar with both
 * sums kept over a ring and recomputed from it every `period` bars (so what leaves the window
 * leaves no rounding behind). No volume in the window: undefined.
 */
export class RollingVwap {
  /** A number from the start (never undefined), so the engine keeps the field numeric: see `period.ts`. */
  readonly period: number = 0;
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

  toJSON(): RollingVwapState {
    return {
      period: this.period,
      count: Math.min(this.#n, this.period),
      next: this.#n % this.period,
      pv: [...this.#pv],
      volume: [...this.#v],
      sumPv: this.#sumPv,
      sumVolume: this.#sumV,
      sinceExact: this.#sinceExact,
    };
  }

  /** Continues from a snapshot (`replace` needs an `update` after it). Bad snapshots are refused. */
  static fromJSON(state: RollingVwapState): RollingVwap {
    const r = new RollingVwap(state.period);
    const { period, count, next, sinceExact } = state;
    const where = 'RollingVwap.fromJSON';
    if (!Number.isSafeInteger(count) || count < 0 || count > period)
      throw new RangeError(`${where}: count must be an integer in [0, ${period}], got ${count}`);
    if (!Number.isSafeInteger(next) || next < 0 || next >= period || (count < period && next !== count))
      throw new RangeError(`${where}: next must be the slot after the last bar, got ${next}`);
    if (!Number.isSafeInteger(sinceExact) || sinceExact < 0 || sinceExact >= period)
      throw new RangeError(`${where}: sinceExact must be an integer in [0, ${period}), got ${sinceExact}`);
    if (!Array.isArray(state.pv) || !Array.isArray(state.volume))
      throw new RangeError(`${where}: pv and volume must be arrays of ${period} numbers`);
    if (state.pv.length !== period || state.volume.length !== period)
      throw new RangeError(`${where}: pv and volume must be arrays of ${period} numbers`);
    for (let i = 0; i < period; i++) {
      assertSample(where, state.pv[i]!);
      assertSample(where, state.volume[i]!);
      if (state.volume[i]! < 0)
        throw new RangeError(`${where}: volume must not be negative, got ${state.volume[i]}`);
      r.#pv[i] = state.pv[i]!;
      r.#v[i] = state.volume[i]!;
      if (state.volume[i]! > 0) r.#traded++;
    }
    assertSample(where, state.sumPv);
    assertSample(where, state.sumVolume);
    r.#sumPv = state.sumPv;
    r.#sumV = state.sumVolume;
    r.#sinceExact = sinceExact;
    // Only `n mod period` and `n >= period` matter from here on.
    r.#n = count < period ? count : period + next;
    return r;
  }
}

/**
 * Session VWAP over whole series at once: `NaN` while the session has no volume. The same
 * operations as `SessionVwap`, so equal to it bit for bit; values are not checked, but a bar in
 * an earlier session than the one before it is refused as there.
 */
export function sessionVwapSeries(
  time: Float64Array,
  high: Float64Array,
  low: Float64Array,
  close: Float64Array,
  volume: Float64Array,
  sessionMs = DAY_MS,
): Float64Array {
  assertSameLength('sessionVwapSeries', 'time, high, low, close and volume', time, high, low, close, volume);
  assertPeriod('sessionVwapSeries', sessionMs);
  const n = close.length;
  const out = new Float64Array(n);
  let session = Number.NaN;
  let pv = 0;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const s = Math.floor(time[i]! / sessionMs);
    if (s !== session) {
      if (s < session)
        throw new RangeError(`sessionVwapSeries: bar at ${time[i]} is in a session before the current one`);
      session = s;
      pv = 0;
      v = 0;
    }
    const vol = volume[i]!;
    pv += ((high[i]! + low[i]! + close[i]!) / 3) * vol;
    v += vol;
    out[i] = v > 0 ? pv / v : Number.NaN;
  }
  return out;
}

/**
 * Rolling VWAP over whole series at once: `NaN` while warming up or without volume in the
 * window. The same operations as `RollingVwap` (a ring, sums recomputed from it in slot order
 * every `period` bars), so equal to it bit for bit; values are not checked.
 */
export function rollingVwapSeries(
  high: Float64Array,
  low: Float64Array,
  close: Float64Array,
  volume: Float64Array,
  period: number,
): Float64Array {
  assertSameLength('rollingVwapSeries', 'high, low, close and volume', high, low, close, volume);
  assertPeriod('rollingVwapSeries', period);
  const n = close.length;
  const out = new Float64Array(n);
  const ringPv = new Float64Array(period);
  const ringV = new Float64Array(period);
  let sumPv = 0;
  let sumV = 0;
  let traded = 0;
  let sinceExact = 0;
  let slot = 0;
  for (let i = 0; i < n; i++) {
    const vol = volume[i]!;
    const pv = ((high[i]! + low[i]! + close[i]!) / 3) * vol;
    const oldV = ringV[slot]!;
    traded += (vol > 0 ? 1 : 0) - (oldV > 0 ? 1 : 0);
    sumPv += pv - ringPv[slot]!;
    sumV += vol - oldV;
    ringPv[slot] = pv;
    ringV[slot] = vol;
    if (++slot === period) slot = 0;
    if (++sinceExact >= period) {
      sumPv = 0;
      sumV = 0;
      for (let j = 0; j < period; j++) {
        sumPv += ringPv[j]!;
        sumV += ringV[j]!;
      }
      sinceExact = 0;
    }
    out[i] = i + 1 >= period && traded > 0 ? sumPv / sumV : Number.NaN;
  }
  return out;
}
