import { offsetGreater } from '@appliance/protocol';

export interface RingEntry {
  offset: string;
  /** The frame as sent to devices, serialised once and shared by every connection. */
  frame: string;
}

/**
 * The recent signals of one stream, oldest first, bounded. Answers "everything after offset X"
 * for resuming devices; a resume older than the ring's start is reported as a gap.
 */
export class StreamRing {
  readonly #entries: RingEntry[] = [];
  #start = 0; // index of the oldest entry: a circular buffer without shifting
  #lastEvicted: string | undefined;

  /** The bus partition the stream lives in (a stream is keyed to one partition). */
  constructor(
    readonly capacity: number,
    readonly partition = 0,
  ) {}

  push(entry: RingEntry): void {
    if (this.#entries.length < this.capacity) this.#entries.push(entry);
    else {
      this.#lastEvicted = this.#entries[this.#start]!.offset;
      this.#entries[this.#start] = entry;
      this.#start = (this.#start + 1) % this.capacity;
    }
  }

  /** Whether the ring has dropped entries to make room: it no longer holds the stream's start. */
  get forgotAny(): boolean {
    return this.#lastEvicted !== undefined;
  }

  get size(): number {
    return this.#entries.length;
  }

  oldest(): RingEntry | undefined {
    return this.#entries[this.#start];
  }

  last(): RingEntry | undefined {
    if (this.#entries.length === 0) return undefined;
    return this.#entries[(this.#start + this.#entries.length - 1) % this.#entries.length];
  }

  /** Every entry, oldest first. */
  all(): RingEntry[] {
    return Array.from(
      { length: this.#entries.length },
      (_, i) => this.#entries[(this.#start + i) % this.#entries.length]!,
    );
  }

  /** Entries with an offset greater than `after`, and whether some may have been evicted. */
  since(after: string): { entries: RingEntry[]; gap: boolean } {
    const out: RingEntry[] = [];
    for (let i = 0; i < this.#entries.length; i++) {
      const e = this.#entries[(this.#start + i) % this.#entries.length]!;
      if (offsetGreater(e.offset, after)) out.push(e);
    }
    const gap = this.#lastEvicted !== undefined && offsetGreater(this.#lastEvicted, after);
    return { entries: out, gap };
  }
}
