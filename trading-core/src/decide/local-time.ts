/**
 * Wall-clock time in an IANA time zone, from `Intl.DateTimeFormat` alone: the tz database
 * built into Node (full ICU) is the only source, so the answer is deterministic and DST
 * correct without a date library. Formatters are costly to build, so one is cached per zone.
 */

/** A local calendar reading of an instant. */
export interface LocalTime {
  /** The local calendar date as days since 1970-01-01 (a day number, not an instant). */
  day: number;
  /** 0 = Monday ... 6 = Sunday, of that local date. */
  weekday: number;
  /** Minutes since local midnight, 0..1439 (wall clock: 03:00 right after a skipped 02:00 is 180). */
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The cached formatter for a zone, or null if the zone is unknown (never cached). */
function formatter(timeZone: string): Intl.DateTimeFormat | null {
  const cached = formatters.get(timeZone);
  if (cached) return cached;
  let f: Intl.DateTimeFormat;
  try {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23', // 00..23; `hour12: false` prints midnight as 24 on some ICU versions
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
  } catch {
    return null;
  }
  formatters.set(timeZone, f);
  return f;
}

export function isKnownTimeZone(timeZone: unknown): timeZone is string {
  return typeof timeZone === 'string' && timeZone.length > 0 && formatter(timeZone) !== null;
}

/** Largest |epoch ms| a Date can hold. */
const MAX_TIME = 8.64e15;

export function isTimestamp(ts: unknown): ts is number {
  return typeof ts === 'number' && Number.isFinite(ts) && Math.abs(ts) <= MAX_TIME;
}

/** The local reading of `ts` in `timeZone`; the caller has checked both (see above). */
export function localTime(ts: number, timeZone: string): LocalTime {
  const parts = formatter(timeZone)!.formatToParts(ts);
  let y = 0;
  let mo = 0;
  let d = 0;
  let h = 0;
  let mi = 0;
  for (const p of parts) {
    if (p.type === 'year') y = Number(p.value);
    else if (p.type === 'month') mo = Number(p.value);
    else if (p.type === 'day') d = Number(p.value);
    else if (p.type === 'hour') h = Number(p.value);
    else if (p.type === 'minute') mi = Number(p.value);
  }
  const day = daysFromCivil(y, mo, d);
  return { day, weekday: weekdayOf(day), minute: h * 60 + mi };
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** 0 = Monday: 1970-01-01 (day 0) was a Thursday. */
function weekdayOf(day: number): number {
  return (((day + 3) % 7) + 7) % 7;
}

export function formatMinute(minute: number): string {
  const h = Math.floor(minute / 60);
  return `${String(h).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
}
