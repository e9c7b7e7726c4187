import type { Logger } from 'pino';
import type { ClientConfig } from './config.js';
import type { Executor, OrderResult } from './exchange.js';
import { createExecution } from './execution.js';
import { failpoint } from './failpoints.js';
import type { ClientState, Intent } from './state.js';

export interface OrdersDeps {
  exchange: Executor;
  logger: Logger;
  now: () => number;
  options: ClientConfig['execution'];
  state: ClientState;
  persist: () => Promise<void>;
  /** Makes one intent durable before its order is sent (see journal.ts). */
  persistIntent: (intent: Intent) => Promise<void>;
  /** Books, counters and spend for an order the exchange has answered for (see books.ts). */
  onSettled: (intent: Intent, result: OrderResult) => void;
  /** Reads balances and marks again after an order. */
  refreshBalances: () => Promise<void>;
  /** Moves a stream's resume point (see resume-points.ts); the caller persists. */
  advanceResume: (stream: string, offset: string) => void;
  /** Records a settled intent's decision and marks it `reported` (see decision-log.ts). */
  reportOutcome: (intent: Intent) => void;
}

/** The device's orders: journalled intents sent to the exchange and settled (see execution.ts). */
export interface Orders {
  /**
   * Sends an intent already in `state.intents` and settles it; the intent is made durable
   * before the order leaves the device (execution.ts journals it before each send).
   */
  execute(intent: Intent): Promise<void>;
  /**
   * Settles every intent left pending, each recorded and persisted in turn: found, it is
   * recorded; absent over the grace period and still fresh, it is sent again under the same
   * client id; stale, it is abandoned.
   */
  reconcile(): Promise<void>;
  /** Some intent's outcome is not known yet. */
  pending(): boolean;
}

export function createOrders(deps: OrdersDeps): Orders {
  const { logger, state, persist } = deps;

  const execution = createExecution({
    exchange: deps.exchange,
    logger,
    now: deps.now,
    options: deps.options,
    persistIntent: deps.persistIntent,
    onSettled: deps.onSettled,
    knownOrderIds: () =>
      new Set(Object.values(state.intents).flatMap((i) => (i.result ? [i.result.orderId] : []))),
  });

  return {
    async execute(intent) {
      await execution.execute(intent);
      await deps.refreshBalances();
      await persist();
      failpoint('after-persist');
    },
    async reconcile() {
      for (const intent of Object.values(state.intents)) {
        if (intent.status !== 'pending') continue;
        await execution.reconcile(intent);
        // A fleet command's order moves no resume point and makes no decision: its command
        // acknowledges it (commands.ts).
        if (intent.status !== 'pending' && intent.command === undefined) {
          deps.advanceResume(intent.stream, intent.offset);
          deps.reportOutcome(intent);
        }
        await persist();
        logger.info({ clientOrderId: intent.clientOrderId, status: intent.status }, 'reconciled intent');
      }
    },
    pending: () => Object.values(state.intents).some((i) => i.status === 'pending'),
  };
}
