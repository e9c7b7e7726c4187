// The paper exchange as its own process: flags and variables validated once (a bad value exits 2
// naming the option, without a stack trace), a ready line, real ccxt against it, SIGTERM.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { binance } from 'ccxt';
import { REPO_ROOT, cliRunner, helpNamesEveryOption, runCli, spawnNode } from '@appliance/test-kit';
import { paperExchangeCcxtConfig } from '../src/ccxt-config.js';

const MAIN = 'paper-exchange/src/main.ts';
const ETH_CSV = join(REPO_ROOT, '..', 'shared', 'data', 'ohlcv', 'binance_ETH-USDT_1h.csv');
const dir = mkdtempSync(join(tmpdir(), 'px-cli-'));
const ALICE = { apiKey: 'alice-key-0123456789', secret: 'alice-secret-0123456789' };
const BOB = { apiKey: 'bob-key-0123456789', secret: 'bob-secret-0123456789' };
const CLEAN_ENV = Object.fromEntries(
  Object.keys(process.env)
    .filter((k) => k.startsWith('PAPER_EXCHANGE_'))
    .map((k) => [k, '']),
);

const run = (args: string[], env: Record<string, string> = {}) =>
  runCli(MAIN, args, { ...CLEAN_ENV, ...env });

const OPTIONS = [
  ['--port', 'PAPER_EXCHANGE_PORT'],
  ['--host', 'PAPER_EXCHANGE_HOST'],
  ['--accounts', 'PAPER_EXCHANGE_ACCOUNTS'],
  ['--api-key', 'PAPER_EXCHANGE_API_KEY'],
  ['--balance', 'PAPER_EXCHANGE_BALANCES'],
  ['--candles', 'PAPER_EXCHANGE_CANDLES'],
  ['--price', 'PAPER_EXCHANGE_PRICES'],
  ['--fee-bps', 'PAPER_EXCHANGE_FEE_BPS'],
  ['--slippage-bps', 'PAPER_EXCHANGE_SLIPPAGE_BPS'],
  ['--config', 'PAPER_EXCHANGE_CONFIG'],
] as const;

t.test('--help lists every option with its environment variable, and the secret', async (t) => {
  const { status, help, missing } = helpNamesEveryOption(cliRunner(MAIN, OPTIONS), OPTIONS);
  t.equal(status, 0);
  t.same(missing, [], 'every option with its variable');
  t.match(help, /PAPER_EXCHANGE_API_SECRET/);
  const secretFlag = cliRunner(MAIN, OPTIONS)(['--api-secret', 'on-the-command-line']);
  t.equal(secretFlag.status, 2, 'the secret has no flag: it would show in ps');
  t.notMatch(help, /--api-secret/);
});

t.test(
  'it serves ccxt on 127.0.0.1, priced from a CSV and a fixed price, and stops on SIGTERM',
  async (t) => {
    const accounts = join(dir, 'accounts.json');
    writeFileSync(accounts, JSON.stringify([{ ...BOB, balances: { USDT: 500 }, label: 'bob' }]));
    const px = spawnNode(
      'paper-exchange',
      MAIN,
      ['--port', '0', '--accounts', accounts, '--candles', ETH_CSV, '--price', 'BTC/USDT=40000'],
      {
        ...CLEAN_ENV,
        PAPER_EXCHANGE_API_KEY: ALICE.apiKey,
        PAPER_EXCHANGE_API_SECRET: ALICE.secret,
        PAPER_EXCHANGE_BALANCES: 'USDT=1000,BTC=0.5',
        PAPER_EXCHANGE_FEE_BPS: '0',
      },
    );
    t.teardown(() => px.kill('SIGKILL'));
    const ready = (await px.waitForLog((l) => l.msg === 'listening', 'the ready line')) as unknown as {
      url: string;
      accounts: number;
      prices: { symbol: string; from: string; candles: number; close: number }[];
    };
    t.match(ready.url, /^http:\/\/127\.0\.0\.1:\d+$/, 'on loopback by default');
    t.equal(ready.accounts, 2);
    t.same(ready.prices, [
      { symbol: 'ETH/USDT', from: 'file', candles: 23_988, close: 2299.87 },
      { symbol: 'BTC/USDT', from: 'seed', candles: 1, close: 40_000 },
    ]);

    const client = (keys: { apiKey: string; secret: string }) =>
      new binance({ ...keys, enableRateLimit: false, ...paperExchangeCcxtConfig(ready.url) });
    const alice = client(ALICE);
    const balance = await alice.fetchBalance();
    t.equal(balance['USDT']?.total, 1000);
    t.equal(balance['BTC']?.total, 0.5);
    const order = await alice.createOrder('BTC/USDT', 'market', 'buy', 0.001);
    // The fixed price moved by the default 5 bps of slippage; the fee was set to 0.
    t.match(order, { status: 'closed', filled: 0.001, average: 40_020, cost: 40.02 });
    t.equal((await alice.fetchBalance())['USDT']?.total, 959.98);
    const eth = await client(BOB).fetchTicker('ETH/USDT');
    t.equal(eth.last, 2299.87, "the CSV's last close is the price");
    t.equal((await client(BOB).fetchBalance())['USDT']?.total, 500, 'the --accounts file account');

    const exit = await px.kill('SIGTERM');
    t.same(exit, { code: 0, signal: null }, 'SIGTERM stops it cleanly');
    t.ok(px.lines.some((l) => l.msg === 'shutting down'));
  },
);

t.test('a bad option exits 2 with one message naming it, never a stack trace', async (t) => {
  const badJson = join(dir, 'bad.json');
  writeFileSync(badJson, JSON.stringify([{ apiKey: 'k', secret: 's', balances: { usdt: 1 } }]));
  const dup = join(dir, 'dup.json');
  writeFileSync(dup, JSON.stringify([ALICE, ALICE].map((a) => ({ ...a, balances: {} }))));
  const rows: [string, string[], Record<string, string>, string][] = [
    ['port', ['--port', '70000'], {}, 'port (--port, PAPER_EXCHANGE_PORT): Too big'],
    ['port from env', [], { PAPER_EXCHANGE_PORT: 'x' }, 'port (--port, PAPER_EXCHANGE_PORT): Invalid input'],
    ['fee', ['--fee-bps', '10000'], {}, 'feeBps (--fee-bps, PAPER_EXCHANGE_FEE_BPS): Too big'],
    [
      'secret missing',
      ['--api-key', 'k1'],
      {},
      'apiSecret (PAPER_EXCHANGE_API_SECRET): required with --api-key',
    ],
    [
      'balance',
      ['--api-key', 'k1', '--balance', 'USDT=lots'],
      { PAPER_EXCHANGE_API_SECRET: 's' },
      'balance.0 (--balance, PAPER_EXCHANGE_BALANCES): ASSET=AMOUNT, e.g. USDT=10000',
    ],
    [
      'price of an unlisted symbol',
      ['--price', 'BTC/EUR=1'],
      {},
      'price.0 (--price, PAPER_EXCHANGE_PRICES): a listed symbol:',
    ],
    ['price 0', ['--price', 'BTC/USDT=0'], {}, 'price.0 (--price, PAPER_EXCHANGE_PRICES): a price above 0'],
    [
      'a CSV named for nothing',
      ['--candles', join(dir, 'prices.csv')],
      {},
      `candles (--candles, PAPER_EXCHANGE_CANDLES): ${join(dir, 'prices.csv')}: cannot tell symbol from the name`,
    ],
    [
      'a CSV that is missing',
      ['--candles', join(dir, 'binance_BTC-USDT_1h.csv')],
      {},
      `candles (--candles, PAPER_EXCHANGE_CANDLES): ${join(dir, 'binance_BTC-USDT_1h.csv')}: cannot be read (ENOENT)`,
    ],
    [
      'an accounts file that is missing',
      ['--accounts', join(dir, 'none.json')],
      {},
      `accounts (--accounts, PAPER_EXCHANGE_ACCOUNTS): ${join(dir, 'none.json')}: cannot be read (ENOENT)`,
    ],
    [
      'an accounts file of the wrong shape',
      ['--accounts', badJson],
      {},
      `accounts (--accounts, PAPER_EXCHANGE_ACCOUNTS): ${badJson}: [0.balances.usdt]: Invalid key in record`,
    ],
    [
      'an account twice',
      ['--accounts', dup],
      {},
      'accounts (--accounts, PAPER_EXCHANGE_ACCOUNTS): an account with this apiKey already exists',
    ],
  ];
  for (const [name, args, env, message] of rows) {
    const r = run(args, env);
    t.equal(r.status, 2, `${name}: exit 2`);
    t.match(r.stderr, /^invalid paper-exchange configuration:\n {2}- /, `${name}: the message`);
    t.ok(r.stderr.includes(message), `${name}: names the option: ${r.stderr}`);
    t.notMatch(r.stderr, /\n\s+at /, `${name}: no stack trace`);
    t.equal(r.stdout, '', `${name}: nothing started`);
  }
  const unknown = run(['--nope']);
  t.equal(unknown.status, 2, 'an unknown flag exits 2');
  t.match(unknown.stderr, /unknown option '--nope'/);
});

t.test('a port in use exits 2 naming --port', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => blocker.close());
  const { port } = blocker.address() as AddressInfo;
  const r = run(['--port', String(port)]);
  t.equal(r.status, 2);
  t.equal(
    r.stderr,
    `invalid paper-exchange configuration:\n  - port (--port, PAPER_EXCHANGE_PORT): cannot listen on 127.0.0.1:${port}: EADDRINUSE\n`,
  );
});
