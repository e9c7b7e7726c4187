import type { Suite } from './suite.js';

/**
 * Every suite, in run order, each loaded only when asked for: `npm run bench` runs each suite in
 * a process of its own (`suite-worker.ts`), which loads that one suite's modules and nothing else.
 * A new benchmark is one more module and one more entry here.
 */
export const SUITES: readonly { name: string; load: () => Promise<Suite> }[] = [
  { name: 'fanout', load: async () => (await import('./fanout.js')).fanoutSuite },
  { name: 'client', load: async () => (await import('./client-decide.js')).clientDecideSuite },
  { name: 'intent-write', load: async () => (await import('./intent-write.js')).intentWriteSuite },
  { name: 'scale', load: async () => (await import('./scale.js')).scaleSuite },
  { name: 'processes', load: async () => (await import('./processes.js')).processesSuite },
  { name: 'csv', load: async () => (await import('./csv.js')).csvSuite },
  { name: 'backtest', load: async () => (await import('./backtest.js')).backtestSuite },
  { name: 'simulator', load: async () => (await import('./simulator.js')).simulatorSuite },
  { name: 'order-book', load: async () => (await import('./order-book.js')).orderBookSuite },
  { name: 'indicators', load: async () => (await import('./indicators.js')).indicatorsSuite },
  { name: 'wireguard', load: async () => (await import('./wireguard.js')).wireguardSuite },
  { name: 'tunnel', load: async () => (await import('./tunnel.js')).tunnelSuite },
];

/** The suite named `name`, loaded; throws naming the suites there are. */
export async function loadSuite(name: string): Promise<Suite> {
  const entry = SUITES.find((s) => s.name === name);
  if (entry === undefined)
    throw new Error(`no suite ${name} (there are: ${SUITES.map((s) => s.name).join(', ')})`);
  const suite = await entry.load();
  if (suite.name !== name) throw new Error(`bench/suites.ts: ${name} loads suite ${suite.name}`);
  return suite;
}
