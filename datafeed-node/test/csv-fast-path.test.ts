import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import type { Candle } from '@appliance/trading-core';
import { readCandleCsvBaseline } from '../../bench/csv-baseline.js';
import { readCandleCsv, type CandleGap, type ReadCsvOptions } from '../src/csv-candles.js';
import { FastRowReader, readRowCarefully } from '../src/csv-row.js';

const dir = mkdtempSync(join(tmpdir(), 'csv-fast-'));
const H = 'time,open,high,low,close,volume';
const MINUTE = 60_000;
/** 2023-11-14T22:00:00Z. */
const T0 = 1_699_999_200_000;

/** The careful path's verdict on a line: its candle, or its error as `CODE: message`. */
function careful(line: string): Candle | string {
  try {
    return readRowCarefully(line.trim(), 'f:2');
  } catch (err) {
    return `${(err as { code: string }).code}: ${(err as Error).message}`;
  }
}

function fastRead(line: string, terminator = '\n'): Candle | undefined {
  const b = Buffer.from(line + terminator);
  return new FastRowReader().read(b, 0, b.length);
}

/** A plain decimal as exchanges and people write them, and as Number() reads it. */
const plainDecimal = fc.oneof(
  fc.integer({ min: 0, max: 10_000_000 }).map(String),
  fc.double({ min: 1e-9, max: 1e9, noNaN: true }).map(String),
  fc
    .tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 0, max: 99_999_999 }), fc.nat(8))
    .map(([a, b, z]) => `${a}.${'0'.repeat(z)}${b}`),
  fc.integer({ min: 1, max: 9_999_999 }).map((n) => `${n}.`),
  fc.integer({ min: 1, max: 9_999 }).map((n) => `.${n}`),
  fc.integer({ min: 1, max: 99_999 }).map((n) => `+${n}`),
  fc.tuple(fc.integer({ min: 1, max: 999 }), fc.integer({ min: -12, max: 12 })).map(([m, e]) => `${m}e${e}`),
  fc.tuple(fc.integer({ min: 1, max: 999 }), fc.integer({ min: 0, max: 12 })).map(([m, e]) => `${m}E+${e}`),
  // Long mantissas, past what a double holds exactly: Number() must decide these.
  fc.stringMatching(/^[1-9][0-9]{15,24}(\.[0-9]{1,30})?$/),
  fc.stringMatching(/^0\.[0-9]{20,40}$/),
);

/** Anything a field could hold: plain decimals, and every spelling the reader must refuse. */
const anyField = fc.oneof(
  { weight: 6, arbitrary: plainDecimal },
  fc.constantFrom(
    '',
    ' ',
    '0',
    '-1',
    '-0',
    '0x1A',
    '0b101',
    '0o7',
    'Infinity',
    '-Infinity',
    'NaN',
    '1e400',
    '1_000',
    ' 12',
    '12 ',
    '1.2.3',
    '.',
    '+',
    '1e',
    '1e+',
    'e5',
    '١٢',
    '1,5',
  ),
  fc.string({ maxLength: 6 }),
);

const time = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1e11, max: 2e12 }).map(String) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 2e9 }).map(String) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('1617566400000.0', '1.6175664e12', '+1617566400000', '1617566400000.5'),
  },
);

/** A row that may or may not be sound: a real-looking candle with one field sometimes replaced. */
const row = fc
  .tuple(
    time,
    fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
    fc.array(fc.double({ min: 0, max: 0.05, noNaN: true }), { minLength: 4, maxLength: 4 }),
    fc.option(fc.tuple(fc.nat(5), anyField), { freq: 2 }),
    fc.oneof(
      { weight: 7, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.constantFrom(' ', '\t', ',', ',1') },
    ),
  )
  .map(([t, open, [a, b, c, d], replace, extra]) => {
    const close = open * (1 + a! - b!);
    const fields = [
      t,
      String(open),
      String(Math.max(open, close) * (1 + c!)),
      String(Math.min(open, close) * (1 - d!)),
      String(close),
      String(a! * 1000),
    ];
    if (replace !== null) fields[replace[0]] = replace[1];
    const line = fields.join(',');
    return extra === null ? line : extra === ' ' || extra === '\t' ? `${extra}${line}${extra}` : line + extra;
  });

t.test('the fast path accepts a row only as the careful path reads it', async (t) => {
  let accepted = 0;
  fc.assert(
    fc.property(row, fc.constantFrom('\n', '\r\n', '\r', ''), (line, terminator) => {
      const fast = fastRead(line, terminator);
      if (fast === undefined) return true;
      accepted++;
      return isDeepStrictEqual(fast, careful(line));
    }),
    { seed: 9, numRuns: 20_000 },
  );
  t.ok(accepted > 5_000, `the fast path took ${accepted} of 20000 rows`);
});

t.test('every field the careful path reads as a number, the fast path reads alike', async (t) => {
  fc.assert(
    fc.property(plainDecimal, (text) => {
      const line = `${T0},${text},${text},${text},${text},${text}`;
      const slow = careful(line);
      const fast = fastRead(line);
      if (typeof slow === 'string') return fast === undefined;
      return isDeepStrictEqual(fast, slow) && Object.is(fast!.volume, Number(text));
    }),
    { seed: 10, numRuns: 20_000 },
  );
  t.pass('same numbers as Number()');
});

t.test('plain rows as exchanges export them all take the fast path', async (t) => {
  const rows = [
    '1617566400000,57953.86,58051.25,57826.16,58025.11,1240.209016',
    '1617566400000,0.00001234,0.00001240,0.00001230,0.00001235,123456789.12345678',
    '1617566400000,1e2,1.5E2,.5,100.,+7',
  ];
  for (const r of rows) t.same(fastRead(r), careful(r), r);
  t.equal(fastRead(' 1617566400000,1,2,0.5,1.5,10'), undefined, 'a space: the careful path decides');
  t.equal(fastRead('1617566400,1,2,0.5,1.5,10'), undefined, 'seconds: the careful path refuses');
  t.equal(fastRead('1617566400000,0x1A,30,20,26,1'), undefined, 'hexadecimal: the careful path refuses');
});

type Outcome = { candles: Candle[]; gaps: CandleGap[]; error: string | null };

async function outcome(
  read: (path: string, o: ReadCsvOptions) => AsyncGenerator<Candle>,
  path: string,
  timeframe: string | undefined,
): Promise<Outcome> {
  const out: Outcome = { candles: [], gaps: [], error: null };
  try {
    for await (const c of read(path, { timeframe, onGap: (g) => out.gaps.push(g) })) out.candles.push(c);
  } catch (err) {
    out.error = `${(err as { code: string }).code}: ${(err as Error).message}`;
  }
  return out;
}

/** Rows of a file: mostly a sound 1m series with gaps, sometimes a bad, blank or misplaced row. */
const fileRows = fc.array(
  fc.oneof(
    { weight: 12, arbitrary: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.constant(null)) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: -1, max: 1 }), row) },
    { weight: 1, arbitrary: fc.tuple(fc.constant(0), fc.constantFrom('', ' ', '\t')) },
  ),
  { maxLength: 40 },
);

let files = 0;
t.test('whole files read to the same candles, gaps and errors as the reader it replaced', async (t) => {
  let compared = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(H, `\uFEFF${H}`, `${H} `, 'time,open,high,low,close', ''),
      fileRows,
      fc.constantFrom('\n', '\r\n', '\r'),
      fc.boolean(),
      fc.constantFrom('1m', undefined),
      async (header, rows, eol, finalEol, timeframe) => {
        let at = T0;
        const lines: string[] = [header];
        for (const [step, text] of rows) {
          at += step * MINUTE;
          lines.push(text ?? `${at},1,2,0.5,1.5,10`);
        }
        const path = join(dir, `f${files++}.csv`);
        writeFileSync(path, lines.join(eol) + (finalEol ? eol : ''));
        const now = await outcome(readCandleCsv, path, timeframe);
        const before = await outcome(readCandleCsvBaseline, path, timeframe);
        compared++;
        return isDeepStrictEqual(now, before);
      },
    ),
    { seed: 11, numRuns: 400 },
  );
  t.equal(compared, 400, 'every file read by both');
});

t.test('lines split across read chunks (a \\r\\n or a character cut in two) read as before', async (t) => {
  // The reader reads 1 MiB at a time: put a \r\n, then a two-byte character, across that edge.
  const CHUNK = 1 << 20;
  for (const [name, breakAt, eol, next, candles] of [
    ['crlf', CHUNK - 1, '\r\n', '1,2,0.5,1.5,1', 2],
    ['utf8', CHUNK - 2, '\n', 'é', 1],
  ] as const) {
    const lines = [H];
    let size = H.length + eol.length;
    let i = 0;
    for (; size + 60 < breakAt; i++) {
      const line = `${T0 + i * MINUTE},1,2,0.5,1.5,10`;
      lines.push(line);
      size += line.length + eol.length;
    }
    // Pad the last row's volume with zeros so its line break starts exactly at `breakAt`.
    const last = `${T0 + i * MINUTE},1,2,0.5,1.5,10.`;
    lines.push(last + '0'.repeat(breakAt - size - last.length));
    lines.push(name === 'utf8' ? next : `${T0 + (i + 1) * MINUTE},${next}`);
    const text = lines.join(eol) + eol;
    t.equal(
      Buffer.from(text).indexOf(eol, breakAt - 1),
      breakAt,
      `${name}: the line break starts at the edge`,
    );
    const path = join(dir, `edge-${name}.csv`);
    writeFileSync(path, text);
    const now = await outcome(readCandleCsv, path, '1m');
    t.ok(isDeepStrictEqual(now, await outcome(readCandleCsvBaseline, path, '1m')), `${name}: same outcome`);
    t.equal(now.candles.length, i + candles, `${name}: every sound row read`);
  }
});

t.test('the reader keeps an async generator’s contract, as the old reader did', async (t) => {
  const path = join(dir, 'contract.csv');
  writeFileSync(path, `${H}\n${T0},1,2,0.5,1.5,10\n${T0 + MINUTE},1,2,0.5,1.5,10\n${T0},1,2,0.5,1.5,10\n`);
  const settle = (p: Promise<IteratorResult<Candle>>) =>
    p.then(
      (r) => (r.done ? 'done' : r.value.time - T0),
      (err: { code: string; message: string }) => `${err.code}: ${err.message}`,
    );
  for (const read of [readCandleCsv, readCandleCsvBaseline]) {
    const name = read === readCandleCsv ? 'readCandleCsv' : 'baseline';
    const it = read(path, { timeframe: '1m' });
    t.same(
      await Promise.all([it.next(), it.next(), it.next(), it.next(), it.next()].map(settle)),
      [0, MINUTE, `E_NOT_SORTED: ${path}:4: time ${T0} does not follow ${T0 + MINUTE}`, 'done', 'done'],
      `${name}: calls made at once are served in order, and an error ends the read`,
    );
    const early = read(path);
    for await (const c of early) {
      t.equal(c.time, T0);
      break;
    }
    t.same(await early.next(), { done: true, value: undefined }, `${name}: leaving a for-await closes it`);
    const bad = read(path, { timeframe: '1w' });
    t.equal(
      await settle(bad.next()),
      `E_FILE: ${path}: unknown timeframe 1w`,
      `${name}: a bad timeframe is refused at the first next()`,
    );
    t.same(await read(path).return(undefined), { done: true, value: undefined }, `${name}: return() first`);
  }
});
