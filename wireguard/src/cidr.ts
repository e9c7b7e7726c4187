/**
 * IPv4 addresses and the tunnel's address pool, as plain numbers. Pure: no I/O, so the control
 * server can allocate device addresses with the same rules the renderer checks.
 *
 * Index layout of a pool `n.n.n.n/p` (p ≤ 30), relative to its network address N:
 *
 *   N + 0              network address: never used
 *   N + 1  = index 0   the hub (concentrator): reserved, `hubAddress(pool)`
 *   N + 2  = index 1   first device address
 *   ...
 *   N + size - 2 = index hostCount(pool)   last device address
 *   N + size - 1       broadcast address: never used
 *
 * so device indices run from 1 to hostCount(pool) inclusive, and hostCount = size - 3
 * (10.77.0.0/16: 65,533 devices, 10.77.0.2 .. 10.77.255.254).
 */
import { WireguardError } from './errors.js';

/** A parsed `a.b.c.d/n` whose host bits are zero: a pool or a route. */
export interface Cidr {
  /** The network address as an unsigned 32-bit number. */
  readonly network: number;
  readonly prefix: number;
  /** Addresses in it, network and broadcast included: 2^(32 - prefix). */
  readonly size: number;
}

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

/** `a.b.c.d` as an unsigned 32-bit number, or null when it is not one (no leading zeros: 010 is ambiguous). */
export function parseIpv4(text: string): number | null {
  const m = IPV4.exec(text);
  if (!m) return null;
  return ((+m[1]! << 24) | (+m[2]! << 16) | (+m[3]! << 8) | +m[4]!) >>> 0;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

const mask = (prefix: number) => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** `a.b.c.d/n` split, or null; the address may have host bits set (an interface address). */
export function parseAddressWithPrefix(text: string): { address: number; prefix: number } | null {
  const m = /^([0-9.]+)\/(3[0-2]|[12]?[0-9])$/.exec(text);
  if (!m) return null;
  const address = parseIpv4(m[1]!);
  return address === null ? null : { address, prefix: Number(m[2]) };
}

/**
 * A pool or route `a.b.c.d/n`. Host bits must be zero (`10.77.0.1/16` is an interface address,
 * not a pool: probably a mistake worth hearing about). Throws E_INVALID.
 */
export function parseCidr(text: string): Cidr {
  const parsed = parseAddressWithPrefix(text);
  if (!parsed) throw new WireguardError('E_INVALID', `not an IPv4 CIDR (a.b.c.d/n): ${JSON.stringify(text)}`);
  const network = (parsed.address & mask(parsed.prefix)) >>> 0;
  if (network !== parsed.address)
    throw new WireguardError(
      'E_INVALID',
      `${text} has host bits set: the network is ${formatIpv4(network)}/${parsed.prefix}`,
    );
  return { network, prefix: parsed.prefix, size: 2 ** (32 - parsed.prefix) };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefix}`;
}

/** Whether `ip` (text or number) is inside the CIDR, network and broadcast included. */
export function cidrContains(cidr: Cidr, ip: string | number): boolean {
  const n = typeof ip === 'number' ? ip : parseIpv4(ip);
  return n !== null && (n & mask(cidr.prefix)) >>> 0 === cidr.network;
}

/** Whether `ip` is one of the pool's host addresses: inside it, neither network nor broadcast. */
export function isHostOf(cidr: Cidr, ip: string | number): boolean {
  const n = typeof ip === 'number' ? ip : parseIpv4(ip);
  return n !== null && cidrContains(cidr, n) && n !== cidr.network && n !== cidr.network + cidr.size - 1;
}

/** Number of device addresses (indices 1..hostCount); 0 for /31 and /32, which hold no hub and device. */
export function hostCount(cidr: Cidr): number {
  return Math.max(0, cidr.size - 3);
}

/**
 * The address at `index`: 0 is the hub (network + 1), 1..hostCount(cidr) the devices'.
 * Anything else throws E_INVALID (a RangeError would say less).
 */
export function hostAt(cidr: Cidr, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > hostCount(cidr) || cidr.size < 4)
    throw new WireguardError(
      'E_INVALID',
      `index ${index} is outside ${formatCidr(cidr)}: 0 is the hub, devices are 1..${hostCount(cidr)}`,
    );
  return formatIpv4(cidr.network + 1 + index);
}

/** The inverse of hostAt: the index of `ip`, or null when it is not the hub or a device address. */
export function indexOf(cidr: Cidr, ip: string): number | null {
  const n = parseIpv4(ip);
  if (n === null || !cidrContains(cidr, n)) return null;
  const index = n - cidr.network - 1;
  return index >= 0 && index <= hostCount(cidr) && cidr.size >= 4 ? index : null;
}

/** The hub's tunnel address: index 0, network + 1 (10.77.0.1 in 10.77.0.0/16). */
export function hubAddress(cidr: Cidr): string {
  return hostAt(cidr, 0);
}

/**
 * The first free device address at or after `cursor` (1-based device index, wrapping around),
 * and the cursor for the next call. Moving on instead of taking the lowest free address means a
 * revoked device's address is handed out again only after the rest of the pool: a stale route or
 * firewall rule naming it is then long gone. Returns null when every address is in `used`.
 * Scans at most hostCount addresses; `used` holds dotted addresses (the hub's is ignored).
 */
export function allocateAddress(
  cidr: Cidr,
  used: ReadonlySet<string>,
  cursor = 1,
): { address: string; index: number; cursor: number } | null {
  const count = hostCount(cidr);
  if (count === 0) return null;
  const start = Number.isInteger(cursor) && cursor >= 1 && cursor <= count ? cursor : 1;
  for (let i = 0; i < count; i++) {
    const index = ((start - 1 + i) % count) + 1;
    const address = hostAt(cidr, index);
    if (!used.has(address)) return { address, index, cursor: (index % count) + 1 };
  }
  return null;
}
