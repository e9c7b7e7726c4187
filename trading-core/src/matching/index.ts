export { feeOn, fillAt, notionalOf, quoteCost, type MatchedFill } from './fill.js';
export { marketOrderFill, marketPrice, quantityForQuote } from './market-order.js';
export { limitOrderFill, limitOrderFillAt, limitOrderReserve, type LimitOrder } from './limit-order.js';
