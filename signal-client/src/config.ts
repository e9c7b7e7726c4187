import { z } from 'zod';
import { Profile } from '@appliance/protocol';
import { UserSettings } from '@appliance/trading-core';
import { GatewayTlsConfig } from './gateway-tls.js';
import { KeystoreConfig } from './keystore/config.js';
import { MAX_RESUME_STREAMS, isStreamName } from './state.js';

const publicKey = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'base64url Ed25519 public key (43 characters)');
/** A host name, an IPv4 address or a bracketed IPv6 address, as a `Host` header names it (no port). */
const hostName = z
  .string()
  .regex(
    /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)$/,
    'a host name, IPv4 address or [IPv6] address, without a port',
  )
  .transform((h) => h.toLowerCase());

/**
 * `enrolment`: the device was enrolled with `signal-client enrol` (docs/enrolment.md) and keeps
 * its identity, credential and tunnel in `stateDir` (see signal-client/src/enrolment/files.ts).
 */
const EnrolmentConfig = z.strictObject({
  /** The folder `signal-client enrol --state-dir` wrote: keys, enrolment.json, wg0.conf. */
  stateDir: z.string().startsWith('/', 'an absolute path'),
  /** How often the credential's remaining life is checked (ms). */
  renewCheckMs: z.number().int().min(50).default(3_600_000),
  /** The WireGuard interface a rotated key is applied to (`wg set IFACE private-key …`); false: none. */
  wgInterface: z
    .union([
      z.string().regex(/^[A-Za-z0-9_=+.-]{1,15}$/, 'an interface name (1 to 15 characters)'),
      z.literal(false),
    ])
    .default('wg0'),
});

/** What an inline (provisioned) config gives and an enrolled device takes from its state folder. */
const INLINE_CONNECTION = ['gatewayUrl', 'token', 'signalKeys', 'controlKeys'] as const;
/** Required inline; optional with enrolment (given, it must be the enrolled device's). */
const INLINE_IDENTITY = ['deviceId'] as const;

/** The fields of the device's configuration (see ClientConfig and DeviceConfigFile). */
const fields = {
  deviceId: z.string().regex(/^[a-z0-9][a-z0-9-]{2,63}$/),
  // HAProxy passes only the WebSocket upgrade on `/`: a path or query would be refused there
  // with 404 on every reconnect, so it is refused here, at start, naming the field.
  gatewayUrl: z
    .string()
    .regex(/^wss?:\/\//, 'gatewayUrl: ws:// or wss:// URL')
    .refine((u) => URL.canParse(u) && new URL(u).pathname === '/' && !new URL(u).search && !new URL(u).hash, {
      message:
        'gatewayUrl: no path, query or fragment (wss://host[:port] or wss://host[:port]/): HAProxy passes devices only on /',
    }),
  /**
   * How HAProxy's TLS endpoint is checked (wss:// only): a pinned CA or certificate instead of
   * the system roots, a certificate fingerprint, the name to check (see gateway-tls.ts).
   */
  gatewayTls: GatewayTlsConfig.optional(),
  /** Device token issued by the control server at provisioning. */
  token: z.string().min(10),
  quote: z.string().default('USDT'),
  /**
   * The device's profile (`family`, `beta`, `mandate:<id>`) comes from its device token's
   * `scope` claim. Absent: the token decides. Given and different from the token's: refused at
   * start (exit 2). See signal-client/src/profile.ts and docs/device-config.md.
   */
  profile: Profile.optional(),
  /** Keys pinned at provisioning: datafeed nodes (signals) and the control server (control). */
  signalKeys: z.array(publicKey).min(1),
  controlKeys: z.array(publicKey).min(1),
  /**
   * The person's own settings: time zone, streams followed, pause, and limits that can only
   * tighten the central policy (trading-core's UserSettings).
   */
  settings: UserSettings.prefault({ timeZone: 'UTC' }),
  stateFile: z.string().min(1),
  exchange: z
    .strictObject({
      paperUrl: z.string().url().optional(),
      timeoutMs: z.number().int().positive().default(10_000),
    })
    .prefault({}),
  /** How an order whose outcome is unknown is settled (see signal-client/src/execution.ts). */
  execution: z
    .strictObject({
      notFoundGraceMs: z.number().int().min(0).default(30_000),
      notFoundLookups: z.number().int().min(1).default(3),
      lookupIntervalMs: z.number().int().min(10).default(1_000),
    })
    .prefault({}),
  /** Where the exchange API keys are kept; env (EXCHANGE_API_KEY / EXCHANGE_API_SECRET) is for development. */
  keystore: KeystoreConfig.default({ backend: 'env' }),
  telemetryIntervalMs: z.number().int().min(100).default(5_000),
  /** Port of the read-only status page on 127.0.0.1 (0: none). */
  statusPort: z.number().int().min(0).max(65535).default(8765),
  /**
   * Further `Host` names the status page answers to (any port), e.g. the device's name on the
   * home network behind a local proxy. `localhost`, `127.0.0.1` and `[::1]` always are; any
   * other Host is refused (421), so a web page using DNS rebinding cannot read the page.
   */
  statusAllowedHosts: z.array(hostName).max(32).default([]),
  maxClockSkewMs: z.number().int().min(0).default(5_000),
};

/** Checks across fields, for both forms of the configuration. */
function checkConfig(
  c: Pick<z.infer<z.ZodObject<typeof fields>>, 'gatewayTls' | 'settings'> & { gatewayUrl?: string },
  ctx: z.RefinementCtx,
): void {
  if (c.gatewayTls && c.gatewayUrl !== undefined && !c.gatewayUrl.startsWith('wss://'))
    ctx.addIssue({
      code: 'custom',
      path: ['gatewayTls'],
      message: 'only with a wss:// gatewayUrl (ws:// has no TLS to check)',
    });
  // Each followed stream keeps a resume point, and every one of them goes in each hello.
  if (c.settings.streams.length > MAX_RESUME_STREAMS)
    ctx.addIssue({
      code: 'custom',
      path: ['settings', 'streams'],
      message: `at most ${MAX_RESUME_STREAMS} streams`,
    });
  for (const [i, stream] of c.settings.streams.entries())
    if (!isStreamName(stream))
      ctx.addIssue({
        code: 'custom',
        path: ['settings', 'streams', i],
        message: 'stream: lowercase letters, digits, . _ -',
      });
}

/**
 * The device's configuration as the running client uses it: the gateway, the token and the
 * pinned keys given inline (provisioned), or filled in from the enrolment state at start
 * (`resolveEnrolment`). Secrets are never in the file: API keys come from the keystore.
 */
export const ClientConfig = z.strictObject(fields).superRefine(checkConfig);
export type ClientConfig = z.infer<typeof ClientConfig>;

/**
 * The configuration FILE: either inline (gatewayUrl, token, signalKeys, controlKeys, as
 * ClientConfig) or `enrolment` (an enrolled device, which takes them from its state folder).
 */
export const DeviceConfigFile = z
  .strictObject({
    ...fields,
    /** Required inline; an enrolled device takes it from its grant (one image, many devices). */
    deviceId: fields.deviceId.optional(),
    gatewayUrl: fields.gatewayUrl.optional(),
    token: fields.token.optional(),
    signalKeys: fields.signalKeys.optional(),
    controlKeys: fields.controlKeys.optional(),
    /**
     * An enrolled device (`signal-client enrol`): the gateway URL, the credential, the pinned
     * keys and the gateway's certificate pin come from the state folder, where the credential
     * is renewed. Instead of gatewayUrl, token, signalKeys and controlKeys.
     */
    enrolment: EnrolmentConfig.optional(),
  })
  // Runs even when other fields have problems, so that a missing gatewayUrl is named with them.
  .superRefine(
    (c, ctx) => {
      const enrolled = c.enrolment !== undefined;
      for (const key of INLINE_IDENTITY)
        if (!enrolled && c[key] === undefined)
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'required (or enrolment, for an enrolled device)',
          });
      for (const key of INLINE_CONNECTION)
        if (!enrolled && c[key] === undefined)
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'required (or enrolment, for an enrolled device)',
          });
        else if (enrolled && c[key] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'not with enrolment: an enrolled device takes it from its enrolment state folder',
          });
      if (enrolled && c.gatewayTls?.certSha256 !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['gatewayTls', 'certSha256'],
          message: "not with enrolment: the gateway certificate's pin comes from the enrolment grant",
        });
    },
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
  )
  .superRefine(checkConfig);
export type DeviceConfigFile = z.infer<typeof DeviceConfigFile>;
