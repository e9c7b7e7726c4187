import { fromAtoms, toAtoms } from '@appliance/trading-core';
import { formatAmount } from './amount-text.js';
import { binanceErrors, PaperExchangeError } from './errors.js';

export interface AccountConfig {
  /** Sent by clients in X-MBX-APIKEY; names the account. */
  apiKey: string;
  /** HMAC-SHA256 key for request signatures. */
  secret: string;
  /** Opening free balance per asset, e.g. { USDT: 10_000 }. */
  balances: Record<string, number>;
  /** Reported by the account endpoint; a client may refuse keys that can withdraw. Default false. */
  canWithdraw?: boolean;
  /** Who the account is for (a device id, a test), for the operator; never sent on the wire. */
  label?: string;
}

export interface BalanceSnapshot {
  free: number;
  locked: number;
}

export interface AccountSnapshot {
  apiKey: string;
  label: string | undefined;
  canWithdraw: boolean;
  balances: Record<string, BalanceSnapshot>;
}

interface Holding {
  free: bigint;
  locked: bigint;
}

// Printable ASCII without spaces: what fits an HTTP header unquoted.
const API_KEY = /^[\x21-\x7e]{1,128}$/;
const ASSET = /^[A-Z0-9]{1,20}$/;

/**
 * One balance sheet. Every move checks first and then changes, so a refused move changes
 * nothing and free or locked can never go below zero.
 */
export class Account {
  readonly apiKey: string;
  readonly secret: string;
  readonly canWithdraw: boolean;
  readonly label: string | undefined;
  private readonly holdings = new Map<string, Holding>();

  constructor(config: AccountConfig) {
    if (!API_KEY.test(config.apiKey)) {
      throw new PaperExchangeError(
        'PAPER_ERR_INVALID_OPTION',
        'accounts[].apiKey must be 1 to 128 printable ASCII characters without spaces',
      );
    }
    if (typeof config.secret !== 'string' || config.secret.length === 0) {
      throw new PaperExchangeError(
        'PAPER_ERR_INVALID_OPTION',
        `accounts[${config.apiKey}].secret must not be empty`,
      );
    }
    this.apiKey = config.apiKey;
    this.secret = config.secret;
    this.canWithdraw = config.canWithdraw ?? false;
    this.label = config.label;
    for (const [asset, value] of Object.entries(config.balances)) {
      if (!ASSET.test(asset) || !Number.isFinite(value) || value < 0 || value >= 1e12) {
        throw new PaperExchangeError(
          'PAPER_ERR_INVALID_OPTION',
          `accounts[${config.apiKey}].balances.${asset} must be an upper-case asset with a finite amount >= 0, got ${value}`,
        );
      }
      this.holdings.set(asset, { free: toAtoms(value), locked: 0n });
    }
  }

  private holding(asset: string): Holding {
    let h = this.holdings.get(asset);
    if (!h) {
      h = { free: 0n, locked: 0n };
      this.holdings.set(asset, h);
    }
    return h;
  }

  free(asset: string): bigint {
    return this.holdings.get(asset)?.free ?? 0n;
  }

  /** Throws Binance's insufficient-balance error when free < amount. */
  requireFree(asset: string, amount: bigint): void {
    if (this.free(asset) < amount) throw binanceErrors.insufficientBalance();
  }

  lock(asset: string, amount: bigint): void {
    this.requireFree(asset, amount);
    const h = this.holding(asset);
    h.free -= amount;
    h.locked += amount;
  }

  /** Moves locked funds back to free (a cancel, or what a fill did not use). */
  unlock(asset: string, amount: bigint): void {
    const h = this.holding(asset);
    if (h.locked < amount) throw new Error(`ledger bug: unlocking ${amount} ${asset} of ${h.locked} locked`);
    h.locked -= amount;
    h.free += amount;
  }

  debitFree(asset: string, amount: bigint): void {
    this.requireFree(asset, amount);
    this.holding(asset).free -= amount;
  }

  debitLocked(asset: string, amount: bigint): void {
    const h = this.holding(asset);
    if (h.locked < amount) throw new Error(`ledger bug: debiting ${amount} ${asset} of ${h.locked} locked`);
    h.locked -= amount;
  }

  credit(asset: string, amount: bigint): void {
    if (amount < 0n) throw new Error(`ledger bug: negative credit of ${asset}`);
    this.holding(asset).free += amount;
  }

  /** Binance's `balances` array, in the order assets were first seen. */
  toWire(): { asset: string; free: string; locked: string }[] {
    return [...this.holdings].map(([asset, h]) => ({
      asset,
      free: formatAmount(h.free),
      locked: formatAmount(h.locked),
    }));
  }

  /** Every balance in atoms, exactly as held: what another set of books must equal to the atom. */
  atoms(): Record<string, { free: bigint; locked: bigint }> {
    return Object.fromEntries([...this.holdings].map(([asset, h]) => [asset, { ...h }]));
  }

  snapshot(): AccountSnapshot {
    const balances: Record<string, BalanceSnapshot> = {};
    for (const [asset, h] of this.holdings) {
      balances[asset] = { free: fromAtoms(h.free), locked: fromAtoms(h.locked) };
    }
    return { apiKey: this.apiKey, label: this.label, canWithdraw: this.canWithdraw, balances };
  }
}

export class Accounts {
  private readonly byKey = new Map<string, Account>();

  add(config: AccountConfig): Account {
    if (this.byKey.has(config.apiKey)) {
      throw new PaperExchangeError(
        'PAPER_ERR_DUPLICATE_ACCOUNT',
        `an account with this apiKey already exists`,
      );
    }
    const account = new Account(config);
    this.byKey.set(account.apiKey, account);
    return account;
  }

  find(apiKey: string): Account | undefined {
    return this.byKey.get(apiKey);
  }

  get(apiKey: string): Account {
    const account = this.byKey.get(apiKey);
    if (!account) throw new PaperExchangeError('PAPER_ERR_UNKNOWN_ACCOUNT', 'no account with this apiKey');
    return account;
  }
}
