import type { ParseArgsConfig } from 'node:util';

/** Which cores the bench's worker processes run on. */
export interface Pinning {
  used: boolean;
  /** The core for the server under test, and the one for the load generator. */
  serverCpu?: number;
  loadCpu?: number;
  /** Why pinning was not used, when it was not. */
  reason?: string;
}

export type OptionValues = Record<string, string | boolean | undefined>;

export interface SuiteContext {
  pinning: Pinning;
  /** The suite's command-line options, parsed (strings as given). */
  options: OptionValues;
  /** Progress on stderr, so stdout keeps only the table. */
  log(message: string): void;
}

export interface SuiteOutcome {
  /** Goes into the report under `suites[name]`: plain JSON. */
  report: Record<string, unknown>;
  /** Lines printed after the run. */
  table: string[];
}

/** One named benchmark. To add one: write a module exporting a Suite and list it in run.ts. */
export interface Suite {
  name: string;
  description: string;
  /** Command-line options the suite understands, as for util.parseArgs. */
  options: NonNullable<ParseArgsConfig['options']>;
  run(ctx: SuiteContext): Promise<SuiteOutcome>;
}
