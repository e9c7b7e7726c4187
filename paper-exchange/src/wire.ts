import type { Candle } from '@appliance/trading-core';
import type { Kline } from './candles.js';
import { formatAmount } from './amount-text.js';
import type { Market } from './markets.js';
import type { NewOrderRespType } from './order-params.js';
import { isOpen, type PaperOrder, type PaperTrade } from './orders.js';

// Binance's JSON shapes: ids and times as numbers, every amount as a decimal string.

// Candle values are floats of any size; toFixed gives Binance's 8 places without a range limit.
const price = (x: number) => x.toFixed(8);
const ZERO = '0.00000000';

function orderFields(o: PaperOrder) {
  return {
    price: formatAmount(o.price),
    origQty: formatAmount(o.origQty),
    executedQty: formatAmount(o.executedQty),
    origQuoteOrderQty: formatAmount(o.origQuoteOrderQty),
    cummulativeQuoteQty: formatAmount(o.cummulativeQuoteQty),
    status: o.status,
    timeInForce: o.timeInForce,
    type: o.type,
    side: o.side,
  };
}

/** GET /api/v3/order, GET /api/v3/openOrders. */
export function orderToWire(o: PaperOrder) {
  return {
    symbol: o.symbol,
    orderId: o.orderId,
    orderListId: -1,
    clientOrderId: o.clientOrderId,
    ...orderFields(o),
    stopPrice: ZERO,
    icebergQty: ZERO,
    time: o.time,
    updateTime: o.updateTime,
    isWorking: isOpen(o),
    workingTime: o.time,
    selfTradePreventionMode: 'NONE',
  };
}

/** POST /api/v3/order, in the detail newOrderRespType asks for. */
export function newOrderToWire(o: PaperOrder, respType: NewOrderRespType) {
  const ack = {
    symbol: o.symbol,
    orderId: o.orderId,
    orderListId: -1,
    clientOrderId: o.clientOrderId,
    transactTime: o.time,
  };
  if (respType === 'ACK') return ack;
  const result = { ...ack, ...orderFields(o), workingTime: o.time, selfTradePreventionMode: 'NONE' };
  if (respType === 'RESULT') return result;
  return {
    ...result,
    fills: o.fills.map((t) => ({
      price: formatAmount(t.price),
      qty: formatAmount(t.qty),
      commission: formatAmount(t.commission),
      commissionAsset: t.commissionAsset,
      tradeId: t.id,
    })),
  };
}

/** DELETE /api/v3/order: clientOrderId is the cancel request's own id, as on Binance. */
export function canceledOrderToWire(o: PaperOrder, cancelClientOrderId: string) {
  return {
    symbol: o.symbol,
    origClientOrderId: o.clientOrderId,
    orderId: o.orderId,
    orderListId: -1,
    clientOrderId: cancelClientOrderId,
    transactTime: o.updateTime,
    ...orderFields(o),
    selfTradePreventionMode: 'NONE',
  };
}

/** GET /api/v3/myTrades. */
export function tradeToWire(t: PaperTrade) {
  return {
    symbol: t.symbol,
    id: t.id,
    orderId: t.orderId,
    orderListId: -1,
    price: formatAmount(t.price),
    qty: formatAmount(t.qty),
    quoteQty: formatAmount(t.quoteQty),
    commission: formatAmount(t.commission),
    commissionAsset: t.commissionAsset,
    time: t.time,
    isBuyer: t.isBuyer,
    isMaker: t.isMaker,
    isBestMatch: true,
  };
}

/** GET /api/v3/klines: one array per bar. Taker volumes are not modelled. */
export function klineToWire(
  k: Kline,
): [number, string, string, string, string, string, number, string, number, string, string, string] {
  return [
    k.time,
    price(k.open),
    price(k.high),
    price(k.low),
    price(k.close),
    price(k.volume),
    k.time + k.intervalMs - 1,
    price(k.quoteVolume),
    k.bars,
    ZERO,
    ZERO,
    '0',
  ];
}

/** GET /api/v3/ticker/24hr over the bars received in the last day; bid and ask are the last close. */
export function ticker24hToWire(m: Market, bars: readonly Candle[], intervalMs: number) {
  const first = bars[0];
  const last = bars.at(-1);
  if (!first || !last) {
    return {
      symbol: m.id,
      priceChange: ZERO,
      priceChangePercent: '0.000',
      weightedAvgPrice: ZERO,
      prevClosePrice: ZERO,
      lastPrice: ZERO,
      lastQty: ZERO,
      bidPrice: ZERO,
      bidQty: ZERO,
      askPrice: ZERO,
      askQty: ZERO,
      openPrice: ZERO,
      highPrice: ZERO,
      lowPrice: ZERO,
      volume: ZERO,
      quoteVolume: ZERO,
      openTime: 0,
      closeTime: 0,
      firstId: -1,
      lastId: -1,
      count: 0,
    };
  }
  let high = first.high;
  let low = first.low;
  let volume = 0;
  let quoteVolume = 0;
  for (const b of bars) {
    high = Math.max(high, b.high);
    low = Math.min(low, b.low);
    volume += b.volume;
    quoteVolume += b.close * b.volume;
  }
  const change = last.close - first.open;
  return {
    symbol: m.id,
    priceChange: price(change),
    priceChangePercent: ((change / first.open) * 100).toFixed(3),
    weightedAvgPrice: price(volume > 0 ? quoteVolume / volume : last.close),
    prevClosePrice: price(first.open),
    lastPrice: price(last.close),
    lastQty: ZERO,
    bidPrice: price(last.close),
    bidQty: ZERO,
    askPrice: price(last.close),
    askQty: ZERO,
    openPrice: price(first.open),
    highPrice: price(high),
    lowPrice: price(low),
    volume: price(volume),
    quoteVolume: price(quoteVolume),
    openTime: first.time,
    closeTime: last.time + intervalMs - 1,
    firstId: -1,
    lastId: -1,
    count: bars.length,
  };
}
