import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import Handlebars from 'handlebars';
import { z } from 'zod';
import { hostCount, hubAddress, isHostOf, parseCidr, parseIpv4, type Cidr } from './cidr.js';
import { invalid } from './errors.js';
import { isWgKey, wgPublicKeyOf } from './keys.js';

/**
 * An isolated Handlebars instance per template: no helper registered elsewhere can change our
 * output. noEscape because this is not HTML (the schema checks every value instead: no newline or
 * `=` can sneak in); strict so a field missing from the view is an error, not an empty setting.
 */
function load(file: string) {
  return Handlebars.create().compile(readFileSync(new URL(`./templates/${file}`, import.meta.url), 'utf8'), {
    noEscape: true,
    strict: true,
  });
}
const concentratorTemplate = load('concentrator.conf.hbs');
const deviceTemplate = load('device.conf.hbs');

// --- field schemas ---------------------------------------------------------------------------

export const WgKeySchema = z
  .string()
  .refine(isWgKey, 'not a WireGuard key: base64 of exactly 32 bytes (44 characters ending in =)');

export const DeviceIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{2,63}$/, 'device id: 3-64 lowercase letters, digits and -, not starting with -');

const Ipv4Schema = z.string().refine((s) => parseIpv4(s) !== null, 'not an IPv4 address (a.b.c.d)');

/** A device's one address: `a.b.c.d` or `a.b.c.d/32`, normalised to `a.b.c.d`. */
const HostAddressSchema = z
  .string()
  .refine(
    (s) => parseIpv4(s.replace(/\/32$/, '')) !== null,
    'not a single IPv4 address: a.b.c.d (or a.b.c.d/32; a device owns exactly one address)',
  )
  .transform((s) => s.replace(/\/32$/, ''));

/** The tunnel pool, `a.b.c.d/n` with host bits zero and room for the hub and a device (n ≤ 30). */
const PoolSchema = z.string().superRefine((s, ctx) => {
  try {
    const cidr = parseCidr(s);
    if (hostCount(cidr) < 1)
      ctx.addIssue({ code: 'custom', message: `${s} has no room for a hub and a device` });
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

/**
 * A key file named in a PostUp line: wg-quick runs PostUp through bash, so only characters that
 * mean nothing to a shell are allowed, and the path is absolute (PostUp runs from wg-quick's cwd).
 */
const KeyFileSchema = z
  .string()
  .regex(/^\/[A-Za-z0-9._/-]+$/, 'an absolute path of letters, digits and . _ - / only (bash runs PostUp)');

const PortSchema = z.number().int().min(1).max(65535);

/** A DNS name (RFC 1123 labels) for an Endpoint. */
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const EndpointHostSchema = z
  .string()
  .refine((s) => isIP(s) !== 0 || HOSTNAME.test(s), 'not an IP address or a DNS name');

// --- the concentrator ------------------------------------------------------------------------

/** One registered device, as the hub sees it. */
export const ConcentratorPeerSchema = z.strictObject({
  id: DeviceIdSchema,
  publicKey: WgKeySchema,
  /** Its tunnel address: `a.b.c.d` (or `a.b.c.d/32`) inside `subnet`. */
  address: HostAddressSchema,
  /** Set once revoked, as in the control server's registry: a revoked device gets no [Peer]. */
  revokedAt: z.number().int().nonnegative().optional(),
});

/** Exactly one of privateKey and privateKeyFile; `where` is the path of the object, for issues. */
function oneKey(
  v: { privateKey?: string | undefined; privateKeyFile?: string | undefined },
  ctx: z.RefinementCtx,
  where: string[] = [],
) {
  if ((v.privateKey === undefined) === (v.privateKeyFile === undefined))
    ctx.addIssue({
      code: 'custom',
      path: [...where, 'privateKey'],
      message: 'give exactly one of privateKey (the key) and privateKeyFile (a file holding it)',
    });
}

export const ConcentratorSchema = z
  .strictObject({
    /** The tunnel pool, e.g. 10.77.0.0/16; every address below is inside it. */
    subnet: PoolSchema,
    /** The hub's tunnel address; default: the pool's first host (index 0, 10.77.0.1). */
    address: Ipv4Schema.optional(),
    listenPort: PortSchema.default(51820),
    privateKey: WgKeySchema.optional(),
    privateKeyFile: KeyFileSchema.optional(),
    devices: z.array(ConcentratorPeerSchema),
  })
  .superRefine((c, ctx) => {
    oneKey(c, ctx);
    let pool: Cidr;
    try {
      pool = parseCidr(c.subnet);
    } catch {
      return; // reported by PoolSchema
    }
    if (hostCount(pool) < 1) return; // as well
    const hub = c.address ?? hubAddress(pool);
    if (c.address !== undefined && !isHostOf(pool, c.address))
      ctx.addIssue({ code: 'custom', path: ['address'], message: `not a host address of ${c.subnet}` });
    const hubKey = c.privateKey !== undefined && isWgKey(c.privateKey) ? wgPublicKeyOf(c.privateKey) : null;
    const ids = new Map<string, number>();
    const addresses = new Map<string, number>();
    const keys = new Map<string, number>();
    c.devices.forEach((d, i) => {
      const at = (field: string, message: string) =>
        ctx.addIssue({ code: 'custom', path: ['devices', i, field], message });
      const seen = (map: Map<string, number>, value: string, field: string, what: string) => {
        const first = map.get(value);
        if (first !== undefined) at(field, `${what} ${value} is also devices.${first}'s`);
        else map.set(value, i);
      };
      seen(ids, d.id, 'id', 'id');
      if (!isHostOf(pool, d.address)) at('address', `${d.address} is not a host address of ${c.subnet}`);
      else if (d.address === hub) at('address', `${d.address} is the hub's own address`);
      // Only active devices become [Peer]s, so only they must not share an address or key.
      if (d.revokedAt !== undefined) return;
      seen(addresses, d.address, 'address', 'address');
      seen(keys, d.publicKey, 'publicKey', 'public key');
      if (d.publicKey === hubKey) at('publicKey', "is the hub's own public key");
    });
  });
export type ConcentratorInput = z.input<typeof ConcentratorSchema>;
export type Concentrator = z.output<typeof ConcentratorSchema>;

/** zod's issues as `field.path: problem` lines; E_INVALID names every field at once. */
function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw invalid(
    result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`),
  );
}

export function parseConcentrator(input: unknown): Concentrator {
  return parse(ConcentratorSchema, input);
}

/**
 * The hub's wg0.conf: its interface, then one [Peer] per active device (revoked ones are left
 * out) in the order given, each with AllowedIPs = its /32 only. Throws E_INVALID naming every bad
 * field. With privateKeyFile, the key is set by a PostUp line and never appears in the text.
 */
export function renderConcentratorConf(input: unknown): string {
  const c = parseConcentrator(input);
  const pool = parseCidr(c.subnet);
  return concentratorTemplate({
    interfaceAddress: `${c.address ?? hubAddress(pool)}/${pool.prefix}`,
    listenPort: c.listenPort,
    privateKey: c.privateKey ?? false,
    privateKeyFile: c.privateKeyFile ?? false,
    peers: c.devices
      .filter((d) => d.revokedAt === undefined)
      .map((d) => ({ id: d.id, publicKey: d.publicKey, address: d.address })),
  });
}

// --- a device ----------------------------------------------------------------------------------

export const DeviceConfSchema = z
  .strictObject({
    id: DeviceIdSchema,
    /** The device's tunnel address, `a.b.c.d` (or `/32`) inside `subnet`. */
    address: HostAddressSchema,
    /** The tunnel pool: the only traffic the device sends through the tunnel. */
    subnet: PoolSchema,
    privateKey: WgKeySchema.optional(),
    privateKeyFile: KeyFileSchema.optional(),
    concentrator: z.strictObject({
      publicKey: WgKeySchema,
      /** Where the hub listens, as the device reaches it (outside the tunnel). */
      endpoint: z.strictObject({ host: EndpointHostSchema, port: PortSchema }),
      /** The hub's tunnel address, to refuse it as the device's; default: the pool's index 0. */
      address: Ipv4Schema.optional(),
    }),
    /** Seconds between keepalives; 0 turns them off. */
    persistentKeepalive: z.number().int().min(0).max(65535).default(25),
  })
  .superRefine((d, ctx) => {
    oneKey(d, ctx);
    let pool: Cidr;
    try {
      pool = parseCidr(d.subnet);
    } catch {
      return; // reported by PoolSchema
    }
    if (hostCount(pool) < 1) return; // as well
    const hub = d.concentrator.address ?? hubAddress(pool);
    if (!isHostOf(pool, d.address))
      ctx.addIssue({ code: 'custom', path: ['address'], message: `not a host address of ${d.subnet}` });
    else if (d.address === hub)
      ctx.addIssue({ code: 'custom', path: ['address'], message: `${d.address} is the hub's own address` });
    if (d.concentrator.address !== undefined && !isHostOf(pool, d.concentrator.address))
      ctx.addIssue({
        code: 'custom',
        path: ['concentrator', 'address'],
        message: `not a host address of ${d.subnet}`,
      });
    if (
      d.privateKey !== undefined &&
      isWgKey(d.privateKey) &&
      wgPublicKeyOf(d.privateKey) === d.concentrator.publicKey
    )
      ctx.addIssue({
        code: 'custom',
        path: ['concentrator', 'publicKey'],
        message: "is the device's own public key",
      });
  });
export type DeviceConfInput = z.input<typeof DeviceConfSchema>;
export type DeviceConf = z.output<typeof DeviceConfSchema>;

export function parseDeviceConf(input: unknown): DeviceConf {
  return parse(DeviceConfSchema, input);
}

/**
 * A device's wg0.conf: its /32, its key, and one [Peer], the concentrator, reached at its
 * endpoint, for the tunnel subnet only. Throws E_INVALID naming every bad field.
 */
export function renderDeviceConf(input: unknown): string {
  const d = parseDeviceConf(input);
  const { host, port } = d.concentrator.endpoint;
  return deviceTemplate({
    id: d.id,
    address: d.address,
    privateKey: d.privateKey ?? false,
    privateKeyFile: d.privateKeyFile ?? false,
    concentrator: { publicKey: d.concentrator.publicKey },
    // wg reads the last colon as the port separator: IPv6 needs brackets.
    endpoint: isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`,
    subnet: d.subnet,
    persistentKeepalive: d.persistentKeepalive,
  });
}
