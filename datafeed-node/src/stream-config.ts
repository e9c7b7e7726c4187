import type { ConfigError, ValueSource } from '@appliance/runtime';
import { StrategyError, createStrategy, strategyParams } from '@appliance/trading-core';
import { FeedError } from './errors.js';
import { planStreams, type FeedStream } from './streams.js';

/** The strategy a datafeed runs when none is named: the one `ema-cross.1h` has always carried. */
export const DEFAULT_STRATEGY = 'ema-cross-volume';
export const DEFAULT_STREAM = 'ema-cross.1h';

/** One entry of the `streams` option. */
export interface StreamEntry {
  stream: string;
  strategy: string;
  params?: Record<string, unknown>;
  symbols?: string[];
}

export interface StreamOptions {
  stream: string;
  strategy: string;
  params?: Record<string, unknown>;
  streams?: StreamEntry[];
}

const ONE_STREAM = { stream: '--stream', strategy: '--strategy', params: '--params' } as const;

/**
 * The streams the options name, each strategy found by name and its params checked by the
 * registry, then the whole checked against the symbols fed (`planStreams`), so that every such
 * problem stops the process at start (exit 2) instead of when the first candle comes. `problem`
 * is the shell's: it names the option, its flag and its variable.
 */
export function configuredStreams(
  c: StreamOptions,
  source: Record<string, ValueSource>,
  fed: { symbols: string[]; key: 'replay' | 'symbols' },
  problem: (key: string, text: string) => ConfigError,
): FeedStream[] {
  if (c.streams !== undefined) {
    const set = Object.entries(ONE_STREAM)
      .filter(([key]) => source[key] !== 'default')
      .map(([, flag]) => flag);
    if (set.length > 0)
      throw problem(
        'streams',
        `each stream names its own strategy and params: leave --stream, --strategy and --params unset (set: ${set.join(', ')})`,
      );
  }
  const entries = c.streams ?? [{ stream: c.stream, strategy: c.strategy, params: c.params }];
  const streams = entries.map((e): FeedStream => {
    let params;
    try {
      params = strategyParams(e.strategy, e.params);
    } catch (err) {
      if (!(err instanceof StrategyError)) throw err;
      const text = `${err.code}: ${err.message}`;
      if (c.streams !== undefined) throw problem('streams', `stream ${e.stream}: ${text}`);
      throw problem(err.code === 'E_UNKNOWN_STRATEGY' ? 'strategy' : 'params', text);
    }
    return {
      stream: e.stream,
      strategy: () => createStrategy(e.strategy, params),
      ...(e.symbols ? { symbols: e.symbols } : {}),
    };
  });
  if (c.streams === undefined && c.strategy !== DEFAULT_STRATEGY && source['stream'] === 'default')
    // Devices follow streams by name: another algorithm must not turn up under this one's.
    throw problem(
      'stream',
      `--strategy ${c.strategy} needs a stream of its own: the default ${DEFAULT_STREAM} carries ${DEFAULT_STRATEGY}`,
    );
  try {
    planStreams(streams, fed.symbols);
  } catch (err) {
    if (!(err instanceof FeedError)) throw err;
    throw problem(c.streams !== undefined ? 'streams' : fed.key, `${err.code}: ${err.message}`);
  }
  return streams;
}
