import { CAPITAL_ACCOUNT, Ledger } from '@appliance/trading-core';
import type { Executor, OrderResult } from './exchange.js';
import type { ClientState, Intent } from './state.js';
import type { ErrorList } from './telemetry.js';

export interface BooksDeps {
  state: ClientState;
  exchange: Pick<Executor, 'balances'>;
  quote: string;
  errors: Pick<ErrorList, 'note'>;
  now: () => number;
}

/** The device's double-entry books (the ledger), fill counter and spends. */
export interface Books {
  /** Opens the books if this device has none yet (before its first trade). */
  open(): Promise<void>;
  /** Books, counters and spend for an order the exchange has answered for. */
  onSettled(intent: Intent, result: OrderResult): void;
  /** The capital the books were opened with; `fallback` while there are no books. */
  seedEquity(fallback: number): number;
  /** Puts the books into the state object (before each write). */
  save(): void;
  /**
   * What the device's own trades hold, per asset (the ledger's positions): never what the
   * account held before the books opened. Empty while there are no books.
   */
  positions(): Record<string, number>;
}

export function createBooks(deps: BooksDeps): Books {
  const { state, exchange, quote, errors, now } = deps;
  let ledger: Ledger | undefined = state.ledger === undefined ? undefined : Ledger.fromJSON(state.ledger);

  return {
    async open() {
      if (ledger) return;
      // Books open with what the exchange holds before this device's first trade.
      const opening = await exchange.balances();
      const seed = opening.total[quote] ?? 0;
      if (seed > 0) ledger = new Ledger({ quote, seed, ts: now(), ref: 'opening-balance' });
    },
    onSettled(intent, result) {
      if (intent.side === 'buy' && result.cost > 0) state.spends.push({ ts: now(), quote: result.cost });
      if (!(result.filled > 0)) return;
      state.fills++;
      try {
        ledger?.applyFill({
          asset: intent.symbol.split('/')[0]!,
          side: intent.side,
          quantity: result.filled,
          price: result.cost / result.filled,
          fee: result.fee,
          ts: now(),
          ref: intent.clientOrderId,
        });
      } catch (err) {
        errors.note(`books could not record fill ${intent.clientOrderId}`, err);
      }
    },
    seedEquity: (fallback) => (ledger ? -(ledger.balances()[CAPITAL_ACCOUNT] ?? 0) : fallback),
    save() {
      if (ledger) state.ledger = ledger.toJSON();
    },
    positions: () =>
      Object.fromEntries(Object.entries(ledger?.positions() ?? {}).map(([asset, p]) => [asset, p.quantity])),
  };
}
