import { z } from 'zod';

const DAY_MS = 86_400_000;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: DAY_MS };
/** `30d`, `12h`, `90m`, `45s`, `500ms` or plain milliseconds. */
function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(text)!;
  return Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!;
}

/**
 * The control server's options as its process shell hands them over (flag > variable > file >
 * default), checked once. Checks that need files (keys, certificates, the breaker's settings) are
 * in config-files.ts, run from main.ts's `finish`.
 */
export const Config = z
  .object({
    port: z.coerce.number().int().min(0).max(65535),
    paperPort: z.coerce.number().int().min(0).max(65535),
    host: z.string().min(1),
    kafka: z.string().min(1, 'required: the control server publishes control state on Kafka'),
    signingKeyFile: z.string().min(1, 'required: the key that signs control messages and device tokens'),
    adminToken: z.string().min(16, 'must be set, at least 16 characters'),
    dataDir: z.string().min(1),
    eligibility: z.array(
      z.string().regex(/^[a-z0-9][a-z0-9._-]*=[A-Z0-9/,]+$/, 'eligibility: stream=SYM/QUOTE,SYM/QUOTE'),
    ),
    paper: z.boolean(),
    allowedHosts: z.array(
      z
        .string()
        .regex(
          /^(\[[0-9a-fA-F:.]+\]|[0-9a-fA-F]*:[0-9a-fA-F:.]*|[A-Za-z0-9.-]+)$/,
          'allowed host: a host name or address, without a port',
        ),
    ),
    feedKeys: z.array(z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'feed key: base64url Ed25519 public key')),
    simulatorKeys: z.array(
      z
        .string()
        .regex(/^[A-Za-z0-9_-]{8,64}=.+$/, 'simulator key: KID=FILE (the public key of a simulator node)'),
    ),
    eligibilityApproval: z.array(
      z
        .string()
        .regex(
          /^([a-z0-9][a-z0-9._-]{0,63}|\*)=(auto|manual)$/,
          'eligibility approval: STREAM=auto or STREAM=manual (* for every other stream)',
        ),
    ),
    simulatorMaxAgeMs: z.coerce
      .number()
      .int()
      .min(1_000)
      .max(7 * 24 * 3_600_000),
    breakerConfig: z.string(),
    pegSymbol: z
      .string()
      .regex(/^([A-Z0-9]{1,20}\/[A-Z0-9]{1,20})?$/, 'peg symbol: a pair such as USDC/USDT')
      .optional(),
    enrolUrl: z.string(),
    enrolCert: z.string(),
    tunnelPool: z.string(),
    tunnelEndpoint: z.string(),
    tunnelPublicKey: z.string(),
    tunnelGatewayUrl: z.string(),
    tunnelGatewayCert: z.string(),
    wgInterface: z
      .string()
      .regex(
        /^([a-zA-Z0-9_=+.-]{1,15})?$/,
        'wg interface: an interface name (1-15 of a-z A-Z 0-9 _ = + . -)',
      ),
    credentialTtl: z
      .string()
      .regex(
        /^\d+(ms|s|m|h|d)?$/,
        'credential ttl: milliseconds, or a number with ms, s, m, h or d (30d, 12h)',
      )
      .transform((v, ctx) => {
        const ms = durationMs(v);
        if (ms < 10_000 || ms > 365 * DAY_MS) {
          ctx.addIssue({ code: 'custom', message: 'credential ttl: between 10 s and 365 days' });
          return z.NEVER;
        }
        return ms;
      }),
    keyOverlapMs: z.coerce
      .number()
      .int()
      .min(0)
      .max(7 * DAY_MS),
    haproxySocket: z.string(),
    haproxyDenyFile: z.string(),
  })
  .superRefine((c, ctx) => {
    if ((c.haproxySocket === '') !== (c.haproxyDenyFile === ''))
      ctx.addIssue({
        code: 'custom',
        path: [c.haproxySocket === '' ? 'haproxySocket' : 'haproxyDenyFile'],
        message:
          'give both --haproxy-socket and --haproxy-deny-file (the deny list is kept in both), or neither',
      });
    for (const key of ['haproxySocket', 'haproxyDenyFile'] as const)
      if (c[key] !== '' && !c[key].startsWith('/'))
        ctx.addIssue({ code: 'custom', path: [key], message: 'an absolute path' });
    // The paper exchange prices only from candles a pinned datafeed signed: without a key it could not fill.
    if (c.paper && c.feedKeys.length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['feedKeys'],
        message:
          "required with the paper exchange: the datafeeds' public keys (only candles they signed move its prices)",
      });
  });
export type ControlServerConfig = z.infer<typeof Config>;
