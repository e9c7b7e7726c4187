// `npm run breaker -- replay`: the breaker over real candle files (a window of three of them,
// with a made-up depeg), checked against the files themselves; and bad usage exits 2 with
// nothing written.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DEFAULT_STRATEGY, readCandleCsv } from '@appliance/datafeed-node';
import {
  DEFAULT_FILL_COSTS,
  LEVEL_RANK,
  backtest,
  createStrategy,
  type BreakerLevel,
  type Candle,
} from '@appliance/trading-core';
import { REPO_ROOT, hasStackTrace, runCli } from '@appliance/test-kit';
import type { Comparison } from '../src/breaker-cli/replay-compare.js';
import { escapeHtml, renderReplayReport } from '../src/breaker-cli/replay-report.js';

const HOUR = 3_600_000;
const DATA = join(REPO_ROOT, '../shared/data/ohlcv');
const ENTRY = 'control-server/src/breaker-cli/main.ts';
const PAIRS = ['BTC-USDT', 'ETH-USDT', 'SOL-USDT'];
/** Two months around LUNA's collapse (May 2022): a baseline first, then the crash. */
const FROM = Date.UTC(2022, 3, 1);
const TO = Date.UTC(2022, 5, 1);
/** The made-up peg file: at par, then 5 % off for three bars. */
const DEPEG_AT = Date.UTC(2022, 4, 20, 6);

const dir = mkdtempSync(join(tmpdir(), 'breaker-replay-'));
const files = PAIRS.map((pair) => {
  const lines = readFileSync(join(DATA, `binance_${pair}_1h.csv`), 'utf8')
    .trim()
    .split('\n');
  const kept = lines.slice(1).filter((l) => {
    const time = Number(l.split(',')[0]);
    return time >= FROM && time < TO;
  });
  const file = join(dir, `binance_${pair}_1h.csv`);
  writeFileSync(file, `${lines[0]}\n${kept.join('\n')}\n`);
  return file;
});
const pegFile = join(dir, 'binance_USDC-USDT_1h.csv');
{
  const rows = ['time,open,high,low,close,volume'];
  for (let time = FROM; time < TO; time += HOUR) {
    // USDC in USDT: 1/0.95 means USDT is worth 0.95 USDC.
    const close = time >= DEPEG_AT && time < DEPEG_AT + 3 * HOUR ? 1 / 0.95 : 1;
    rows.push(`${time},${close},${close},${close},${close},1000`);
  }
  writeFileSync(pegFile, `${rows.join('\n')}\n`);
}

const run = (args: string[]) => runCli(ENTRY, ['replay', ...args]);

async function readCandles(file: string): Promise<Candle[]> {
  const out: Candle[] = [];
  for await (const c of readCandleCsv(file, { timeframe: '1h' })) out.push(c);
  return out;
}

interface Change {
  time: number;
  iso: string;
  scope: string;
  level: BreakerLevel;
  multiplier: number;
  reason: string;
  from: BreakerLevel;
  inputs: { input: string; scope: string; value: number; wants: BreakerLevel; text: string }[];
}

t.test('a replay over three real files', async (t) => {
  const out = join(dir, 'out', 'nested');
  const r = run(['--data', ...files, '--peg', pegFile, '--out', out]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /breaker replay: 100 % \(\d+ of \d+ bars\)/, 'progress on stderr');
  t.match(r.stdout, /^total +[+-]\d/m, 'the comparison table on stdout');
  t.match(r.stdout, /^market +\d+ +\d+ +\d+$/m, 'changes per scope and level on stdout');

  const levels = JSON.parse(readFileSync(join(out, 'levels.json'), 'utf8')) as {
    config: { returnBars: number };
    files: { symbol: string; candles: number }[];
    changes: Change[];
  };
  t.same(
    levels.files.map((f) => f.symbol),
    ['BTC/USDT', 'ETH/USDT', 'SOL/USDT'],
  );
  t.ok(levels.changes.length > 0, 'levels changed');

  t.test('each scope moves from the level it was at to another one, in time order', async (t) => {
    const at = new Map<string, BreakerLevel>();
    let last = 0;
    for (const c of levels.changes) {
      t.not(c.from, c.level, `${c.iso} ${c.scope}: a change`);
      t.equal(c.from, at.get(c.scope) ?? 'normal', `${c.iso} ${c.scope}: from the previous level`);
      t.equal(c.multiplier, c.level === 'halt' ? 0 : c.level === 'caution' ? 0.5 : 1);
      t.equal(c.iso, new Date(c.time).toISOString());
      t.ok(c.time >= last, 'in time order');
      last = c.time;
      at.set(c.scope, c.level);
    }
  });

  t.test('every trip by the return input is a move that is in the data', async (t) => {
    const bars = levels.config.returnBars;
    const candles = new Map(
      await Promise.all(
        files.map(async (f, i) => [`${PAIRS[i]!.replace('-', '/')}`, await readCandles(f)] as const),
      ),
    );
    let checked = 0;
    for (const c of levels.changes) {
      if (LEVEL_RANK[c.level] <= LEVEL_RANK[c.from] || c.scope === 'market') continue;
      for (const input of c.inputs.filter((i) => i.input === 'return')) {
        const m = /^([A-Z]+\/USDT) (fell|rose) (\d+\.\d) % in (\d+) h, (\d+\.\d) σ$/.exec(input.text);
        if (!t.ok(m, `${c.iso}: ${input.text}`)) continue;
        t.ok(c.reason.includes(input.text), 'the reading is in the reason');
        t.equal(m![1], c.scope);
        t.equal(Number(m![4]), bars, 'over returnBars bars');
        const series = candles.get(c.scope)!;
        // The change happens at the bar's close: the bar opened one hour before.
        const i = series.findIndex((k) => k.time === c.time - HOUR);
        t.ok(i >= bars, `${c.iso}: the bar is in the file`);
        const move = series[i]!.close / series[i - bars]!.close - 1;
        t.equal(m![2], move < 0 ? 'fell' : 'rose', `${c.iso} ${c.scope}: direction`);
        t.ok(
          Math.abs(Number(m![3]) - Math.abs(move) * 100) <= 0.051,
          `${c.iso}: ${m![3]} % is ${move * 100} %`,
        );
        t.ok(Math.abs(input.value) >= 3, 'at least returnZ.caution σ');
        checked++;
      }
    }
    t.ok(checked >= 3, `${checked} return trips checked`);
  });

  t.test('the depeg of the peg file halts the market', async (t) => {
    const trip = levels.changes.find((c) => c.scope === 'market' && c.time === DEPEG_AT + HOUR);
    t.equal(trip?.level, 'halt');
    t.match(trip?.reason, /quote stablecoin at 0\.9500 against the second stablecoin, 5\.0 % off its peg/);
  });

  t.test('report.html is self-contained', async (t) => {
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    const uplot = readFileSync(join(REPO_ROOT, 'node_modules/uplot/dist/uPlot.iife.min.js'), 'utf8');
    t.ok(html.includes(uplot), 'uPlot inlined');
    t.notMatch(html, /\b(src|href)\s*=\s*["']?https?:/i, 'nothing loaded from a URL');
    t.notMatch(html.replace(uplot, ''), /https?:\/\//, 'no URL outside uPlot’s licence banner');
    t.match(
      html,
      /<td>2022-05-\d\dT[\d:.]+Z<\/td><td>[A-Z]+\/USDT<\/td><td>\w+<\/td><td>halt<\/td>/,
      'changes listed',
    );
    t.match(html, /<td>total<\/td>/, 'the comparison');
  });

  t.test('comparison.json: each symbol and the total, with and without the breaker', async (t) => {
    const c = JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8')) as Comparison;
    t.equal(c.strategy.name, DEFAULT_STRATEGY);
    const keys = ['returnPct', 'maxDrawdownPct', 'trades', 'finalEquity', 'buysSkipped', 'buysScaled'];
    for (const v of [...c.symbols.flatMap((s) => [s.without, s.with]), c.total.without, c.total.with])
      t.same(Object.keys(v).sort(), [...keys].sort());
    t.equal(c.symbols.length, 3);
    // Without the breaker it is trading-core's own backtest of the strategy, to rounding.
    for (const [i, s] of c.symbols.entries()) {
      const plain = backtest(await readCandles(files[i]!), createStrategy(DEFAULT_STRATEGY), {
        symbol: s.symbol,
        seed: c.seed,
        costs: DEFAULT_FILL_COSTS,
      });
      t.ok(Math.abs(s.without.returnPct - plain.totalReturn * 100) < 1e-3, `${s.symbol}: return`);
      t.ok(Math.abs(s.without.maxDrawdownPct - plain.maxDrawdown * 100) < 1e-3, `${s.symbol}: drawdown`);
      t.equal(s.without.trades, plain.fills, `${s.symbol}: trades`);
      t.equal(s.without.buysSkipped + s.without.buysScaled, 0);
    }
    const sum = c.symbols.reduce((n, s) => n + s.with.finalEquity, 0);
    t.ok(Math.abs(c.total.with.finalEquity - sum) < 1e-2, 'the total adds the symbols up');
    t.ok(
      c.symbols.some((s) => s.with.buysSkipped + s.with.buysScaled > 0),
      'the breaker held back some buys in May 2022',
    );
  });
});

t.test('reasons and names in the report are text, never markup', async (t) => {
  const EVIL = '<img src=x onerror="alert(1)">&\'</script>';
  const figures = {
    returnPct: 1,
    maxDrawdownPct: 2,
    trades: 3,
    finalEquity: 4,
    buysSkipped: 0,
    buysScaled: 0,
  };
  const html = renderReplayReport(
    {
      files: [
        {
          path: EVIL,
          symbol: 'BTC/USDT',
          timeframe: '1h',
          candles: 1,
          first: 0,
          last: 0,
          gaps: 0,
          missing: 0,
        },
      ],
      pegFile: null,
      series: [
        {
          symbol: 'BTC/USDT',
          timeframeMs: HOUR,
          candles: [{ time: 0, open: 1, high: 1, low: 1, close: 1, volume: 1 }],
        },
      ],
      tracks: [
        {
          symbol: 'BTC/USDT',
          level: Uint8Array.of(2),
          multiplier: Float64Array.of(0),
          heat: Float64Array.of(9),
        },
      ],
      changes: [
        {
          time: HOUR,
          iso: new Date(HOUR).toISOString(),
          scope: 'market',
          level: 'halt',
          multiplier: 0,
          reason: EVIL,
          from: 'normal',
          inputs: [],
        },
      ],
      comparison: {
        strategy: { name: EVIL, version: EVIL, stream: EVIL, params: { x: EVIL } },
        seed: 1,
        costs: DEFAULT_FILL_COSTS,
        symbols: [{ symbol: 'BTC/USDT', without: figures, with: figures }],
        total: { without: figures, with: figures },
      },
    },
    { js: '/* uplot */', css: '/* css */' },
  );
  t.notOk(html.includes('<img'), 'no markup from the data');
  t.notOk(html.includes('onerror="'), 'no attribute from the data');
  t.equal(html.split('</script>').length - 1, 3, 'only the page’s own three scripts end');
  t.ok(html.includes(`<td>${escapeHtml(EVIL)}</td>`), 'the reason shown as text');
});

t.test('bad usage exits 2 in one line and writes nothing', async (t) => {
  const out = join(dir, 'kept');
  mkdirSync(out);
  writeFileSync(join(out, 'earlier.txt'), 'x');
  const badConfig = join(dir, 'bad-config.json');
  writeFileSync(badConfig, JSON.stringify({ returnZ: { caution: -1 } }));
  const notJson = join(dir, 'not-json.json');
  writeFileSync(notJson, '{ returnZ');
  const badRow = join(dir, 'binance_ADA-USDT_1h.csv');
  writeFileSync(
    badRow,
    'time,open,high,low,close,volume\n1650000000000,1,1,1,1,1\n1650003600000,1,1,1,oops,1\n',
  );
  const missing = join(dir, 'nowhere', 'binance_BTC-USDT_1h.csv');
  const cases: [string, string[], string | RegExp][] = [
    ['no --out', ['--data', files[0]!], /required option '--out <dir>' not specified/],
    ['no --data', ['--out', out], /required option '--data <file\.\.\.>' not specified/],
    [
      'a file that is not there',
      ['--data', missing, '--out', 'FRESH'],
      `breaker: ${missing}: no such file\n`,
    ],
    [
      'a config with a bad field',
      ['--data', files[0]!, '--config', badConfig, '--out', out],
      /^breaker: --config .*bad-config\.json: breaker config: returnZ\.caution: .*\n$/,
    ],
    [
      'a config that is not JSON',
      ['--data', files[0]!, '--config', notJson, '--out', out],
      /^breaker: --config .*not-json\.json: not JSON \(.*\)\n$/,
    ],
    ['a bad row', ['--data', badRow, '--out', out], /^breaker: .*binance_ADA-USDT_1h\.csv:3: .*close.*\n$/],
    [
      '--symbol with two files',
      ['--data', files[0]!, files[1]!, '--symbol', 'BTC/USDT', '--out', out],
      /^breaker: --symbol BTC\/USDT names the pair of one file, but 2 files were given.*\n$/,
    ],
    [
      'a peg file of another timeframe',
      ['--data', files[0]!, '--peg', join(dir, 'binance_USDC-USDT_4h.csv'), '--out', out],
      /^breaker: --peg .*: its name says 4h, the --data files are 1h\n$/,
    ],
    [
      '--out that is a file',
      ['--data', files[0]!, '--out', files[1]!],
      /^breaker: --out .*: not a directory\n$/,
    ],
  ];
  for (const [name, args, expected] of cases) {
    const fresh = join(dir, `fresh-${name.replace(/\W+/g, '-')}`);
    const r = run(args.map((a) => (a === 'FRESH' ? fresh : a)));
    t.equal(r.status, 2, `${name}: exit 2`);
    if (typeof expected === 'string') t.equal(r.stderr, expected, name);
    else t.match(r.stderr, expected, name);
    t.notOk(hasStackTrace(r.stderr), `${name}: no stack trace`);
    t.equal(r.stdout, '', `${name}: nothing on stdout`);
    t.same(readdirSync(out), ['earlier.txt'], `${name}: DIR untouched`);
    t.notOk(existsSync(fresh), `${name}: no DIR created`);
  }
});
