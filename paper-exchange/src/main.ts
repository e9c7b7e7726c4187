#!/usr/bin/env node
import { accessSync, constants, readFileSync } from 'node:fs';
import { z } from 'zod';
import { FeedError, resolveReplayFiles, type ReplayFile } from '@appliance/datafeed-node';
import { createLogger, exitOnConfigError, handleShutdown, startShell } from '@appliance/runtime';
import type { AccountConfig } from './accounts.js';
import { DEFAULT_MARKETS } from './default-markets.js';
import { PaperExchangeError } from './errors.js';
import { createPaperExchange, type PaperExchange } from './paper-exchange.js';
import { feedCandleFiles, filesIntervalMs, seedPrice, type PriceSourceReport } from './price-source.js';

const LISTED = new Set(DEFAULT_MARKETS.map((m) => m.symbol));
const bps = z.coerce.number().min(0).max(9_999.99999999);

const Config = z
  .object({
    port: z.coerce.number().int().min(0).max(65535),
    host: z.string().min(1),
    accounts: z.string(),
    apiKey: z.string().regex(/^[\x21-\x7e]{0,128}$/, 'up to 128 printable ASCII characters without spaces'),
    apiSecret: z.string(),
    balance: z.array(
      z.string().regex(/^[A-Z0-9]{1,20}=\d{1,12}(\.\d{1,8})?$/, 'ASSET=AMOUNT, e.g. USDT=10000'),
    ),
    candles: z.array(z.string().min(1)),
    price: z.array(
      z
        .string()
        .regex(/^[A-Z0-9]+\/[A-Z0-9]+=\d{1,12}(\.\d{1,8})?$/, 'SYMBOL=PRICE, e.g. BTC/USDT=40000')
        .refine((p) => LISTED.has(p.split('=')[0]!), `a listed symbol: ${[...LISTED].join(', ')}`)
        .refine((p) => Number(p.split('=')[1]) > 0, 'a price above 0'),
    ),
    feeBps: bps,
    slippageBps: bps,
  })
  .superRefine((c, ctx) => {
    if (c.apiKey !== '' && c.apiSecret === '')
      ctx.addIssue({ code: 'custom', path: ['apiSecret'], message: 'required with --api-key' });
    if (c.apiKey === '' && c.apiSecret !== '')
      ctx.addIssue({ code: 'custom', path: ['apiKey'], message: 'required with PAPER_EXCHANGE_API_SECRET' });
  });

/** An --accounts file: a JSON array of accounts, as createPaperExchange takes them. */
const AccountsFile = z
  .array(
    z.strictObject({
      apiKey: z.string().min(1),
      secret: z.string().min(1),
      balances: z.record(z.string().regex(/^[A-Z0-9]{1,20}$/), z.number().min(0).max(1e12)),
      canWithdraw: z.boolean().optional(),
      label: z.string().optional(),
    }),
  )
  .min(1, 'at least one account');

function readAccountsFile(file: string): AccountConfig[] {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      `${file}: ${code ? `cannot be read (${code})` : `not valid JSON: ${(err as Error).message}`}`,
      { cause: err },
    );
  }
  const parsed = AccountsFile.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${file}: [${issue.path.join('.')}]: ${issue.message}`);
  }
  return parsed.data;
}

const { config, accounts, files, problem } = startShell(
  {
    name: 'paper-exchange',
    description: "A local exchange speaking Binance's spot REST API as ccxt calls it, for paper trading",
    configEnv: 'PAPER_EXCHANGE_CONFIG',
    schema: Config,
    secrets: [
      {
        env: 'PAPER_EXCHANGE_API_SECRET',
        key: 'apiSecret',
        description: "the --api-key account's HMAC secret (required with --api-key)",
      },
    ],
    options: [
      {
        flag: '--port <n>',
        env: 'PAPER_EXCHANGE_PORT',
        description: 'listen port (0 = any free port)',
        default: '8091',
      },
      {
        flag: '--host <addr>',
        env: 'PAPER_EXCHANGE_HOST',
        description: 'listen address',
        default: '127.0.0.1',
      },
      {
        flag: '--accounts <file>',
        env: 'PAPER_EXCHANGE_ACCOUNTS',
        description:
          'JSON array of accounts: [{"apiKey", "secret", "balances": {"USDT": 10000}, "canWithdraw"?, "label"?}]',
        default: '',
      },
      {
        flag: '--api-key <key>',
        env: 'PAPER_EXCHANGE_API_KEY',
        description: 'one more account with this API key, PAPER_EXCHANGE_API_SECRET and --balance',
        default: '',
      },
      {
        flag: '--balance <asset=amount...>',
        env: 'PAPER_EXCHANGE_BALANCES',
        description: "the --api-key account's opening balances",
        default: ['USDT=10000'],
      },
      {
        flag: '--candles <file...>',
        env: 'PAPER_EXCHANGE_CANDLES',
        description:
          'candle CSVs named like binance_BTC-USDT_1h.csv, fed at start: the last close is the price',
        default: [],
      },
      {
        flag: '--price <symbol=price...>',
        env: 'PAPER_EXCHANGE_PRICES',
        description: 'a fixed price per symbol, e.g. BTC/USDT=40000 (newer than any --candles bar)',
        default: [],
      },
      {
        flag: '--fee-bps <n>',
        env: 'PAPER_EXCHANGE_FEE_BPS',
        description: 'fee on the notional, in bps',
        default: '10',
      },
      {
        flag: '--slippage-bps <n>',
        env: 'PAPER_EXCHANGE_SLIPPAGE_BPS',
        description: 'adverse move of market orders, in bps',
        default: '5',
      },
    ],
    helpAfter: `Markets: ${[...LISTED].join(', ')}. Without --candles or --price market orders are refused (no price yet).`,
  },
  (shell) => {
    const c = shell.config;
    let accounts: AccountConfig[] = [];
    if (c.accounts !== '') {
      try {
        accounts = readAccountsFile(c.accounts);
      } catch (err) {
        throw shell.problem('accounts', (err as Error).message);
      }
    }
    if (c.apiKey !== '') {
      const balances = Object.fromEntries(c.balance.map((b) => [b.split('=')[0]!, Number(b.split('=')[1])]));
      accounts.push({ apiKey: c.apiKey, secret: c.apiSecret, balances, label: 'api-key' });
    }
    let files: ReplayFile[] = [];
    if (c.candles.length > 0) {
      try {
        files = resolveReplayFiles(c.candles);
      } catch (err) {
        if (err instanceof FeedError) throw shell.problem('candles', err.message);
        throw err;
      }
      for (const f of files) {
        try {
          accessSync(f.path, constants.R_OK);
        } catch (err) {
          throw shell.problem(
            'candles',
            `${f.path}: cannot be read (${(err as NodeJS.ErrnoException).code})`,
          );
        }
      }
      const unlisted = files.find((f) => !LISTED.has(f.symbol));
      if (unlisted) throw shell.problem('candles', `${unlisted.path}: ${unlisted.symbol} is not listed`);
    }
    return { config: c, accounts, files, problem: shell.problem };
  },
);

/** A problem found after validation (a duplicate account, a bad CSV row, a port in use): exit 2 naming it. */
const exitNaming = (key: string) => (err: unknown) => {
  if (err instanceof PaperExchangeError || err instanceof FeedError)
    return exitOnConfigError(problem(key, err.message));
  throw err;
};

const logger = createLogger({ name: 'paper-exchange' });
const intervalMs = filesIntervalMs(files);
let exchange: PaperExchange;
try {
  exchange = createPaperExchange({
    markets: DEFAULT_MARKETS,
    costs: { feeBps: config.feeBps, slippageBps: config.slippageBps },
    accounts,
    logger: logger.child({ component: 'http' }),
    ...(intervalMs === undefined ? {} : { candleIntervalMs: intervalMs }),
  });
} catch (err) {
  exitNaming(accounts.length > 0 ? 'accounts' : 'feeBps')(err);
  throw err;
}
if (accounts.length === 0)
  logger.warn('no accounts (give --accounts FILE or --api-key): only public endpoints answer');

const prices: PriceSourceReport[] = await feedCandleFiles(exchange, files).catch(exitNaming('candles'));
for (const p of config.price) {
  const [symbol, price] = p.split('=') as [string, string];
  prices.push(seedPrice(exchange, symbol, Number(price), Date.now(), intervalMs ?? 60_000));
}
const url = await exchange
  .listen({ port: config.port, host: config.host })
  .catch((err: NodeJS.ErrnoException) =>
    exitNaming('port')(
      new PaperExchangeError(
        'PAPER_ERR_LISTEN',
        `cannot listen on ${config.host}:${config.port}: ${err.code ?? err.message}`,
        { cause: err },
      ),
    ),
  );
logger.info({ url, accounts: accounts.length, prices }, 'listening');
handleShutdown(logger, [() => exchange.close()]);
