import type { Logger } from 'pino';
import type { Executor, OrderResult } from './exchange.js';
import { ExecutionError } from './exchange.js';
import { failpoint } from './failpoints.js';
import type { Intent } from './state.js';

export interface ExecutionOptions {
  /**
   * Binance may answer "order does not exist" for a while after accepting an order. An order is
   * only taken as never placed after not-found answers spanning this long since it was sent.
   */
  notFoundGraceMs: number;
  /** Not-found answers needed (spread over the grace period) before re-sending. */
  notFoundLookups: number;
  /** Pause between look-ups of an order whose outcome is unknown. */
  lookupIntervalMs: number;
}

export const DEFAULT_EXECUTION_OPTIONS: ExecutionOptions = {
  notFoundGraceMs: 30_000,
  notFoundLookups: 3,
  lookupIntervalMs: 1_000,
};

export interface ExecutionDeps {
  exchange: Executor;
  logger: Logger;
  now: () => number;
  sleep?: (ms: number) => Promise<void>;
  options: ExecutionOptions;
  /** Makes the intent durable as it is now (the intent journal, fdatasynced) before it is sent. */
  persistIntent: (intent: Intent) => Promise<void>;
  /** Records a filled or settled order in the device's books and counters. */
  onSettled: (intent: Intent, result: OrderResult) => void;
  /** Order ids the journal already accounts for, to tell our fills from unexplained ones. */
  knownOrderIds: () => Set<string>;
}

/**
 * Sends orders so that each intent reaches the exchange at most once. The intent is durable
 * before anything is sent; an unknown outcome (lost answer, duplicate-id error, crash) is
 * settled by asking the exchange by client order id, and an order is sent again only when the
 * exchange has said "not found" repeatedly over the grace period and shows no fill it cannot
 * explain. A definite rejection is never retried.
 */
export function createExecution(deps: ExecutionDeps) {
  const { exchange, logger, now, options } = deps;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  function settle(intent: Intent, result: OrderResult): void {
    intent.status = 'done';
    intent.result = result;
    deps.onSettled(intent, result);
  }

  /** One send of an intent whose previous attempts (if any) are known not to exist. */
  async function send(intent: Intent): Promise<'settled' | 'unknown'> {
    intent.sentAt = now();
    await deps.persistIntent(intent); // the attempt is on record before it can reach the exchange
    failpoint('after-intent');
    try {
      const result = await exchange.placeMarketOrder(intent);
      failpoint('after-send');
      settle(intent, result);
      return 'settled';
    } catch (err) {
      const e = err instanceof ExecutionError ? err : new ExecutionError('E_EXCHANGE', String(err));
      if (e.indeterminate) {
        logger.warn(
          { clientOrderId: intent.clientOrderId, code: e.code },
          'order outcome unknown: reconciling',
        );
        return 'unknown';
      }
      intent.status = 'failed';
      intent.error = { code: e.code, message: e.message };
      return 'settled';
    }
  }

  /** True when the symbol has fills since the intent that no journalled order accounts for. */
  async function unexplainedFills(intent: Intent): Promise<boolean> {
    try {
      const known = deps.knownOrderIds();
      const trades = await exchange.recentTrades(intent.symbol, intent.createdAt - 60_000);
      return trades.some((t) => !known.has(t.orderId) && t.side === intent.side);
    } catch (err) {
      logger.warn(
        { err: (err as Error).message },
        'could not read recent trades: assuming the order may exist',
      );
      return true;
    }
  }

  /**
   * Finds out what became of an intent whose outcome is unknown. Returns once it is settled,
   * or left pending when the exchange cannot be asked (a restart will try again).
   */
  async function resolve(intent: Intent): Promise<void> {
    for (;;) {
      let notFound = 0;
      for (;;) {
        let found: OrderResult | null;
        try {
          found = await exchange.findOrder(intent);
        } catch (err) {
          logger.warn(
            { clientOrderId: intent.clientOrderId, err: (err as Error).message },
            'order look-up failed: will retry later',
          );
          return; // still pending: unknown is never treated as absent
        }
        if (found) {
          settle(intent, found);
          return;
        }
        notFound++;
        const waited = now() - (intent.sentAt ?? intent.createdAt);
        if (notFound >= options.notFoundLookups && waited >= options.notFoundGraceMs) {
          if (!(await unexplainedFills(intent))) break;
          logger.warn(
            { clientOrderId: intent.clientOrderId },
            'order not visible yet but unexplained fills exist: waiting',
          );
        }
        if (
          now() >= intent.expiresAt &&
          notFound >= options.notFoundLookups &&
          waited >= options.notFoundGraceMs
        ) {
          intent.status = 'abandoned';
          intent.error = {
            code: 'E_UNRESOLVED',
            message: 'fills on the exchange that no order explains; not re-sent',
          };
          return;
        }
        await sleep(options.lookupIntervalMs);
      }
      // The exchange has had the grace period and says the order does not exist.
      if (now() >= intent.expiresAt) {
        intent.status = 'abandoned';
        intent.error = {
          code: 'E_EXPIRED',
          message: 'not on the exchange and the signal expired before it could be sent again',
        };
        return;
      }
      intent.attempts++;
      logger.info(
        { clientOrderId: intent.clientOrderId, attempt: intent.attempts },
        'order never reached the exchange: sending again',
      );
      if ((await send(intent)) === 'settled') return;
    }
  }

  return {
    /** Sends a fresh intent and settles its outcome. */
    async execute(intent: Intent): Promise<void> {
      if ((await send(intent)) === 'unknown') await resolve(intent);
      failpoint('after-settle');
    },
    /** Settles an intent left pending by a crash: it may or may not have been sent. */
    async reconcile(intent: Intent): Promise<void> {
      await resolve(intent);
      failpoint('after-settle');
    },
  };
}
