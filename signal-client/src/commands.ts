import type { Logger } from 'pino';
import { MAX_COMMAND_ACK_SYMBOLS, MAX_FLEET_REASON_CHARS, type CommandAck } from '@appliance/protocol';
import { floorToStep } from '@appliance/trading-core';
import type { Books } from './books.js';
import { commandOrderId } from './client-order-id.js';
import type { TargetedCommand } from './control-view.js';
import type { Controls } from './controls.js';
import type { Executor } from './exchange.js';
import { failpoint } from './failpoints.js';
import type { Holdings } from './holdings.js';
import type { DecisionOutbox } from './outbox.js';
import type { Orders } from './orders.js';
import {
  KEEP_COMMANDS,
  KEEP_COMMANDS_MS,
  type ClientState,
  type CommandRecord,
  type Intent,
} from './state.js';

/** The stream name a command's order is journalled under (it moves no resume point). */
const COMMAND_STREAM = 'fleet-command';

export interface CommandsDeps {
  deviceId: string;
  quote: string;
  state: ClientState;
  controls: Pick<Controls, 'view'>;
  exchange: Pick<Executor, 'marketRules'>;
  holdings: Pick<Holdings, 'balances' | 'price' | 'refresh'>;
  books: Pick<Books, 'positions'>;
  orders: Pick<Orders, 'execute'>;
  outbox: Pick<DecisionOutbox, 'addAck'>;
  persist: () => Promise<void>;
  logger: Logger;
  now: () => number;
}

/** The device's fleet commands (see `createCommands`). */
export interface Commands {
  /**
   * Takes every command of the covering fleet messages not handled yet, and carries on with any
   * left `received` (a crash mid-command, an order whose fate is not known yet). The caller runs
   * it on the device's one queue, after a fleet message and at start.
   */
  poll(): Promise<void>;
  /** Some command is taken but not finished. */
  unfinished(): boolean;
}

type Sold = NonNullable<CommandRecord['sold']>[number];
type Unsold = NonNullable<CommandRecord['unsold']>[number];

const cut = (text: string) => text.slice(0, MAX_FLEET_REASON_CHARS);
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Operator commands, each handled once per device, ever: recorded in the state (status
 * `received`, with its acknowledgement in the outbox) and persisted before the device acts on it.
 * `halt` and `resume` are then done (the halt itself is the fleet messages' `halted`, read by
 * decide). `flat` sells, per symbol, what the device's own books hold (the ledger's positions:
 * never coins held before provisioning), capped by the free balance and rounded down to the
 * market's step, through the normal execution path: intent journalled before the order, client
 * order id derived from (device, command, symbol). After a crash the journalled intent is
 * reconciled by that id and found, never sent twice; a symbol with an intent is never sized
 * again. Then `done` with what was sold and what could not be (and why), or `failed` when it
 * cannot finish before it expires. A command first seen after its expiry is only acknowledged
 * `expired`.
 */
export function createCommands(deps: CommandsDeps): Commands {
  const { state, logger, now } = deps;

  function ack(rec: CommandRecord): void {
    const a: CommandAck = { commandId: rec.id, action: rec.action, status: rec.status, ts: now() };
    if (rec.sold) a.sold = rec.sold.slice(0, MAX_COMMAND_ACK_SYMBOLS);
    if (rec.unsold)
      a.unsold = rec.unsold
        .slice(0, MAX_COMMAND_ACK_SYMBOLS)
        .map((u) => ({ ...u, reason: cut(u.reason) || 'not sold' }));
    if (rec.failure !== undefined) a.reason = cut(rec.failure);
    deps.outbox.addAck(a);
  }

  function prune(t: number): void {
    const records = Object.values(state.commands);
    for (const r of records)
      if (r.status !== 'received' && r.expiresAt < t - KEEP_COMMANDS_MS) delete state.commands[r.id];
    const finished = Object.values(state.commands).filter((r) => r.status !== 'received');
    if (finished.length <= KEEP_COMMANDS) return;
    finished.sort((a, b) => a.receivedAt - b.receivedAt);
    for (const r of finished.slice(0, finished.length - KEEP_COMMANDS)) delete state.commands[r.id];
  }

  /** Records a command seen for the first time, with its first acknowledgement, durably. */
  async function take(cmd: TargetedCommand): Promise<CommandRecord> {
    const t = now();
    const expired = t >= cmd.expiresAt;
    const rec: CommandRecord = {
      id: cmd.id,
      action: cmd.action,
      reason: cmd.reason,
      by: cmd.by,
      target: cmd.target,
      issuedAt: cmd.issuedAt,
      expiresAt: cmd.expiresAt,
      status: expired ? 'expired' : 'received',
      receivedAt: t,
      ...(expired && {
        finishedAt: t,
        failure: `first seen at ${iso(t)}, after it expired at ${iso(cmd.expiresAt)}: ignored`,
      }),
    };
    prune(t);
    state.commands[cmd.id] = rec;
    ack(rec);
    await deps.persist(); // once this is on disk the command is never taken again
    failpoint('after-command-received');
    logger.info(
      { command: cmd.id, action: cmd.action, target: cmd.target, by: cmd.by, status: rec.status },
      expired ? 'fleet command expired before it arrived: ignored' : 'fleet command received',
    );
    return rec;
  }

  async function finish(rec: CommandRecord, outcome: Partial<CommandRecord>): Promise<void> {
    Object.assign(rec, outcome, { finishedAt: now() });
    ack(rec);
    await deps.persist();
    logger.info(
      { command: rec.id, action: rec.action, status: rec.status, sold: rec.sold, unsold: rec.unsold },
      'fleet command finished',
    );
  }

  /** One symbol of a flat whose order exists: what it sold, or why it did not. */
  function outcomeOf(intent: Intent, sold: Sold[], unsold: Unsold[]): void {
    if (intent.status === 'done' && intent.result) {
      if (intent.result.filled > 0)
        sold.push({ symbol: intent.symbol, amount: intent.result.filled, orderId: intent.result.orderId });
      const left = intent.amount - intent.result.filled;
      if (left > 0 && !(intent.result.filled > 0))
        unsold.push({ symbol: intent.symbol, amount: left, reason: 'the exchange filled none of the sale' });
      return;
    }
    const why = intent.error ? `${intent.error.code}: ${intent.error.message}` : intent.status;
    unsold.push({
      symbol: intent.symbol,
      amount: intent.amount,
      reason: `the sale did not go through (${why})`,
    });
  }

  /**
   * Sells what the books hold of one asset, if the market allows; returns its intent, or
   * undefined with the reason in `unsold`.
   */
  async function sellAsset(rec: CommandRecord, asset: string, held: number, unsold: Unsold[]) {
    const symbol = `${asset}/${deps.quote}`;
    const market = deps.exchange.marketRules(symbol);
    if (!market) {
      unsold.push({ symbol, amount: held, reason: `no ${symbol} market on the exchange` });
      return undefined;
    }
    const free = deps.holdings.balances().free[asset] ?? 0;
    const amount = floorToStep(Math.min(held, free), market.amountStep);
    const rest = (reason: string): undefined => void unsold.push({ symbol, amount: held, reason });
    if (!(free > 0)) return rest(`none of it is free on the exchange (free ${free})`);
    if (!(amount > 0) || amount < market.minAmount)
      return rest(
        `below the exchange minimum: ${amount} after rounding down to the step ${market.amountStep} (minimum amount ${market.minAmount})`,
      );
    if (market.minNotional > 0) {
      const price = await deps.holdings.price(symbol);
      if (price !== null && amount * price < market.minNotional)
        return rest(
          `below the exchange minimum order value: about ${(amount * price).toFixed(2)} ${deps.quote} (minimum ${market.minNotional} ${deps.quote})`,
        );
    }
    const t = now();
    const intent: Intent = {
      clientOrderId: commandOrderId(deps.deviceId, rec.id, symbol),
      signalId: rec.id,
      stream: COMMAND_STREAM,
      offset: '0',
      symbol,
      side: 'sell',
      amount,
      expiresAt: rec.expiresAt,
      createdAt: t,
      status: 'pending',
      attempts: 1,
      command: rec.id,
    };
    state.intents[intent.clientOrderId] = intent;
    await deps.orders.execute(intent); // journalled before the order leaves the device
    failpoint('after-command-order');
    if (intent.status === 'done' && held - amount > 0) {
      const why =
        free < held
          ? `only ${free} of ${held} was free on the exchange`
          : `below the market's amount step ${market.amountStep}`;
      unsold.push({ symbol, amount: Number((held - amount).toFixed(12)), reason: why });
    }
    return intent;
  }

  /** Sells the books' positions; returns false while some order's fate is not known yet. */
  async function flat(rec: CommandRecord): Promise<boolean> {
    const sold: Sold[] = [];
    const unsold: Unsold[] = [];
    // Symbols this command already has an order for (before a crash): never sized again.
    const ordered = Object.values(state.intents).filter((i) => i.command === rec.id);
    if (ordered.some((i) => i.status === 'pending')) return false;
    const done = new Set(ordered.map((i) => i.symbol.split('/')[0]!));
    await deps.holdings.refresh();
    const intents = [...ordered];
    for (const [asset, held] of Object.entries(deps.books.positions()).sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (asset === deps.quote || !(held > 0) || done.has(asset)) continue;
      const intent = await sellAsset(rec, asset, held, unsold);
      if (intent) intents.push(intent);
    }
    if (intents.some((i) => i.status === 'pending')) return false;
    for (const i of intents) outcomeOf(i, sold, unsold);
    sold.sort((a, b) => (a.symbol < b.symbol ? -1 : 1));
    unsold.sort((a, b) => (a.symbol < b.symbol ? -1 : 1));
    await finish(rec, { status: 'done', sold, unsold });
    return true;
  }

  async function run(rec: CommandRecord): Promise<void> {
    if (rec.action !== 'flat') return finish(rec, { status: 'done' });
    try {
      if (await flat(rec)) return;
      if (now() >= rec.expiresAt) {
        const left = Object.values(state.intents).filter(
          (i) => i.command === rec.id && i.status === 'pending',
        );
        if (left.length === 0) return; // nothing unknown: the next poll finishes it
        logger.warn({ command: rec.id }, 'fleet command: an order is still being checked with the exchange');
      }
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      logger.error({ command: rec.id, err: text }, 'fleet command could not finish: will try again');
      if (now() >= rec.expiresAt)
        await finish(rec, { status: 'failed', failure: cut(`could not finish before it expired: ${text}`) });
    }
  }

  let running: Promise<void> | undefined;

  async function pollOnce(): Promise<void> {
    for (const cmd of deps.controls.view().commands) {
      const held = state.commands[cmd.id];
      if (held) continue; // handled, or unfinished (carried on below)
      const rec = await take(cmd);
      if (rec.status === 'received') await run(rec);
    }
    for (const rec of Object.values(state.commands)) if (rec.status === 'received') await run(rec);
  }

  return {
    poll() {
      // One poll at a time (the caller's queue already does this; a second call waits for the first).
      running = (running ?? Promise.resolve()).catch(() => undefined).then(pollOnce);
      return running;
    },
    unfinished: () => Object.values(state.commands).some((r) => r.status === 'received'),
  };
}
