export { feeOn, fillAt, notionalOf, quoteCost, type MatchedFill } from './fill.js';
export { marketOrderFill, marketPrice, quantityForQuote } from './market-order.js';
export { limitOrderFill, limitOrderFillAt, limitOrderReserve, type LimitOrder } from './limit-order.js';
export { OrderBook, type OrderBookOptions } from './order-book.js';
export { OrderBookError, ORDER_BOOK_ERROR_CODES, type OrderBookErrorCode } from './order-book-error.js';
export type {
  BarFill,
  BookOrder,
  BookReplace,
  BookResult,
  BookTimeInForce,
  BookTrade,
  RemovalReason,
  RestingOrder,
  SweepBar,
} from './book-types.js';
