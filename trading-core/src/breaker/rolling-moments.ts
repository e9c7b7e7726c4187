/**
 * Mean and standard deviation of the last `window` values, O(1) per push. The running sums are
 * recomputed from the ring once per full turn, so rounding cannot drift over a long replay.
 */
export class RollingMoments {
  readonly window: number;
  readonly #ring: number[] = [];
  #head = 0;
  #sum = 0;
  #sumSq = 0;

  constructor(window: number) {
    this.window = window;
  }

  get size(): number {
    return this.#ring.length;
  }

  push(value: number): void {
    if (this.#ring.length === this.window) {
      const oldest = this.#ring[this.#head] as number;
      this.#ring[this.#head] = value;
      this.#head = (this.#head + 1) % this.window;
      this.#sum += value - oldest;
      this.#sumSq += value * value - oldest * oldest;
      if (this.#head === 0) this.#resum();
    } else {
      this.#ring.push(value);
      this.#sum += value;
      this.#sumSq += value * value;
    }
  }

  mean(): number {
    return this.#ring.length === 0 ? Number.NaN : this.#sum / this.#ring.length;
  }

  /** Population standard deviation; NaN when empty. */
  std(): number {
    const n = this.#ring.length;
    if (n === 0) return Number.NaN;
    const m = this.#sum / n;
    return Math.sqrt(Math.max(0, this.#sumSq / n - m * m));
  }

  #resum(): void {
    let s = 0;
    let sq = 0;
    for (const v of this.#ring) {
      s += v;
      sq += v * v;
    }
    this.#sum = s;
    this.#sumSq = sq;
  }
}
