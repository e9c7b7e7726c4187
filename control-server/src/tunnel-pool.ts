import {
  formatCidr,
  hostAt,
  hostCount,
  hubAddress,
  indexOf,
  parseCidr,
  type Cidr,
} from '@appliance/wireguard';

/**
 * The tunnel pool: the fleet's WireGuard subnet (`--tunnel-pool`, e.g. 10.77.0.0/16). The hub
 * (the concentrator) is its first host (.1); each device gets the lowest device address never
 * allocated before: the store keeps every address ever given, revoked devices' included, so an
 * address is never given twice (unlike wireguard's `allocateAddress`, whose cursor wraps around
 * to freed addresses). Pure functions over the wireguard package's CIDR helpers: the store says
 * what was allocated.
 */
export interface TunnelPool {
  readonly cidr: Cidr;
  /** `10.77.0.0/16`, normalised. */
  readonly text: string;
  /** The concentrator's own address: the first host. */
  readonly hub: string;
  /** How many addresses devices can get (hosts minus the hub). */
  readonly size: number;
}

class TunnelPoolError extends Error {
  override readonly name = 'TunnelPoolError';
}

/** Parses `a.b.c.d/p`, p from 8 to 30 (room for the hub and one device at least). */
export function parseTunnelPool(text: string): TunnelPool {
  let cidr: Cidr;
  try {
    cidr = parseCidr(text.trim());
  } catch (err) {
    throw new TunnelPoolError(`${text}: ${(err as Error).message}`, { cause: err });
  }
  if (cidr.prefix < 8 || cidr.prefix > 30)
    throw new TunnelPoolError(
      `${text}: the prefix must be between /8 and /30 (the hub and one device at least)`,
    );
  return { cidr, text: formatCidr(cidr), hub: hubAddress(cidr), size: hostCount(cidr) };
}

/** The i-th device address (0-based): the host after the hub, and so on. */
export function deviceAddressAt(pool: TunnelPool, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= pool.size)
    throw new RangeError(`index ${index} outside the pool ${pool.text} (${pool.size} device addresses)`);
  return hostAt(pool.cidr, index + 1);
}

/** Whether `address` is a device address of the pool (not the network, hub or broadcast). */
export function isDeviceAddress(pool: TunnelPool, address: string): boolean {
  const i = indexOf(pool.cidr, address);
  return i !== null && i >= 1;
}

/**
 * The next address to give: the lowest device address of the pool not in `allocated` (every
 * address ever given). Null when the pool is exhausted.
 */
export function nextTunnelAddress(pool: TunnelPool, allocated: ReadonlySet<string>): string | null {
  for (let i = 0; i < pool.size; i++) {
    const a = deviceAddressAt(pool, i);
    if (!allocated.has(a)) return a;
  }
  return null;
}
