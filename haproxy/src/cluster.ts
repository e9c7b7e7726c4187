import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import { ClusterError } from './errors.js';

/** Defaults for every part of a cluster description, with units. README.md says why each. */
export const DEFAULT_CLUSTER = {
  bind: {
    /** Every interface; in production, the WireGuard interface's address is tighter. */
    host: '0.0.0.0',
    port: 443,
  },
  limits: {
    /** Devices reach HAProxy over WireGuard, one tunnel address each: one socket, two while reconnecting. */
    maxConnPerSource: 5,
    /** New connections one source may open per 10 s: a device reconnecting with backoff needs a few. */
    connRatePerSourcePer10s: 10,
    /**
     * Connections HAProxy holds in all (a device holds one WebSocket); 2 fds each. When the
     * description leaves it out, the renderer takes this or, if the open-files limit is lower, the
     * most that limit allows (fd-limit.ts): a default that does not start is no default.
     */
    maxConn: 20_000,
  },
  timeouts: {
    /** A gateway on the same network accepts in well under this. */
    connectMs: 5_000,
    /** Client inactivity before the upgrade (TLS handshake, request, keep-alive). */
    clientMs: 30_000,
    /** Gateway inactivity before the upgrade (a /healthz or upgrade answer). */
    serverMs: 30_000,
    /** Inactivity of an upgraded WebSocket; gateways ping every 15 s, so only dead tunnels idle this long. */
    tunnelMs: 300_000,
    /** How long a half-closed client socket is kept: lost devices free their slot soon. */
    clientFinMs: 10_000,
    /** Whole HTTP request (headers) must arrive within this: slow-loris protection. */
    httpRequestMs: 10_000,
    /** Interval between /healthz checks of each gateway. */
    healthCheckIntervalMs: 2_000,
  },
  stats: {
    /** Debian's haproxy package keeps its admin socket here. */
    socket: '/run/haproxy/admin.sock',
  },
  /** Send PROXY protocol v2 to gateways, so they see the device's tunnel address, not HAProxy's. */
  proxyProtocol: true,
};

/**
 * Every string here ends up inside haproxy.cfg, where whitespace separates arguments and `#`
 * starts a comment: a value with either could smuggle in a setting, so such values are refused.
 */
const SAFE_PATH = /^\/[^\s#"'\\]*$/;
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** HAProxy server names appear in logs and on the stats socket; keep them plain. */
const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
/** sun_path in struct sockaddr_un is 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;
/** Bind addresses that listen on every interface, so also on each gateway's address. */
const ANY_ADDRESS = new Set(['0.0.0.0', '::']);

/** Says "is required" for a missing field and `wrongType` for a value of the wrong type. */
const typeError = (wrongType: string) => (issue: { input: unknown }) =>
  issue.input === undefined ? 'is required' : wrongType;

const PORT_RANGE = 'must be a port number from 1 to 65535';
const port = () =>
  z
    .number({ error: typeError('must be a number') })
    .int(PORT_RANGE)
    .min(1, PORT_RANGE)
    .max(65535, PORT_RANGE);

const host = z
  .string({ error: typeError('must be a string') })
  .refine(
    (h) => isIP(h) !== 0 || HOSTNAME.test(h),
    'must be an IPv4 address, an IPv6 address (without brackets) or a host name',
  );

const ms = (min: number) =>
  z
    .number({ error: typeError('must be a number of milliseconds') })
    .int('must be a whole number of milliseconds')
    .min(min, `must be at least ${min} ms`);

const count = (min: number, max: number) =>
  z
    .number({ error: typeError('must be a number') })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);

const absolutePath = (what: string) =>
  z
    .string({ error: typeError('must be a string') })
    .regex(SAFE_PATH, `${what} must be an absolute path without spaces, quotes, backslashes or #`);

const Gateway = z.strictObject(
  {
    name: z
      .string({ error: typeError('must be a string') })
      .regex(
        SERVER_NAME,
        'must be 1 to 32 letters, digits, "_", "." or "-", starting with a letter or digit',
      ),
    host,
    port: port(),
  },
  { error: typeError('must be an object') },
);

const Gateways = z
  .array(Gateway, { error: typeError('must be a list of gateways') })
  .min(1, 'at least one gateway is needed')
  .superRefine(
    (gateways, ctx) => {
      if (!Array.isArray(gateways)) return; // missing or not a list: reported already
      const names = new Map<string, number>();
      const addresses = new Map<string, number>();
      gateways.forEach((g, i) => {
        if (typeof g?.name === 'string') {
          const first = names.get(g.name);
          if (first === undefined) names.set(g.name, i);
          else
            ctx.addIssue({
              code: 'custom',
              path: [i, 'name'],
              message: `duplicate gateway name "${g.name}" (also gateways.${first}.name)`,
            });
        }
        if (typeof g?.host === 'string' && typeof g?.port === 'number') {
          const address = `${g.host}:${g.port}`;
          const first = addresses.get(address);
          if (first === undefined) addresses.set(address, i);
          else
            ctx.addIssue({
              code: 'custom',
              path: [i],
              message: `duplicate gateway address ${address} (also gateways.${first})`,
            });
        }
      });
    },
    // Duplicates are worth reporting even when another field of some gateway is wrong.
    { when: () => true },
  );

const Bind = z.strictObject(
  {
    host: host.default(DEFAULT_CLUSTER.bind.host),
    port: port().default(DEFAULT_CLUSTER.bind.port),
  },
  { error: typeError('must be an object') },
);

const Tls = z.strictObject(
  {
    certFile: absolutePath('certFile'),
  },
  { error: typeError('must be an object') },
);

/**
 * HAProxy's public enrolment frontend: the only one reachable from outside the tunnel. It passes
 * devices' enrolment, renewal and rotation requests (POST /enrol, /renew, /rotate) to the control
 * server and nothing else.
 */
const Enrolment = z.strictObject(
  {
    bind: z.strictObject({ host, port: port() }, { error: typeError('must be an object') }),
    tls: Tls,
    controlServer: z.strictObject({ host, port: port() }, { error: typeError('must be an object') }),
    /** New connections one source may open per 10 s: enrolment is rare, renewals hourly. */
    connRatePerSourcePer10s: count(1, 1_000_000).default(20),
  },
  { error: typeError('must be an object') },
);

/**
 * Tunnel addresses of revoked devices, one per line, refused before anything else; the control
 * server appends to it and tells the running HAProxy (`add acl`, deny-list.ts).
 */
const DenyList = z.strictObject({ file: absolutePath('file') }, { error: typeError('must be an object') });

const Limits = z
  .strictObject(
    {
      maxConnPerSource: count(1, 100_000).default(DEFAULT_CLUSTER.limits.maxConnPerSource),
      connRatePerSourcePer10s: count(1, 1_000_000).default(DEFAULT_CLUSTER.limits.connRatePerSourcePer10s),
      // Optional: the renderer derives it from the open-files limit (render.ts).
      maxConn: count(1, 1_000_000).optional(),
    },
    { error: typeError('must be an object') },
  )
  .superRefine((l, ctx) => {
    if (l.maxConn !== undefined && l.maxConnPerSource > l.maxConn)
      ctx.addIssue({
        code: 'custom',
        path: ['maxConnPerSource'],
        message: `maxConnPerSource (${l.maxConnPerSource}) must not exceed maxConn (${l.maxConn})`,
      });
  });

const Timeouts = z
  .strictObject(
    {
      connectMs: ms(1).default(DEFAULT_CLUSTER.timeouts.connectMs),
      clientMs: ms(1).default(DEFAULT_CLUSTER.timeouts.clientMs),
      serverMs: ms(1).default(DEFAULT_CLUSTER.timeouts.serverMs),
      tunnelMs: ms(1).default(DEFAULT_CLUSTER.timeouts.tunnelMs),
      clientFinMs: ms(1).default(DEFAULT_CLUSTER.timeouts.clientFinMs),
      httpRequestMs: ms(1).default(DEFAULT_CLUSTER.timeouts.httpRequestMs),
      healthCheckIntervalMs: ms(100).default(DEFAULT_CLUSTER.timeouts.healthCheckIntervalMs),
    },
    { error: typeError('must be an object') },
  )
  .superRefine((t, ctx) => {
    // Once upgraded, `timeout tunnel` replaces client and server timeouts: shorter would cut an
    // idle WebSocket sooner than an idle HTTP request, which is never what anyone means.
    for (const other of ['clientMs', 'serverMs'] as const)
      if (t.tunnelMs < t[other])
        ctx.addIssue({
          code: 'custom',
          path: ['tunnelMs'],
          message: `tunnelMs (${t.tunnelMs}) must be at least ${other} (${t[other]}): WebSockets are long-lived`,
        });
    if (t.httpRequestMs > t.clientMs)
      ctx.addIssue({
        code: 'custom',
        path: ['httpRequestMs'],
        message: `httpRequestMs (${t.httpRequestMs}) must not exceed clientMs (${t.clientMs})`,
      });
  });

const NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const RunAs = z.strictObject(
  {
    user: z.string({ error: typeError('must be a string') }).regex(NAME, 'must be a system user name'),
    group: z.string({ error: typeError('must be a string') }).regex(NAME, 'must be a system group name'),
  },
  { error: typeError('must be an object') },
);

const Stats = z.strictObject(
  {
    socket: absolutePath('socket')
      .refine(
        (s) => Buffer.byteLength(s) <= MAX_SOCKET_PATH,
        `a unix socket path is at most ${MAX_SOCKET_PATH} bytes`,
      )
      .default(DEFAULT_CLUSTER.stats.socket),
  },
  { error: typeError('must be an object') },
);

export const ClusterSchema = z
  .strictObject(
    {
      gateways: Gateways,
      bind: Bind.prefault({}),
      /**
       * TLS at HAProxy for the devices' frontend, or `false` for none: inside WireGuard, which
       * already encrypts and authenticates every packet, TLS is a second layer and a choice
       * (docs/wireguard.md gives the throughput either way). Never left out by accident.
       */
      tls: z.union([Tls, z.literal(false)], {
        error: (i) =>
          i.input === undefined ? 'is required ({ certFile } or false)' : '{ certFile } or false',
      }),
      enrolment: Enrolment.optional(),
      denyList: DenyList.optional(),
      limits: Limits.prefault({}),
      timeouts: Timeouts.prefault({}),
      stats: Stats.prefault({}),
      /** Started as root (to bind 443), HAProxy drops to this user and group; absent, it stays root. */
      runAs: RunAs.optional(),
      proxyProtocol: z
        .boolean({ error: typeError('must be true or false') })
        .default(DEFAULT_CLUSTER.proxyProtocol),
    },
    {
      error: (issue) =>
        issue.code === 'invalid_type' ? 'a cluster description must be a JSON object' : undefined,
    },
  )
  .superRefine(
    (c, ctx) => {
      // A gateway at the frontend's own address would send every connection back into HAProxy.
      // Runs on a possibly half-parsed description (see `when`), so nothing is taken for granted.
      const bind = c.bind as Partial<typeof c.bind> | undefined;
      if (!Array.isArray(c.gateways) || typeof bind?.host !== 'string') return;
      c.gateways.forEach((g, i) => {
        if (g?.port === bind.port && (g.host === bind.host || ANY_ADDRESS.has(bind.host!)))
          ctx.addIssue({
            code: 'custom',
            path: ['gateways', i],
            message: `gateway ${g.host}:${g.port} is HAProxy's own bind address ${bind.host}:${bind.port}`,
          });
      });
    },
    // Also when other fields are wrong, so this problem is listed with the rest.
    { when: () => true },
  );

/** A cluster description as written (defaults may be left out). */
export type ClusterInput = z.input<typeof ClusterSchema>;
/** A checked cluster description with every default filled in. */
export type Cluster = z.output<typeof ClusterSchema>;

/** What is wrong with the PEM file HAProxy would load, or undefined when it looks usable. */
function certFileProblem(path: string): string | undefined {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? `${path} does not exist`
      : `${path} cannot be read (${code ?? (err as Error).message})`;
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) return `${path} holds no PEM certificate`;
  if (pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----'))
    return `${path} holds an encrypted private key; HAProxy cannot ask for its passphrase`;
  if (!/-----BEGIN (?:RSA |EC )?PRIVATE KEY-----/.test(pem))
    return `${path} holds no private key: HAProxy needs certificate and key in one PEM file`;
  return undefined;
}

/**
 * Checks a cluster description and fills in its defaults. Every problem is collected, the
 * certificate file included, and thrown at once as a ClusterError.
 */
export function parseCluster(input: unknown): Cluster {
  const result = ClusterSchema.safeParse(input);
  const issues = result.success
    ? []
    : result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
  // The certificate is read whenever its path is well formed, so a missing file is reported
  // together with any other problem instead of after the first ones are fixed.
  const described = input as {
    tls?: { certFile?: unknown };
    enrolment?: { tls?: { certFile?: unknown } };
  } | null;
  for (const [where, certFile] of [
    ['tls.certFile', described?.tls?.certFile],
    ['enrolment.tls.certFile', described?.enrolment?.tls?.certFile],
  ] as const) {
    if (typeof certFile === 'string' && SAFE_PATH.test(certFile)) {
      const problem = certFileProblem(certFile);
      if (problem) issues.push(`${where}: ${problem}`);
    }
  }
  if (issues.length || !result.success) throw new ClusterError(issues);
  return result.data;
}
