import { formatAtoms } from '../atoms.js';
import { OrderBookError } from './order-book-error.js';

/**
 * An amount of atoms as an exact number for the book's arithmetic. Refused above
 * Number.MAX_SAFE_INTEGER (about 90 million units): past it a number no longer counts every atom.
 */
export function safeAtoms(value: unknown, what: 'price' | 'quantity'): number {
  // One conversion, then number comparisons: Number() of a bigint rounds monotonically, so
  // anything above the largest safe integer converts to at least 2^53.
  const n = typeof value === 'bigint' ? Number(value) : NaN;
  if (n > 0 && n <= Number.MAX_SAFE_INTEGER) return n;
  if (typeof value !== 'bigint' || value <= 0n) {
    throw new OrderBookError(
      what === 'price' ? 'E_BAD_PRICE' : 'E_BAD_QUANTITY',
      `${what} must be a bigint of atoms > 0, got ${typeof value === 'bigint' ? value : typeof value}`,
    );
  }
  throw new OrderBookError(
    'E_TOO_LARGE',
    `${what} of ${formatAtoms(value)} is above ${Number.MAX_SAFE_INTEGER} atoms, the most the book counts exactly`,
  );
}

export function checkOrderId(id: unknown): number {
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
    throw new OrderBookError(
      'E_BAD_ORDER_ID',
      `an order id must be a positive safe integer, got ${String(id)}`,
    );
  }
  return id;
}

export function badOrder(message: string): OrderBookError {
  return new OrderBookError('E_BAD_ORDER', message);
}
