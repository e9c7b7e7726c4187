import { z } from 'zod';
import { MAX_FEED_REPORT_PERIOD_MS } from '@appliance/protocol';

/**
 * The datafeed's options as its process shell hands them over (flag > variable > file >
 * default), checked once. Checks that need files or the strategy registry are in main.ts's
 * `finish` and stream-config.ts.
 */
const pair = z.string().regex(/^[A-Z0-9]+\/[A-Z0-9]+$/, 'expected BASE/QUOTE, e.g. BTC/USDT');
const streamName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/);

/** `--params` and `--streams` are JSON text on the command line and in variables, JSON itself in the file. */
const json = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v, ctx) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v) as unknown;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `not JSON: ${(err as Error).message}` });
      return z.NEVER;
    }
  }, schema);
const Params = z.record(z.string(), z.unknown(), 'expected a JSON object, e.g. {"fastPeriod": 9}');
const StreamEntry = z.strictObject({
  stream: streamName,
  strategy: z.string().min(1),
  params: Params.optional(),
  symbols: z.array(pair).min(1).optional(),
});

export const Config = z
  .object({
    // Required unless --list-strategies: checked below.
    kafka: z.string(),
    signingKeyFile: z.string(),
    stream: streamName,
    strategy: z.string().min(1),
    params: json(Params).optional(),
    streams: json(
      z.array(StreamEntry, 'expected a JSON array of {stream, strategy, params?, symbols?}').min(1),
    ).optional(),
    listStrategies: z.boolean(),
    origin: z.string().min(1),
    replay: z.array(z.string()),
    speed: z.union([z.literal('max'), z.coerce.number().positive()]),
    from: z.string().datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().positive().optional(),
    live: z.boolean(),
    symbols: z.array(pair),
    symbol: pair.optional(),
    timeframe: z
      .string()
      .regex(/^[1-9]\d*[mhd]$/, 'expected e.g. 1m, 15m, 1h, 4h or 1d')
      .optional(),
    ccxtUrl: z.string().url().optional(),
    seed: z.coerce.number().positive(),
    ttlMs: z.coerce.number().int().positive(),
    // 0: no feed reports. At most a day, the longest period a report may cover.
    reportEveryMs: z.coerce.number().int().nonnegative().max(MAX_FEED_REPORT_PERIOD_MS),
    // Empty: eligibility is not followed (today's behaviour, warned about at start).
    controlKeys: z.array(
      z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'control key: base64url Ed25519 public key'),
    ),
  })
  .superRefine((c, ctx) => {
    if (c.listStrategies) return;
    if (c.kafka === '')
      ctx.addIssue({ code: 'custom', path: ['kafka'], message: 'required: signals go out on Kafka' });
    if (c.signingKeyFile === '')
      ctx.addIssue({
        code: 'custom',
        path: ['signingKeyFile'],
        message: "required: this node's key signs its signals and candles",
      });
    const names = c.streams?.map((s) => s.stream) ?? [];
    names.forEach((name, i) => {
      if (names.indexOf(name) !== i)
        ctx.addIssue({
          code: 'custom',
          path: ['streams', i, 'stream'],
          message: `stream ${name} is named twice: each stream has its own name`,
        });
    });
    if (c.replay.length === 0 && !c.live)
      ctx.addIssue({ code: 'custom', path: ['replay'], message: 'give --replay FILE... or --live' });
    if (c.replay.length === 0 && c.symbol !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['symbol'],
        message: '--symbol is for --replay; --live takes --symbols',
      });
  });
