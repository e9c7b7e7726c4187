import type { Candle } from '@appliance/trading-core';
import { MIN_TIME_MS, feedCandleProblem } from './candle-check.js';
import { FeedError } from './errors.js';

const FIELDS = ['time', 'open', 'high', 'low', 'close', 'volume'] as const;
// Plain decimal only: Number() also takes 0x1A, 0b11, 0o7, Infinity and surrounding spaces.
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function parseNumber(text: string | undefined, field: string, where: string): number {
  // Number('') is 0: an empty field must not become a zero price.
  if (text === undefined || text.trim() === '') return Number.NaN;
  if (DECIMAL.test(text)) return Number(text);
  if (Number.isFinite(Number(text)))
    throw new FeedError('E_BAD_ROW', `${where}: ${field} "${text.slice(0, 40)}" is not a decimal number`);
  return Number.NaN;
}

/**
 * One trimmed, non-empty data row as a sound candle, or FeedError E_BAD_ROW naming `where`
 * (`file:line`) and what is wrong. The reference for `readRowFast`: every row the fast path
 * declines comes here, so each error is worded in one place.
 */
export function readRowCarefully(line: string, where: string): Candle {
  const f = line.split(',');
  if (f.length !== 6) throw new FeedError('E_BAD_ROW', `${where}: expected 6 fields, got ${f.length}`);
  const [time, open, high, low, close, volume] = FIELDS.map((k, i) => parseNumber(f[i], k, where)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const c: Candle = { time, open, high, low, close, volume };
  const problem = feedCandleProblem(c);
  if (problem) throw new FeedError('E_BAD_ROW', `${where}: ${problem}`);
  return c;
}

const LF = 10;
const CR = 13;
const COMMA = 44;
const PLUS = 43;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const LOWER_E = 101;
const UPPER_E = 69;
/** Up to this many significant digits a mantissa is below 2^53, so an exact double. */
const EXACT_DIGITS = 15;
/** 10^0 ... 10^22 are exact doubles. */
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * Reads plain candle rows straight from the file's bytes: no line string, no split, no regex,
 * no string per field. `read` accepts a row only when it is certainly sound, with the numbers
 * Number() would read; for anything else (a bad row, but also one with spaces, an empty line
 * or a character outside ASCII) it returns undefined and the caller gives the line to
 * readRowCarefully, which accepts or refuses it with the exact message. It never accepts a row
 * that path refuses.
 */
export class FastRowReader {
  /** After a row `read` accepted: where the next line starts. */
  next = 0;
  /** Where the field `#field` read ends, and its value; fields, not objects, to spare garbage. */
  #end = 0;
  #value = 0;

  /**
   * The row from `start` (the first byte of a line) up to its line break (\n, \r\n or a lone
   * \r, as readline splits) or `limit`, the end of the bytes read so far, which is the end of a
   * line.
   */
  read(b: Uint8Array, start: number, limit: number): Candle | undefined {
    if (!this.#field(b, start, limit) || !this.#comma(b, limit)) return undefined;
    const time = this.#value;
    if (!this.#field(b, this.#end + 1, limit) || !this.#comma(b, limit)) return undefined;
    const open = this.#value;
    if (!this.#field(b, this.#end + 1, limit) || !this.#comma(b, limit)) return undefined;
    const high = this.#value;
    if (!this.#field(b, this.#end + 1, limit) || !this.#comma(b, limit)) return undefined;
    const low = this.#value;
    if (!this.#field(b, this.#end + 1, limit) || !this.#comma(b, limit)) return undefined;
    const close = this.#value;
    if (!this.#field(b, this.#end + 1, limit)) return undefined;
    const volume = this.#value;
    const i = this.#end;
    if (i === limit) this.next = limit;
    else if (b[i] === LF) this.next = i + 1;
    else if (b[i] === CR) this.next = i + 1 < limit && b[i + 1] === LF ? i + 2 : i + 1;
    else return undefined;
    // feedCandleProblem's checks, written so that NaN and ±Infinity fail at least one of them.
    const sound =
      Number.isInteger(time) &&
      time >= MIN_TIME_MS &&
      open > 0 &&
      close > 0 &&
      low > 0 &&
      volume >= 0 &&
      volume < Infinity &&
      high < Infinity &&
      low <= open &&
      low <= close &&
      high >= open &&
      high >= close;
    return sound ? { time, open, high, low, close, volume } : undefined;
  }

  /** The field just read ends at a comma (and not at the end of what was read). */
  #comma(b: Uint8Array, limit: number): boolean {
    return this.#end < limit && b[this.#end] === COMMA;
  }

  /**
   * One field of DECIMAL's grammar from `start`, up to the first byte that cannot continue it;
   * false when the bytes are anything else. Digits and a point make mantissa / 10^k with both
   * terms exact doubles, and one correctly rounded division is what Number() returns for that
   * text (Clinger's fast path); an exponent or more digits go to Number() itself.
   */
  #field(b: Uint8Array, start: number, limit: number): boolean {
    let i = start;
    let c = i < limit ? b[i]! : -1;
    const negative = c === MINUS;
    if (c === PLUS || c === MINUS) c = ++i < limit ? b[i]! : -1;
    const digitsStart = i;
    let mantissa = 0;
    let significant = 0;
    let fraction = -1;
    let digits = 0;
    for (; i < limit; i++) {
      c = b[i]!;
      const d = c - ZERO;
      if (d >= 0 && d <= 9) {
        mantissa = mantissa * 10 + d;
        digits++;
        if (mantissa !== 0) significant++;
        if (fraction >= 0) fraction++;
      } else if (c === DOT && fraction < 0) {
        fraction = 0;
      } else break;
    }
    // DECIMAL wants a digit before the point or after it.
    if (digits === 0) return false;
    let exponent = false;
    if (i < limit && (c === LOWER_E || c === UPPER_E)) {
      exponent = true;
      i++;
      if (i < limit && (b[i] === PLUS || b[i] === MINUS)) i++;
      const expStart = i;
      while (i < limit && b[i]! - ZERO >= 0 && b[i]! - ZERO <= 9) i++;
      if (i === expStart) return false;
    }
    this.#end = i;
    if (!exponent && significant <= EXACT_DIGITS && fraction < POW10.length) {
      const v = fraction > 0 ? mantissa / POW10[fraction]! : mantissa;
      this.#value = negative ? -v : v;
    } else {
      let text = '';
      for (let k = digitsStart; k < i; k++) text += String.fromCharCode(b[k]!);
      const v = Number(text);
      this.#value = negative ? -v : v;
    }
    return true;
  }
}
