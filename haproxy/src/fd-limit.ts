import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * How many file descriptors HAProxy 2.6 asks for at start, and what it may get.
 *
 * At start HAProxy computes `maxsock` and calls setrlimit(RLIMIT_NOFILE) with it, soft and hard.
 * With `strict-limits` (the default since 2.3) it refuses to start when that fails:
 * `[ALERT] [haproxy.main()] Cannot raise FD limit to 40030, limit is 20000.`, exit 1.
 * `haproxy -c` (with or without `-dW`) does not check this: the config passes and HAProxy then
 * fails to start. Measured with HAProxy 2.6.12 (Debian 12) on a rendered config, varying one
 * thing at a time (maxconn, gateways, `nbthread`, the stats socket):
 *
 *   maxsock = 2 x maxconn + listeners + servers + 3 × nbthread + 20
 *
 * two per connection (client side and gateway side), one per listener (the frontend's bind and
 * the stats socket), one per server (its health check), three per thread (its poller and its
 * wake-up pipe) and 20 HAProxy always reserves. maxconn 20000, 2 gateways, 2 threads: 40030.
 *
 * A process may raise its soft limit up to its hard limit, so the soft limit does not matter
 * (HAProxy raises it). Beyond the hard limit only with CAP_SYS_RESOURCE (root, unless a container
 * or the unit's CapabilityBoundingSet= took it away), and then up to `fs.nr_open`.
 */
export function haproxyFdNeed(p: { maxConn: number; gateways: number; threads: number }): number {
  const listeners = 2; // the devices' frontend and the stats socket
  return 2 * p.maxConn + listeners + p.gateways + 3 * p.threads + 20;
}

/** `nbthread` is not set in the template: HAProxy starts one thread per CPU it may run on (at most 64). */
export function haproxyThreads(): number {
  return Math.min(64, availableParallelism());
}

/** The most file descriptors HAProxy may have, and where that number comes from. */
export interface FdLimit {
  limit: number;
  /** Said in messages and in the rendered config's comment. */
  source: string;
}

/** CAP_SYS_RESOURCE, bit 24 of the capability sets (linux/capability.h). */
const CAP_SYS_RESOURCE = 24n;

/**
 * The open-files limit a HAProxy started like this process (same user, same limits, same
 * capabilities) would get: the hard limit of /proc/self/limits, or `fs.nr_open` when this process
 * has CAP_SYS_RESOURCE (HAProxy started as root raises its own hard limit). Undefined where there
 * is no /proc (not Linux): then nothing is checked.
 */
export function readFdLimit(proc = '/proc'): FdLimit | undefined {
  let limits: string;
  try {
    limits = readFileSync(`${proc}/self/limits`, 'utf8');
  } catch {
    return undefined;
  }
  const row = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  if (!row) return undefined;
  const hard = row[2] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(row[2]);
  let capEff = 0n;
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync(`${proc}/self/status`, 'utf8'))?.[1];
    if (hex) capEff = BigInt(`0x${hex}`);
  } catch {
    /* no capabilities known: assume none */
  }
  if ((capEff >> CAP_SYS_RESOURCE) & 1n) {
    try {
      const nrOpen = Number(readFileSync(`${proc}/sys/fs/nr_open`, 'utf8').trim());
      if (nrOpen > hard)
        return {
          limit: nrOpen,
          source:
            'fs.nr_open: this process has CAP_SYS_RESOURCE, so HAProxy started like it raises its limit up to that',
        };
    } catch {
      /* fall back to the hard limit */
    }
  }
  return {
    limit: hard,
    source:
      'the hard open-files limit (ulimit -Hn) of this process, which lacks CAP_SYS_RESOURCE to go beyond it',
  };
}

/** Room left beside a derived maxConn: another thread or a few gateways more do not break it. */
const DERIVED_HEADROOM = 100;

/**
 * The largest maxConn whose `haproxyFdNeed` fits `limit` with `DERIVED_HEADROOM` to spare,
 * rounded down to a hundred (a number an operator recognises in the config), at most `ceiling`.
 */
export function maxConnForLimit(p: {
  limit: number;
  gateways: number;
  threads: number;
  ceiling: number;
}): number {
  const overhead = haproxyFdNeed({ maxConn: 0, gateways: p.gateways, threads: p.threads });
  const fits = Math.floor((p.limit - overhead - DERIVED_HEADROOM) / 2);
  const rounded = fits >= 100 ? Math.floor(fits / 100) * 100 : fits;
  return Math.max(0, Math.min(p.ceiling, rounded));
}
