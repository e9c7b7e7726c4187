import type { ManualClock } from '@appliance/test-kit';
import { ExecutionError, type Balances, type Executor, type OrderResult } from '../src/exchange.js';

/**
 * What the fake exchange does with one `placeMarketOrder` call:
 * - `fill`: places the order, it fills, the answer arrives;
 * - `lost`: places the order and it fills, but the answer is lost (E_UNREACHABLE);
 * - `network`: the request never reaches the exchange (E_UNREACHABLE, nothing placed);
 * - `duplicate`: the exchange already has an order with this client id, from an earlier send
 *   the device does not know about (E_DUPLICATE; the order is on the exchange);
 * - `insufficient`: refused, the balance is insufficient (E_INSUFFICIENT_FUNDS, nothing placed);
 * - `rejected`: refused as invalid (E_ORDER_REJECTED, nothing placed).
 * The device cannot tell `lost` from `network`: both are the same error.
 */
export type CreateStep = 'fill' | 'lost' | 'network' | 'duplicate' | 'insufficient' | 'rejected';
/**
 * One `findOrder` call: `visible` answers truthfully (the order, or not found if none was
 * placed); `hidden` says not found even if the order exists (Binance's lag after accepting an
 * order); `network` throws E_UNREACHABLE.
 */
export type FindStep = 'visible' | 'hidden' | 'network';
/** One `recentTrades` call: `visible` lists the account's fills; `network` throws E_UNREACHABLE. */
export type TradesStep = 'visible' | 'network';

export interface FakeScript {
  /** Per call, in order; once used up, `fill`. */
  create?: CreateStep[];
  /** Per call, in order; once used up, `visible`. */
  find?: FindStep[];
  /** Per call, in order; once used up, `visible`. */
  trades?: TradesStep[];
}

export interface FakeTrade {
  orderId: string;
  symbol: string;
  side: 'buy' | 'sell';
  ts: number;
}

export type FakeCall =
  | { op: 'create'; at: number; clientOrderId: string; step: CreateStep; result?: OrderResult }
  | { op: 'find'; at: number; clientOrderId: string; step: FindStep; found: boolean }
  | { op: 'trades'; at: number; symbol: string; step: TradesStep };

export interface FakeExecutorOptions {
  clock: ManualClock;
  script?: FakeScript;
  /** Fills already on the account, e.g. from orders this device never journalled. */
  trades?: FakeTrade[];
  /** The fill price of a sell, and of a buy's estimate. */
  price?: number;
  /** Called as each call is recorded, before it is answered. */
  onCall?: (call: FakeCall) => void;
  /** A runaway loop fails instead of hanging: calls past this throw a plain Error. */
  maxCalls?: number;
}

export interface FakeExecutor extends Executor {
  /** Every call to the order methods, in order. */
  readonly calls: FakeCall[];
  /** The `placeMarketOrder` calls only. */
  creates(): Extract<FakeCall, { op: 'create' }>[];
  finds(): Extract<FakeCall, { op: 'find' }>[];
  /** Orders on the exchange by client id (what really happened, whatever the device was told). */
  readonly orders: Map<string, OrderResult>;
  readonly trades: FakeTrade[];
}

const unreachable = (what: string) =>
  new ExecutionError('E_UNREACHABLE', `${what}: connection reset (scripted)`);

/**
 * A scriptable, hand-made exchange behind the Executor port, for table tests of execution.ts:
 * each call's answer comes from the script, every call is recorded with the clock's time.
 */
export function fakeExecutor(opts: FakeExecutorOptions): FakeExecutor {
  const { clock, price = 40_000, maxCalls = 10_000 } = opts;
  const script = {
    create: [...(opts.script?.create ?? [])],
    find: [...(opts.script?.find ?? [])],
    trades: [...(opts.script?.trades ?? [])],
  };
  const calls: FakeCall[] = [];
  const orders = new Map<string, OrderResult>();
  const trades: FakeTrade[] = [...(opts.trades ?? [])];
  let ids = 0;

  function record(call: FakeCall): void {
    if (calls.length >= maxCalls) throw new Error(`fake exchange: more than ${maxCalls} calls`);
    calls.push(call);
    opts.onCall?.(call);
  }

  function place(o: Parameters<Executor['placeMarketOrder']>[0]): OrderResult {
    const existing = orders.get(o.clientOrderId);
    if (existing) return existing;
    const amount = o.side === 'buy' ? (o.quote ?? 0) / price : o.amount;
    const result: OrderResult = {
      orderId: `ex-${++ids}`,
      status: 'closed',
      filled: amount,
      cost: amount * price,
      fee: 0,
    };
    orders.set(o.clientOrderId, result);
    trades.push({ orderId: result.orderId, symbol: o.symbol, side: o.side, ts: clock.now() });
    return result;
  }

  return {
    calls,
    orders,
    trades,
    creates: () => calls.filter((c): c is Extract<FakeCall, { op: 'create' }> => c.op === 'create'),
    finds: () => calls.filter((c): c is Extract<FakeCall, { op: 'find' }> => c.op === 'find'),
    loadMarkets: async () => {},
    balances: async (): Promise<Balances> => ({ free: {}, total: {} }),
    marketRules: () => ({ amountStep: 0, priceTick: 0, minAmount: 0, minNotional: 0 }),
    prices: async (symbols) => Object.fromEntries(symbols.map((s) => [s, price])),
    async placeMarketOrder(o) {
      const step = script.create.shift() ?? 'fill';
      const call: FakeCall = { op: 'create', at: clock.now(), clientOrderId: o.clientOrderId, step };
      record(call);
      switch (step) {
        case 'fill':
          return (call.result = { ...place(o) });
        case 'lost':
          place(o);
          throw unreachable('createOrder');
        case 'network':
          throw unreachable('createOrder');
        case 'duplicate':
          place(o);
          throw new ExecutionError('E_DUPLICATE', 'Duplicate order sent. (scripted)');
        case 'insufficient':
          throw new ExecutionError(
            'E_INSUFFICIENT_FUNDS',
            'Account has insufficient balance for requested action. (scripted)',
          );
        case 'rejected':
          throw new ExecutionError('E_ORDER_REJECTED', 'Filter failure: NOTIONAL (scripted)');
      }
    },
    async findOrder(o) {
      const step = script.find.shift() ?? 'visible';
      const order = step === 'visible' ? orders.get(o.clientOrderId) : undefined;
      record({ op: 'find', at: clock.now(), clientOrderId: o.clientOrderId, step, found: !!order });
      if (step === 'network') throw unreachable('fetchOrder');
      return order ? { ...order } : null;
    },
    async recentTrades(symbol, since) {
      const step = script.trades.shift() ?? 'visible';
      record({ op: 'trades', at: clock.now(), symbol, step });
      if (step === 'network') throw unreachable('fetchMyTrades');
      return trades
        .filter((t) => t.symbol === symbol && t.ts >= since)
        .map(({ orderId, side }) => ({ orderId, side }));
    },
  };
}
