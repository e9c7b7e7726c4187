import type { Balances, Executor } from './exchange.js';
import type { ErrorList } from './telemetry.js';

export interface HoldingsDeps {
  exchange: Pick<Executor, 'balances' | 'prices'>;
  quote: string;
  errors: Pick<ErrorList, 'note'>;
}

/**
 * What the exchange last said the account holds, and marks: the exchange's prices of what is
 * held and of signalled symbols. Marks come only from the exchange, never from a signal.
 */
export interface Holdings {
  balances(): Balances;
  readonly marks: ReadonlyMap<string, number>;
  /**
   * The exchange's current price of `symbol`, which also becomes its mark; null when the
   * exchange cannot tell (decide then places no buy; a sell still goes through).
   */
  price(symbol: string): Promise<number | null>;
  /** Balances, and prices for what is held (a holding with no price would stop all buys). */
  refresh(): Promise<void>;
}

export function createHoldings(deps: HoldingsDeps): Holdings {
  const { exchange, quote, errors } = deps;
  const marks = new Map<string, number>();
  let balances: Balances = { free: {}, total: {} };

  return {
    balances: () => balances,
    marks,
    async price(symbol) {
      try {
        const price = (await exchange.prices([symbol]))[symbol];
        if (price === undefined) return null;
        marks.set(symbol, price);
        return price;
      } catch (err) {
        errors.note(`could not read the exchange's price of ${symbol}`, err);
        return null;
      }
    },
    async refresh() {
      try {
        balances = await exchange.balances();
        const held = Object.keys(balances.total).filter((a) => a !== quote && (balances.total[a] ?? 0) > 0);
        const prices = await exchange.prices(held.map((a) => `${a}/${quote}`));
        for (const [symbol, price] of Object.entries(prices)) marks.set(symbol, price);
      } catch (err) {
        errors.note('could not read balances', err);
      }
    },
  };
}
