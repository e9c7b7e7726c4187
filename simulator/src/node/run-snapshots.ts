import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CSV_HEADER } from '@appliance/datafeed-node';
import type { CandleStore } from './candle-store.js';
import type { JobUnit } from './job-record.js';

/** Run folders (candle snapshots) kept besides the newest; older ones are removed. */
const KEEP_RUN_DIRS = 3;

/**
 * A node's candle snapshots: the CSV files its worker threads read, one folder per run under
 * `<dataDir>/runs`, written from its store.
 */
export class RunSnapshots {
  readonly #store: CandleStore;
  readonly #dataDir: string;
  readonly #snapshots = new Map<string, Promise<string>>();

  constructor(store: CandleStore, dataDir: string) {
    this.#store = store;
    this.#dataDir = dataDir;
  }

  /** The CSV of this node's candles of a series before the run's end, written once per run. */
  forUnit(unit: JobUnit, symbol: string, timeframe: string): Promise<string> {
    const dir = join(this.#dataDir, 'runs', unit.runId);
    const path = join(dir, fileName(symbol, timeframe));
    let made = this.#snapshots.get(path);
    if (!made) {
      const isNewRun = ![...this.#snapshots.keys()].some((p) => p.startsWith(`${dir}/`));
      made = (async () => {
        await mkdir(dir, { recursive: true });
        if (isNewRun) await this.#pruneRunDirs(unit.runId);
        return this.write(path, symbol, timeframe, unit.end);
      })();
      made.catch(() => this.#snapshots.delete(path));
      this.#snapshots.set(path, made);
    }
    return made;
  }

  /** Writes the CSV of a series' candles before `end` (exclusive; Infinity: all) to `path`. */
  async write(path: string, symbol: string, timeframe: string, end: number): Promise<string> {
    const candles = await this.#store.read(symbol, timeframe, Number.isFinite(end) ? { end: end - 1 } : {});
    const rows = candles.map((c) => `${c.time},${c.open},${c.high},${c.low},${c.close},${c.volume}`);
    // Written aside and renamed: a worker never reads a half-written snapshot.
    await writeFile(`${path}.tmp`, `${CSV_HEADER}\n${rows.join('\n')}\n`);
    await rename(`${path}.tmp`, path);
    return path;
  }

  /** Keeps the newest KEEP_RUN_DIRS run folders besides `keep`'s. */
  async #pruneRunDirs(keep: string): Promise<void> {
    const root = join(this.#dataDir, 'runs');
    const dirs = await Promise.all(
      (await readdir(root))
        .filter((d) => d !== keep && !d.startsWith('plan-'))
        .map(async (d) => ({ d, t: (await stat(join(root, d))).mtimeMs })),
    );
    dirs.sort((a, b) => b.t - a.t);
    for (const { d } of dirs.slice(KEEP_RUN_DIRS)) {
      await rm(join(root, d), { recursive: true, force: true });
      for (const p of this.#snapshots.keys())
        if (p.startsWith(`${join(root, d)}/`)) this.#snapshots.delete(p);
    }
  }
}

export function fileName(symbol: string, timeframe: string): string {
  return `${symbol.replace('/', '-')}_${timeframe}.csv`;
}
