/**
 * One side of an order book: price levels in priority order, each a FIFO of resting orders as an
 * intrusive doubly-linked list, so adding at the back and removing any order are O(1) once its
 * level is known, and a new level costs one binary search and one array splice.
 *
 * Prices and quantities are plain numbers of atoms (safe integers, checked by the caller):
 * bigint arithmetic is several times slower in V8, and every value here is below 2^53, so
 * number arithmetic on them is exact.
 */

/** A resting order. Mutable, owned by the book (which reuses it); never handed out. */
export interface BookNode {
  id: number;
  isBuy: boolean;
  price: number;
  /** Quantity still resting. */
  leaves: number;
  /** Quantity filled so far, so a replace can tell what is left of a new total. */
  filled: number;
  postOnly: boolean;
  level: Level;
  prev: BookNode | null;
  next: BookNode | null;
}

export interface Level {
  readonly price: number;
  head: BookNode | null;
  tail: BookNode | null;
}

export class BookSide {
  /**
   * Sort keys ascending with the best level last, so the best is read and dropped at the end of
   * the array (no shifting): a bid's key is its price, an ask's the negated price.
   */
  private readonly keys: number[] = [];
  /** The levels, in the same order as keys. */
  private readonly ranked: Level[] = [];
  private readonly byPrice = new Map<number, Level>();

  constructor(readonly isBid: boolean) {}

  get levelCount(): number {
    return this.ranked.length;
  }

  /** The best level, or undefined when the side is empty. */
  best(): Level | undefined {
    return this.ranked[this.ranked.length - 1];
  }

  /** The level `rank` places behind the best (0 is the best). */
  levelAt(rank: number): Level | undefined {
    return this.ranked[this.ranked.length - 1 - rank];
  }

  /** Appends an order at the back of its price's queue: it has the last time priority there. */
  append(node: BookNode): void {
    let level = this.byPrice.get(node.price);
    if (level === undefined) level = this.addLevel(node.price);
    node.level = level;
    node.next = null;
    node.prev = level.tail;
    if (level.tail === null) level.head = node;
    else level.tail.next = node;
    level.tail = node;
  }

  /** Unlinks an order; drops its level when it was the last order there. */
  remove(node: BookNode): void {
    const level = node.level;
    if (node.prev === null) level.head = node.next;
    else node.prev.next = node.next;
    if (node.next === null) level.tail = node.prev;
    else node.next.prev = node.prev;
    node.prev = null;
    node.next = null;
    if (level.head === null) this.dropLevel(level.price);
  }

  private key(price: number): number {
    return this.isBid ? price : -price;
  }

  private addLevel(price: number): Level {
    const level: Level = { price, head: null, tail: null };
    const key = this.key(price);
    const keys = this.keys;
    // A new best price (an order improving the spread, common) needs no search.
    const n = keys.length;
    if (n === 0 || keys[n - 1]! < key) {
      keys.push(key);
      this.ranked.push(level);
    } else {
      const at = lowerBound(keys, key);
      keys.splice(at, 0, key);
      this.ranked.splice(at, 0, level);
    }
    this.byPrice.set(price, level);
    return level;
  }

  private dropLevel(price: number): void {
    this.byPrice.delete(price);
    const keys = this.keys;
    const key = this.key(price);
    if (keys[keys.length - 1] === key) {
      keys.pop();
      this.ranked.pop();
      return;
    }
    const at = lowerBound(keys, key);
    keys.splice(at, 1);
    this.ranked.splice(at, 1);
  }
}

/** The first index whose key is >= key. */
function lowerBound(keys: readonly number[], key: number): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
