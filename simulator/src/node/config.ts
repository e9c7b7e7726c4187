import { z } from 'zod';
import type { ShellOption } from '@appliance/runtime';

/**
 * The simulator node's options as its process shell hands them over (flag > variable > file >
 * default), checked once. Checks that need files or the strategy registry are in main.ts.
 */
const pair = z.string().regex(/^[A-Z0-9]+\/[A-Z0-9]+$/, 'expected BASE/QUOTE, e.g. BTC/USDT');
const publicKey = z.string().regex(/^[A-Za-z0-9_-]{43,}$/, 'expected a base64url Ed25519 public key');

const DEFAULT_EVERY_HOURS = 24;
/** How long a coordinator waits for a run's results before giving up (the next schedule re-runs it), in minutes. */
const DEFAULT_RUN_TIMEOUT_MIN = 60;
/** The loopback port of `POST /run`. */
const DEFAULT_HTTP_PORT = 8097;
const DEFAULT_SUBMIT_ATTEMPTS = 5;

export const Config = z
  .object({
    kafka: z.string(),
    dataDir: z.string().min(1, 'required: the candle store lives there'),
    controlUrl: z.string().url(),
    signingKeyFile: z.string().min(1, "required: this node's key signs its jobs, results and decisions"),
    node: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'expected lowercase letters, digits, . _ -'),
    everyHours: z.coerce
      .number()
      .positive()
      .max(24 * 31),
    runAtStart: z.boolean(),
    httpPort: z.coerce.number().int().min(0).max(65535),
    strategies: z.array(z.string().min(1)),
    symbols: z.array(pair),
    timeframe: z.string().regex(/^[1-9]\d*[mhd]$/, 'expected e.g. 1m, 15m, 1h, 4h or 1d'),
    seed: z.coerce.number().positive(),
    feeBps: z.coerce.number().min(0).max(1000),
    slippageBps: z.coerce.number().min(0).max(1000),
    workers: z.coerce.number().int().min(1).max(256),
    peerKeys: z.array(publicKey),
    candleKeys: z.array(publicKey),
    runTimeoutMin: z.coerce.number().positive(),
    submitAttempts: z.coerce.number().int().min(1).max(100),
  })
  .superRefine((c, ctx) => {
    if (c.candleKeys.length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['candleKeys'],
        message: 'required: the datafeeds\u2019 public keys; only candles one of them signed are stored',
      });
  });
export type Config = z.infer<typeof Config>;

/** Every option of `simulator/src/main.ts`, documented in docs/configuration.md. */
export function simulatorOptions(defaults: { workers: number; node: string }): ShellOption[] {
  return [
    {
      flag: '--kafka <brokers>',
      env: 'KAFKA_BROKERS',
      description:
        'Kafka bootstrap brokers; empty: an embedded bus inside this process (one node only, candles from nowhere but this process)',
      default: '',
    },
    {
      flag: '--data-dir <dir>',
      env: 'SIMULATOR_DATA_DIR',
      description: 'where the candle store is kept',
      default: '.data/simulator',
    },
    {
      flag: '--control-url <url>',
      env: 'SIMULATOR_CONTROL_URL',
      description: "the control server's base URL; decisions go to POST /api/simulator/results",
      default: 'http://127.0.0.1:8090',
    },
    {
      flag: '--signing-key-file <file>',
      env: 'SIMULATOR_SIGNING_KEY_FILE',
      description: "this node's Ed25519 PKCS#8 PEM key (signs its jobs, results and decisions)",
      default: '',
    },
    {
      flag: '--node <name>',
      env: 'SIMULATOR_NODE',
      description: 'this node’s name, in logs and in the decisions it submits',
      default: defaults.node,
    },
    {
      flag: '--every-hours <h>',
      env: 'SIMULATOR_EVERY_HOURS',
      description: 'run the eligibility this often (counted from start)',
      default: String(DEFAULT_EVERY_HOURS),
    },
    {
      flag: '--run-at-start',
      env: 'SIMULATOR_RUN_AT_START',
      description: 'also run once as soon as the node is up',
      default: false,
    },
    {
      flag: '--http-port <n>',
      env: 'SIMULATOR_HTTP_PORT',
      description: 'loopback port of POST /run (run now) and GET /health; 0: any free port (logged)',
      default: String(DEFAULT_HTTP_PORT),
    },
    {
      flag: '--strategies <name...>',
      env: 'SIMULATOR_STRATEGIES',
      description: 'strategies to judge, comma separated; none: every registered strategy',
      default: [],
    },
    {
      flag: '--symbols <pair...>',
      env: 'SIMULATOR_SYMBOLS',
      description: 'pairs to judge, comma separated; none: every pair in the candle store',
      default: [],
    },
    {
      flag: '--timeframe <tf>',
      env: 'SIMULATOR_TIMEFRAME',
      description: 'candle timeframe the runs use',
      default: '1h',
    },
    {
      flag: '--seed <quote>',
      env: 'SIMULATOR_SEED',
      description: 'virtual balance of each backtest, in the quote currency',
      default: '10000',
    },
    { flag: '--fee-bps <bps>', env: 'SIMULATOR_FEE_BPS', description: 'fee per fill', default: '10' },
    {
      flag: '--slippage-bps <bps>',
      env: 'SIMULATOR_SLIPPAGE_BPS',
      description: 'slippage per fill',
      default: '5',
    },
    {
      flag: '--workers <n>',
      env: 'SIMULATOR_WORKERS',
      description: 'worker threads running jobs',
      default: String(defaults.workers),
    },
    {
      flag: '--peer-key <key...>',
      env: 'SIMULATOR_PEER_KEYS',
      key: 'peerKeys',
      description:
        'public keys of the other simulator nodes: their jobs are run and their results counted (this node’s own key always is)',
      default: [],
    },
    {
      flag: '--candle-key <key...>',
      env: 'SIMULATOR_CANDLE_KEYS',
      key: 'candleKeys',
      description: 'public keys of the datafeeds: only candles one of them signed are stored',
      default: [],
    },
    {
      flag: '--run-timeout-min <min>',
      env: 'SIMULATOR_RUN_TIMEOUT_MIN',
      description: 'a coordinator gives up a run whose results have not all come in after this long',
      default: String(DEFAULT_RUN_TIMEOUT_MIN),
    },
    {
      flag: '--submit-attempts <n>',
      env: 'SIMULATOR_SUBMIT_ATTEMPTS',
      description: 'attempts at submitting the decisions while the control server is unreachable or 5xx',
      default: String(DEFAULT_SUBMIT_ATTEMPTS),
    },
  ];
}
