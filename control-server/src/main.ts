#!/usr/bin/env node
import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  DEFAULT_SIMULATOR_RESULT_MAX_AGE_MS,
  KeyRing,
  exportPublicKey,
  importPublicKey,
  keyId,
  signerFromPem,
} from '@appliance/protocol';
import { createKafkaBus } from '@appliance/protocol/kafka';
import {
  ConfigError,
  createLogger,
  exitOnConfigError,
  handleShutdown,
  kafkaSecurityFromEnv,
  startShell,
} from '@appliance/runtime';
import { Breaker, type BreakerConfigInput } from '@appliance/trading-core';
import { AdminTokenError } from './admin-auth.js';
import { BreakerOverridesError } from './breaker-overrides.js';
import { EligibilityHistoryError } from './eligibility-history.js';
import { EnrolmentConfigError } from './enrolment-error.js';
import { checkEnrolmentConfig, type EnrolmentConfig } from './enrolment-model.js';
import { RegistryError } from './registry.js';
import { denyAddress } from '@appliance/haproxy/deny-list';
import { ListenError, startControlServer } from './server.js';
import { StoreError } from './store/database.js';

const DAY_MS = 86_400_000;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: DAY_MS };
/** `30d`, `12h`, `90m`, `45s`, `500ms` or plain milliseconds. */
function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(text)!;
  return Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!;
}

/** The enrolment flags that must all be given for enrolment to be on. */
const ENROLMENT_FLAGS = [
  ['enrolUrl', '--enrol-url'],
  ['enrolCert', '--enrol-cert'],
  ['tunnelPool', '--tunnel-pool'],
  ['tunnelEndpoint', '--tunnel-endpoint'],
  ['tunnelPublicKey', '--tunnel-public-key'],
  ['tunnelGatewayUrl', '--tunnel-gateway-url'],
] as const;

/** A PEM certificate file's pin (SHA-256 of its DER, lowercase hex). */
function readCertificatePin(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
      cause: err,
    });
  }
  if (pem.includes('PRIVATE KEY')) throw new Error(`${file}: holds a private key; give the certificate only`);
  try {
    return new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();
  } catch {
    throw new Error(`${file}: not a PEM certificate`);
  }
}

const Config = z
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

/**
 * A simulator node's public key from its file: base64url (as keygen prints it) or an SPKI PEM.
 * The KID it is given under must be the key's own, so a typo cannot pin another key.
 */
function readSimulatorKey(spec: string): KeyObject {
  const eq = spec.indexOf('=');
  const kid = spec.slice(0, eq);
  const file = spec.slice(eq + 1);
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new Error(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
      cause: err,
    });
  }
  if (text.includes('PRIVATE KEY'))
    throw new Error(`${file}: a private key; give the simulator node's public key only`);
  let key: KeyObject;
  try {
    key = text.startsWith('-----BEGIN') ? createPublicKey(text) : importPublicKey(text);
  } catch {
    throw new Error(`${file}: not an Ed25519 public key (base64url, 43 characters, or a PEM public key)`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file}: not an Ed25519 key`);
  if (keyId(key) !== kid) throw new Error(`${file}: its kid is ${keyId(key)}, not ${kid}`);
  return key;
}

/** The breaker's settings file: JSON, any field of trading-core's BreakerConfig, checked whole now. */
function readBreakerConfig(file: string): BreakerConfigInput | undefined {
  if (file === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const why =
      err instanceof SyntaxError
        ? `not JSON (${err.message})`
        : `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
    throw new Error(`${file}: ${why}`, { cause: err });
  }
  try {
    new Breaker(parsed as BreakerConfigInput);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`, { cause: err });
  }
  return parsed as BreakerConfigInput;
}

const { config, signingKeyPem, kafkaSecurity, simulatorKeys, breakerConfig, enrolment } = startShell(
  {
    name: 'control-server',
    description:
      'Control plane: device registry and tokens, fleet view, signed control state, paper exchange',
    configEnv: 'CONTROL_CONFIG',
    schema: Config,
    secrets: [
      {
        env: 'CONTROL_ADMIN_TOKEN',
        key: 'adminToken',
        description: 'admin token of the API until rotated (required, 16+ characters)',
      },
    ],
    options: [
      {
        flag: '--port <n>',
        env: 'PORT',
        description: 'HTTP API and dashboard port (0 = any free port)',
        default: '8090',
      },
      {
        flag: '--paper-port <n>',
        env: 'PAPER_PORT',
        description: 'paper exchange port (0 = any free port)',
        default: '8091',
      },
      { flag: '--host <addr>', env: 'HOST', description: 'listen address', default: '127.0.0.1' },
      {
        flag: '--kafka <brokers>',
        env: 'KAFKA_BROKERS',
        description: 'Kafka bootstrap brokers, comma separated',
        default: '',
      },
      {
        flag: '--signing-key-file <file>',
        env: 'CONTROL_SIGNING_KEY_FILE',
        description: 'Ed25519 PKCS#8 PEM key that signs control messages and device tokens',
        default: '',
      },
      {
        flag: '--data-dir <dir>',
        env: 'CONTROL_DATA_DIR',
        description: 'where the database (control.sqlite: registry, eligibility history, overrides) is kept',
        default: '.data/control',
      },
      {
        flag: '--eligibility <spec...>',
        env: 'CONTROL_ELIGIBILITY',
        separator: ' ',
        description:
          'eligible symbols per stream, e.g. ema-cross.1h=BTC/USDT,ETH/USDT, space separated in the variable',
        default: [],
      },
      {
        flag: '--no-paper',
        env: 'CONTROL_PAPER',
        key: 'paper',
        description: 'do not run the paper exchange; CONTROL_PAPER=0 does the same',
      },
      {
        flag: '--allowed-hosts <names...>',
        env: 'CONTROL_ALLOWED_HOSTS',
        description: 'Host names the API answers besides localhost, 127.0.0.1, [::1] and --host',
        default: [],
      },
      {
        flag: '--simulator-key <kid=file...>',
        env: 'CONTROL_SIMULATOR_KEYS',
        key: 'simulatorKeys',
        description:
          "simulator nodes' public keys, KID=FILE (base64url or PEM public key): only results one signed change eligibility",
        default: [],
      },
      {
        flag: '--eligibility-approval <stream=mode...>',
        env: 'CONTROL_ELIGIBILITY_APPROVAL',
        description:
          'per stream, whether simulator changes apply at once (auto, the default) or wait for an operator (manual); * for every other stream',
        default: [],
      },
      {
        flag: '--simulator-max-age-ms <ms>',
        env: 'CONTROL_SIMULATOR_MAX_AGE_MS',
        description: 'oldest a signed simulator submission may be when it arrives',
        default: String(DEFAULT_SIMULATOR_RESULT_MAX_AGE_MS),
      },
      {
        flag: '--feed-key <key...>',
        env: 'CONTROL_FEED_KEYS',
        key: 'feedKeys',
        description:
          "datafeeds' public key(s): the paper exchange and the breaker take only candles and feed reports signed by one",
        default: [],
      },
      {
        flag: '--breaker-config <file>',
        env: 'CONTROL_BREAKER_CONFIG',
        description:
          "the circuit breaker's thresholds and windows, a JSON file of BreakerConfig fields (trading-core/README.md); absent: the defaults",
        default: '',
      },
      {
        flag: '--enrol-url <url>',
        env: 'CONTROL_ENROL_URL',
        description:
          "the public enrolment endpoint as devices reach it, https://host[:port] (HAProxy's enrolment frontend); enrolment is on only with all of --enrol-url, --enrol-cert, --tunnel-pool, --tunnel-endpoint, --tunnel-public-key, --tunnel-gateway-url",
        default: '',
      },
      {
        flag: '--enrol-cert <file>',
        env: 'CONTROL_ENROL_CERT',
        description: 'the PEM certificate that endpoint serves: devices pin its SHA-256',
        default: '',
      },
      {
        flag: '--tunnel-pool <cidr>',
        env: 'CONTROL_TUNNEL_POOL',
        description:
          "the fleet's WireGuard subnet, e.g. 10.77.0.0/16: the hub is its first host, devices get the next never-used address",
        default: '',
      },
      {
        flag: '--tunnel-endpoint <host:port>',
        env: 'CONTROL_TUNNEL_ENDPOINT',
        description: "the concentrator's WireGuard endpoint as devices reach it",
        default: '',
      },
      {
        flag: '--tunnel-public-key <key>',
        env: 'CONTROL_TUNNEL_PUBLIC_KEY',
        description: "the concentrator's WireGuard public key (wg pubkey)",
        default: '',
      },
      {
        flag: '--tunnel-gateway-url <url>',
        env: 'CONTROL_TUNNEL_GATEWAY_URL',
        description:
          "the gateway inside the tunnel, ws(s)://<hub tunnel address>:port/ (HAProxy's tunnel-side frontend)",
        default: '',
      },
      {
        flag: '--tunnel-gateway-cert <file>',
        env: 'CONTROL_TUNNEL_GATEWAY_CERT',
        description: 'the PEM certificate of that frontend, pinned by devices (required with wss://)',
        default: '',
      },
      {
        flag: '--wg-interface <name>',
        env: 'CONTROL_WG_INTERFACE',
        description:
          "the concentrator's WireGuard interface on this host: peers are set with wg as devices enrol, rotate and are revoked, and reconciled at start (absent: no peer is changed)",
        default: '',
      },
      {
        flag: '--credential-ttl <duration>',
        env: 'CONTROL_CREDENTIAL_TTL',
        description: 'life of device credentials and tokens: milliseconds or 30d, 12h, 90m',
        default: '30d',
      },
      {
        flag: '--key-overlap-ms <ms>',
        env: 'CONTROL_KEY_OVERLAP_MS',
        description:
          'how long a device key replaced by a rotation still renews, before its kid is published as revoked',
        default: String(10 * 60_000),
      },
      {
        flag: '--haproxy-socket <file>',
        env: 'CONTROL_HAPROXY_SOCKET',
        description:
          "HAProxy's admin socket (stats socket, level admin): a revoked device's tunnel address is denied there at once (add acl)",
        default: '',
      },
      {
        flag: '--haproxy-deny-file <file>',
        env: 'CONTROL_HAPROXY_DENY_FILE',
        description:
          "the cluster description's denyList.file: revoked tunnel addresses are appended, so a restarted HAProxy still refuses them",
        default: '',
      },
      {
        flag: '--peg-symbol <pair>',
        env: 'CONTROL_PEG_SYMBOL',
        description:
          "a pair of a second stablecoin against the quote (USDC/USDT): its candles are read as the quote's peg, not traded",
      },
    ],
    helpAfter: 'Kafka TLS and SASL: KAFKA_SSL_* and KAFKA_SASL_* (docs/bus-security.md).',
  },
  (shell) => ({
    config: shell.config,
    signingKeyPem: shell.readSigningKey('signingKeyFile'),
    // TLS and SASL/SCRAM from KAFKA_SSL_* / KAFKA_SASL_* (docs/bus-security.md).
    kafkaSecurity: kafkaSecurityFromEnv(),
    breakerConfig: (() => {
      try {
        return readBreakerConfig(shell.config.breakerConfig);
      } catch (err) {
        throw shell.problem('breakerConfig', (err as Error).message);
      }
    })(),
    enrolment: (() => {
      const c = shell.config;
      const given = ENROLMENT_FLAGS.filter(([key]) => c[key] !== '');
      if (given.length === 0) return undefined;
      const missing = ENROLMENT_FLAGS.filter(([key]) => c[key] === '').map(([, flag]) => flag);
      if (missing.length > 0)
        throw shell.problem(
          given[0]![0],
          `enrolment needs ${missing.join(', ')} as well (or none of the enrolment flags: enrolment off)`,
        );
      const pin = (key: 'enrolCert' | 'tunnelGatewayCert') => {
        try {
          return readCertificatePin(c[key]);
        } catch (err) {
          throw shell.problem(key, (err as Error).message);
        }
      };
      const out: EnrolmentConfig = {
        url: c.enrolUrl,
        certSha256: pin('enrolCert'),
        tunnelPool: c.tunnelPool,
        tunnelEndpoint: c.tunnelEndpoint,
        tunnelPublicKey: c.tunnelPublicKey,
        tunnelGatewayUrl: c.tunnelGatewayUrl,
        ...(c.tunnelGatewayCert !== '' && { tunnelGatewayCertSha256: pin('tunnelGatewayCert') }),
        signalKeys: c.feedKeys,
      };
      try {
        checkEnrolmentConfig(out);
      } catch (err) {
        if (!(err instanceof EnrolmentConfigError)) throw err;
        throw new ConfigError(
          `invalid control-server configuration:\n  - ${err.issues.join('\n  - ')}`,
          err.issues,
        );
      }
      return out;
    })(),
    simulatorKeys: shell.config.simulatorKeys.map((spec) => {
      try {
        return readSimulatorKey(spec);
      } catch (err) {
        throw shell.problem('simulatorKeys', (err as Error).message);
      }
    }),
  }),
);

const logger = createLogger({ name: 'control-server' });
const signer = signerFromPem(signingKeyPem);
const bus = createKafkaBus({
  brokers: config.kafka.split(','),
  clientId: 'control-server',
  logger,
  ...kafkaSecurity,
});
const eligibility = Object.fromEntries(
  config.eligibility.map((e) => [e.split('=')[0]!, e.split('=')[1]!.split(',')]),
);
/**
 * A port in use, an unreadable data file or a database that cannot be opened or migrated: one
 * line naming the option, exit 2, no stack.
 */
const exitOnStartError = (err: unknown): never => {
  const issue =
    err instanceof ListenError
      ? `${err.option}: ${err.message}`
      : err instanceof StoreError ||
          err instanceof AdminTokenError ||
          err instanceof EligibilityHistoryError ||
          err instanceof BreakerOverridesError ||
          (err instanceof RegistryError && err.code === 'E_REGISTRY_CORRUPT')
        ? `dataDir (--data-dir, CONTROL_DATA_DIR): ${config.dataDir}: ${err.message}`
        : undefined;
  if (issue === undefined) throw err;
  return exitOnConfigError(new ConfigError(`cannot start control-server:\n  - ${issue}`, [issue]));
};
const server = await startControlServer({
  bus,
  signer,
  adminToken: config.adminToken,
  logger,
  dataDir: config.dataDir,
  eligibility,
  feedKeys: KeyRing.of(...config.feedKeys),
  simulatorKeys: KeyRing.of(...simulatorKeys),
  eligibilityApproval: Object.fromEntries(
    config.eligibilityApproval.map((e) => e.split('=') as [string, 'auto' | 'manual']),
  ),
  simulatorMaxAgeMs: config.simulatorMaxAgeMs,
  paper: config.paper ? {} : false,
  allowedHosts: config.allowedHosts,
  breaker: { config: breakerConfig, pegSymbol: config.pegSymbol || undefined },
  enrolment,
  wgInterface: config.wgInterface || undefined,
  deviceTokenTtlMs: config.credentialTtl,
  keyOverlapMs: config.keyOverlapMs,
  ...(config.haproxySocket !== '' && {
    denyTunnelAddress: (address: string) =>
      denyAddress({ socket: config.haproxySocket, file: config.haproxyDenyFile }, address),
  }),
}).catch(exitOnStartError);
const url = await server.listen(config.port, config.host, config.paperPort).catch(exitOnStartError);
logger.info(
  { kid: signer.kid, publicKey: exportPublicKey(signer.publicKey) },
  'signing control messages and device tokens with this key',
);
logger.info({ url, paperUrl: server.paperUrl, kid: signer.kid }, 'listening');
handleShutdown(logger, [() => bus.close(), () => server.close()]);
