/**
 * The concentrator port: the WireGuard hub's peers, one per active device (its public key and
 * its tunnel address as a /32). The enrolment service changes peers after each database commit
 * (enrol: add, rotate: swap, revoke: remove) and adds every active device's peer at start when a
 * real interface is configured (`wg set … peer … allowed-ips …` is idempotent).
 */
export interface Concentrator {
  /** Adds (or updates) the peer with this public key, allowed `address/32`. */
  addPeer(wgPublicKey: string, address: string): Promise<void>;
  /** Removes the peer: its handshakes fail from now on. */
  removePeer(wgPublicKey: string): Promise<void>;
  /** Replaces the peer holding `address` (one address maps to one peer) with the new key. */
  swapPeer(oldKey: string, newKey: string, address: string): Promise<void>;
  /** Removes each of `remove` and adds each of `add` in one change (the start-up reconcile). */
  setPeers(add: readonly PeerAddress[], remove: readonly string[]): Promise<void>;
}

/** A device's peer as the concentrator holds it: its WireGuard public key and tunnel address. */
export interface PeerAddress {
  wgPublicKey: string;
  address: string;
}

export type ConcentratorCall =
  | { op: 'addPeer'; wgPublicKey: string; address: string }
  | { op: 'removePeer'; wgPublicKey: string }
  | { op: 'swapPeer'; oldKey: string; newKey: string; address: string }
  | { op: 'setPeers'; add: PeerAddress[]; remove: string[] };

/**
 * Changes nothing, records each call: the default when no WireGuard interface is configured
 * (`--wg-interface`), and what tests assert on.
 */
export class RecordingConcentrator implements Concentrator {
  readonly calls: ConcentratorCall[] = [];

  async addPeer(wgPublicKey: string, address: string): Promise<void> {
    this.calls.push({ op: 'addPeer', wgPublicKey, address });
  }

  async removePeer(wgPublicKey: string): Promise<void> {
    this.calls.push({ op: 'removePeer', wgPublicKey });
  }

  async swapPeer(oldKey: string, newKey: string, address: string): Promise<void> {
    this.calls.push({ op: 'swapPeer', oldKey, newKey, address });
  }

  async setPeers(add: readonly PeerAddress[], remove: readonly string[]): Promise<void> {
    this.calls.push({ op: 'setPeers', add: [...add], remove: [...remove] });
  }
}

/** What a WireGuard interface must offer (`@appliance/wireguard`'s `WgInterface` does). */
export interface WgPeerControl {
  addPeer(publicKey: string, address: string): Promise<void>;
  removePeer(publicKey: string): Promise<void>;
  swapPeer(oldKey: string, newKey: string, address: string): Promise<void>;
  setPeers(add: readonly { publicKey: string; address: string }[], remove: readonly string[]): Promise<void>;
}

/** A real interface (`wg set …`), through the wireguard package's `WgInterface`. */
export class WgConcentrator implements Concentrator {
  constructor(private readonly wg: WgPeerControl) {}

  addPeer(wgPublicKey: string, address: string): Promise<void> {
    return this.wg.addPeer(wgPublicKey, address);
  }

  removePeer(wgPublicKey: string): Promise<void> {
    return this.wg.removePeer(wgPublicKey);
  }

  swapPeer(oldKey: string, newKey: string, address: string): Promise<void> {
    return this.wg.swapPeer(oldKey, newKey, address);
  }

  setPeers(add: readonly PeerAddress[], remove: readonly string[]): Promise<void> {
    return this.wg.setPeers(
      add.map((p) => ({ publicKey: p.wgPublicKey, address: p.address })),
      remove,
    );
  }
}
