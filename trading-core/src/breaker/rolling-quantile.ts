/**
 * The last `window` values in arrival order (a ring) and the same values sorted, so any quantile
 * is one lookup. A push that overflows the window removes the oldest value; both are a binary
 * search and an O(window) splice, which is fine for windows of a few thousand.
 */
export class RollingQuantile {
  readonly window: number;
  readonly #ring: number[] = [];
  readonly #sorted: number[] = [];
  #head = 0;

  constructor(window: number) {
    this.window = window;
  }

  get size(): number {
    return this.#ring.length;
  }

  push(value: number): void {
    if (this.#ring.length === this.window) {
      const oldest = this.#ring[this.#head] as number;
      this.#sorted.splice(lowerBound(this.#sorted, oldest), 1);
      this.#ring[this.#head] = value;
      this.#head = (this.#head + 1) % this.window;
    } else {
      this.#ring.push(value);
    }
    this.#sorted.splice(lowerBound(this.#sorted, value), 0, value);
  }

  /** The q-quantile (0..1) by linear interpolation between the closest ranks; NaN when empty. */
  quantile(q: number): number {
    const s = this.#sorted;
    if (s.length === 0) return Number.NaN;
    const pos = q * (s.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, s.length - 1);
    const a = s[lo] as number;
    return a + ((s[hi] as number) - a) * (pos - lo);
  }
}

/** The first index whose value is ≥ x. */
function lowerBound(s: readonly number[], x: number): number {
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((s[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
