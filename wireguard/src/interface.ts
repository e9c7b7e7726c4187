/**
 * One running WireGuard interface, changed one peer at a time with `wg set`. A `wg set` touches
 * only the peers it names: every other peer keeps its session, its handshake and its packets in
 * flight, where rebuilding the whole peer map (`wg syncconf` of a re-rendered config) re-reads and
 * compares all of them (bench/wireguard.ts measures both).
 */
import { parseIpv4 } from './cidr.js';
import { WireguardError } from './errors.js';
import { run, withPrivateFile } from './exec.js';
import { stripWgConf } from './check.js';
import { isWgKey } from './keys.js';

export interface WgPeerState {
  publicKey: string;
  allowedIps: string[];
  /** `host:port` the peer was last seen at; absent until it has sent something. */
  endpoint?: string;
  /** When its last handshake completed (epoch ms), or null: never. */
  latestHandshakeMs: number | null;
  rxBytes: number;
  txBytes: number;
}

export interface WgInterfaceOptions {
  /** The interface name (≤ 15 characters). With wireguard-go, unique on the host: see README. */
  name: string;
  /** The network namespace it lives in; every command then runs as `ip netns exec <ns> ...`. */
  netns?: string;
  /** Per command; default 15 s. */
  timeoutMs?: number;
}

function key(field: string, value: string): string {
  if (!isWgKey(value))
    throw new WireguardError('E_INVALID', `${field}: not a WireGuard key (base64 of 32 bytes)`);
  return value;
}

function host32(address: string): string {
  if (parseIpv4(address) === null)
    throw new WireguardError(
      'E_INVALID',
      `address: not an IPv4 address (a.b.c.d): ${JSON.stringify(address)}`,
    );
  return `${address}/32`;
}

/** wg's dump writes "(none)" for an empty field. */
const orNone = (s: string | undefined) => (s === undefined || s === '(none)' ? undefined : s);

/** The peers of `wg show <if> dump`: its first line is the interface (with the private key: skipped). */
export function parseWgDump(dump: string): WgPeerState[] {
  return dump
    .split('\n')
    .slice(1)
    .filter((l) => l.trim())
    .map((line) => {
      const [publicKey, , endpoint, allowed, handshake, rx, tx] = line.split('\t');
      const ep = orNone(endpoint);
      const seconds = Number(handshake);
      return {
        publicKey: publicKey!,
        allowedIps: (orNone(allowed) ?? '').split(',').filter(Boolean),
        ...(ep ? { endpoint: ep } : {}),
        latestHandshakeMs: seconds > 0 ? seconds * 1000 : null,
        rxBytes: Number(rx ?? 0),
        txBytes: Number(tx ?? 0),
      };
    });
}

export class WgInterface {
  readonly name: string;
  readonly netns: string | undefined;
  readonly #timeoutMs: number;

  constructor(opts: WgInterfaceOptions) {
    if (!/^[a-zA-Z0-9_=+.-]{1,15}$/.test(opts.name))
      throw new WireguardError(
        'E_INVALID',
        `name: not an interface name (1-15 of a-z A-Z 0-9 _ = + . -): ${opts.name}`,
      );
    this.name = opts.name;
    this.netns = opts.netns;
    this.#timeoutMs = opts.timeoutMs ?? 15_000;
  }

  #wg(args: string[]) {
    return run('wg', args, { netns: this.netns, timeoutMs: this.#timeoutMs });
  }

  /** `wg set <if> peer <pk> allowed-ips <addr>/32`: a new device, nothing else touched. */
  async addPeer(publicKey: string, address: string): Promise<void> {
    await this.#wg(['set', this.name, 'peer', key('publicKey', publicKey), 'allowed-ips', host32(address)]);
  }

  /** `wg set <if> peer <pk> remove`: the device's sessions end at once; its /32 routes nowhere. */
  async removePeer(publicKey: string): Promise<void> {
    await this.#wg(['set', this.name, 'peer', key('publicKey', publicKey), 'remove']);
  }

  /**
   * A rotated key: ONE `wg set` removes the old peer and adds the new one with the same /32, so
   * there is no moment where the address belongs to both or to neither.
   */
  async swapPeer(oldPublicKey: string, newPublicKey: string, address: string): Promise<void> {
    await this.#wg([
      'set',
      this.name,
      'peer',
      key('oldPublicKey', oldPublicKey),
      'remove',
      'peer',
      key('newPublicKey', newPublicKey),
      'allowed-ips',
      host32(address),
    ]);
  }

  /**
   * Many peers in ONE `wg set`: each of `remove` removed, then each of `add` added with its /32
   * (or its allowed IP set to it); peers named in neither are not touched, so their sessions go
   * on. A thousand devices cost one `wg` run instead of a thousand (the control server's
   * start-up reconcile). Every key and address is checked before anything runs.
   */
  async setPeers(
    add: readonly { publicKey: string; address: string }[],
    remove: readonly string[],
  ): Promise<void> {
    const args = ['set', this.name];
    for (const k of remove) args.push('peer', key('publicKey', k), 'remove');
    for (const p of add) args.push('peer', key('publicKey', p.publicKey), 'allowed-ips', host32(p.address));
    if (args.length > 2) await this.#wg(args);
  }

  /** `wg set <if> private-key <file>`: the key is read from the file, never passed in argv. */
  async setPrivateKeyFile(file: string): Promise<void> {
    await this.#wg(['set', this.name, 'private-key', file]);
  }

  /**
   * Reconciles the interface with a whole wg-quick config: `wg-quick strip`, then
   * `wg syncconf <if> <private file>`, which changes only what differs and leaves unchanged peers'
   * sessions alone. A config without PrivateKey (the key in a file, set by PostUp) would make
   * syncconf clear the running key, so the running one is kept: read with `wg show` and given on
   * a private file, never argv.
   */
  async syncConf(confText: string): Promise<void> {
    let stripped = await stripWgConf(confText, this.name);
    if (!/^\s*PrivateKey\s*=/im.test(stripped)) {
      const current = (await this.#wg(['show', this.name, 'private-key'])).stdout.trim();
      if (isWgKey(current))
        stripped = stripped.replace(/^\[Interface\]\s*$/m, `[Interface]\nPrivateKey = ${current}`);
    }
    await withPrivateFile(`${this.name}.conf`, stripped, (file) => this.#wg(['syncconf', this.name, file]));
  }

  /** The peers as `wg show <if> dump` reports them. */
  async peers(): Promise<WgPeerState[]> {
    return parseWgDump((await this.#wg(['show', this.name, 'dump'])).stdout);
  }

  /** The interface's public key (`wg show <if> public-key`), or null when it has no key. */
  async publicKey(): Promise<string | null> {
    const out = (await this.#wg(['show', this.name, 'public-key'])).stdout.trim();
    return isWgKey(out) ? out : null;
  }
}
