import { ProtocolError } from './errors.js';
import { DEFAULT_MAX_CLOCK_SKEW_MS } from './signing.js';

/**
 * Remembers message ids until they could no longer pass the expiry check. Because expired
 * messages are refused anyway, forgetting an id after its expiry (plus clock skew) is safe,
 * which keeps the set bounded by the rate of messages times their ttl.
 */
export class ReplayGuard {
  readonly #forgetAt = new Map<string, number>();
  readonly #skewMs: number;

  constructor(entries: Iterable<readonly [string, number]> = [], skewMs = DEFAULT_MAX_CLOCK_SKEW_MS) {
    this.#skewMs = skewMs;
    for (const [id, at] of entries) this.#forgetAt.set(id, at);
  }

  has(id: string): boolean {
    return this.#forgetAt.has(id);
  }

  /** Throws E_REPLAYED if `id` was seen; otherwise remembers it until `expiresAt`. */
  admit(id: string, expiresAt: number): void {
    if (this.#forgetAt.has(id))
      throw new ProtocolError('E_REPLAYED', `message ${id} was already received`, { id });
    this.#forgetAt.set(id, expiresAt + this.#skewMs);
  }

  prune(now: number): void {
    for (const [id, at] of this.#forgetAt) if (at < now) this.#forgetAt.delete(id);
  }

  entries(): [string, number][] {
    return [...this.#forgetAt];
  }

  get size(): number {
    return this.#forgetAt.size;
  }
}
