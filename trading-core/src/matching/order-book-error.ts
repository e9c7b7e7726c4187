import { errorClass } from '@appliance/errors';

/** Every way the order book refuses a call. A refused call has changed nothing. */
export const ORDER_BOOK_ERROR_CODES = {
  E_BAD_ORDER_ID: 'an order id must be a positive safe integer',
  E_DUPLICATE_ORDER_ID: 'an order with this id is already resting',
  E_UNKNOWN_ORDER: 'no order with this id is resting',
  E_BAD_ORDER: 'the order has a missing or invalid side, type, time in force or flag',
  E_BAD_PRICE: 'a price must be a bigint of atoms > 0',
  E_BAD_QUANTITY: 'a quantity must be a bigint of atoms > 0',
  E_TOO_LARGE: 'an amount is above Number.MAX_SAFE_INTEGER atoms',
  E_NOT_MATCHING: 'a book that never matches (resting-only) takes no market, IOC or FOK orders',
  E_BAD_BAR: 'the bar is impossible (low above open or high, a price <= 0, a volume < 0)',
} as const;

export type OrderBookErrorCode = keyof typeof ORDER_BOOK_ERROR_CODES;

export class OrderBookError extends errorClass('OrderBookError', ORDER_BOOK_ERROR_CODES) {
  constructor(code: OrderBookErrorCode, message?: string) {
    super(code, message);
  }
}
