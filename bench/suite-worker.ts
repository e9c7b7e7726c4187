/**
 * One benchmark suite in a process of its own, started by `run.ts` for each suite it runs: it
 * loads that suite's modules alone and answers one `run` call.
 *
 * Why a process per suite: a suite measured in the process where others ran before it measures
 * their leftovers too. The backtest's figures fell by a quarter to a third, its hand-written peer's
 * alike, merely from the simulator suite's modules having been imported into the same process
 * (docs/benchmarks.md); so each figure is now taken in a process that has run nothing else.
 */
import { serve } from './ipc.js';
import type { Pinning, OptionValues, SuiteOutcome } from './suite.js';
import { loadSuite } from './suites.js';

export interface SuiteRun {
  name: string;
  pinning: Pinning;
  options: OptionValues;
}

serve({
  async run({ name, pinning, options }: SuiteRun): Promise<SuiteOutcome> {
    const suite = await loadSuite(name);
    return suite.run({ pinning, options, log: (message) => process.stderr.write(`${message}\n`) });
  },
});
