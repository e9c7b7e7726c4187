import type { Logger } from 'pino';
import { ProtocolError, verifyControl, type BusMessage, type KeyRing } from '@appliance/protocol';

/** A control message is well under this; anything larger is refused before it is parsed. */
export const MAX_CONTROL_RECORD_BYTES = 256 * 1024;

/** Rejections logged one by one, then only every this many (a flood must not flood the log). */
const LOG_FIRST = 10;
const LOG_EVERY = 1_000;

/** What the datafeed asks of eligibility: whether its house portfolio may buy `symbol` on `stream`. */
export interface EligibilityGate {
  allows(stream: string, symbol: string): boolean;
  /** Changes whenever what `stream` allows changes: a skip is logged once per revision. */
  revision(stream: string): number;
}

export interface EligibilityOptions {
  /** The control server's public keys: only eligibility it signed is taken. */
  keys: KeyRing;
  /** The streams this datafeed runs: eligibility of any other stream is not kept. */
  streams: readonly string[];
  logger: Logger;
  now?: () => number;
  maxClockSkewMs?: number;
}

/** What became of one record of the control topic. */
export type EligibilityOutcome = 'applied' | 'older' | 'other' | 'rejected';

interface Held {
  version: number;
  symbols: ReadonlySet<string>;
  revision: number;
}

/**
 * The newest verified eligibility per stream this datafeed runs, from the control server's
 * signed control messages. Checks as the signal client does: size, JSON, schema, pinned key,
 * signature and validity window (`verifyControl`), then version: a message older than the one
 * held for its stream never replaces it (an equal version does, as the control server
 * re-issues the same body with a fresh window). Whatever fails is logged and changes nothing.
 *
 * A stream with no eligibility received yet allows nothing (fail safe, as on the devices):
 * the house portfolio buys nothing there until the control server has said what it may buy.
 * The newest eligibility held stays in force after its window passes, as on the devices: it is
 * still the control server's latest word on the stream.
 */
export class Eligibility implements EligibilityGate {
  readonly #o: EligibilityOptions;
  readonly #streams: ReadonlySet<string>;
  readonly #held = new Map<string, Held>();
  readonly #counts = { rejected: 0, older: 0 };

  constructor(o: EligibilityOptions) {
    this.#o = o;
    this.#streams = new Set(o.streams);
  }

  /** Handles one record of the control topic. */
  onMessage(m: Pick<BusMessage, 'partition' | 'offset' | 'value'>): EligibilityOutcome {
    const where = { partition: m.partition, offset: m.offset };
    if (m.value.length > MAX_CONTROL_RECORD_BYTES)
      return this.#reject({
        ...where,
        code: 'E_TOO_LARGE',
        reason: `larger than ${MAX_CONTROL_RECORD_BYTES} bytes`,
      });
    let raw: unknown;
    try {
      raw = JSON.parse(m.value.toString());
    } catch {
      return this.#reject({ ...where, code: 'E_MALFORMED', reason: 'not JSON' });
    }
    return this.accept(raw, where);
  }

  /** Verifies one control message and applies it if it is eligibility of a stream run here. */
  accept(raw: unknown, where: Record<string, unknown> = {}): EligibilityOutcome {
    const now = (this.#o.now ?? Date.now)();
    let c;
    try {
      c = verifyControl(raw, this.#o.keys, { now, maxClockSkewMs: this.#o.maxClockSkewMs });
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      return this.#reject({ ...where, code: err.code, reason: err.message });
    }
    if (c.kind !== 'eligibility' || !this.#streams.has(c.body.stream)) return 'other';
    const { stream, symbols } = c.body;
    const held = this.#held.get(stream);
    if (held && c.version < held.version) {
      // A bus writer can replay old genuine messages at will: logged like rejections, sampled.
      this.#warn(
        'older',
        { ...where, stream, version: c.version, held: held.version },
        'eligibility ignored: older than the one held',
      );
      return 'older';
    }
    const next = new Set(symbols);
    const changed = !held || !sameSet(held.symbols, next);
    this.#held.set(stream, {
      version: c.version,
      symbols: next,
      revision: (held?.revision ?? 0) + (changed ? 1 : 0),
    });
    if (changed)
      this.#o.logger.info(
        { stream, version: c.version, symbols: [...next].sort() },
        `eligibility of ${stream} changed`,
      );
    return 'applied';
  }

  allows(stream: string, symbol: string): boolean {
    return this.#held.get(stream)?.symbols.has(symbol) ?? false;
  }

  revision(stream: string): number {
    return this.#held.get(stream)?.revision ?? 0;
  }

  /** The symbols eligible on `stream` and the version saying so; undefined before any arrived. */
  current(stream: string): { version: number; symbols: string[] } | undefined {
    const held = this.#held.get(stream);
    return held && { version: held.version, symbols: [...held.symbols].sort() };
  }

  #reject(details: Record<string, unknown>): 'rejected' {
    this.#warn('rejected', details, 'control message rejected');
    return 'rejected';
  }

  /** Anyone who can write to the bus can cause these: the first are logged, then a sample. */
  #warn(kind: 'rejected' | 'older', details: Record<string, unknown>, msg: string): void {
    const count = ++this.#counts[kind];
    if (count <= LOG_FIRST || count % LOG_EVERY === 0) this.#o.logger.warn({ ...details, count }, msg);
  }
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}
