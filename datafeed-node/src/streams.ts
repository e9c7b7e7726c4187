import type { Strategy } from '@appliance/trading-core';
import { FeedError } from './errors.js';

/** One algorithm a datafeed runs: its own stream, strategy and virtual portfolio. */
export interface FeedStream {
  /** Stream its signals are published on, e.g. `ema-cross.1h`. */
  stream: string;
  /** A fresh strategy: one is made for each symbol the stream trades. */
  strategy: () => Strategy;
  /** The symbols it trades; default: every symbol fed to the datafeed. */
  symbols?: readonly string[];
}

/** A stream checked against the symbols fed, with a strategy made for each symbol it trades. */
export interface PlannedStream {
  stream: string;
  strategies: Map<string, Strategy>;
}

/**
 * Makes each stream's strategies and checks that the streams can run on the symbols fed: stream
 * names unique, every symbol a stream trades fed, and every symbol a strategy reads as an input
 * fed too (a strategy waiting for a leader that never comes would trade on half its data).
 * Throws FeedError E_STREAMS naming the stream and the symbol.
 */
export function planStreams(streams: readonly FeedStream[], fed: readonly string[]): PlannedStream[] {
  if (streams.length === 0) throw new FeedError('E_STREAMS', 'no streams to run');
  const names = new Set<string>();
  const feeding = `fed: ${fed.join(', ')}`;
  return streams.map((s) => {
    if (names.has(s.stream)) throw new FeedError('E_STREAMS', `stream ${s.stream} is named twice`);
    names.add(s.stream);
    const traded = s.symbols ?? fed;
    if (traded.length === 0) throw new FeedError('E_STREAMS', `stream ${s.stream} trades no symbol`);
    const strategies = new Map<string, Strategy>();
    for (const symbol of traded) {
      if (!fed.includes(symbol))
        throw new FeedError(
          'E_STREAMS',
          `stream ${s.stream} trades ${symbol}, which is not fed to the datafeed (${feeding})`,
        );
      if (strategies.has(symbol))
        throw new FeedError('E_STREAMS', `stream ${s.stream} names ${symbol} twice`);
      const strategy = s.strategy();
      for (const input of strategy.inputs ?? [])
        if (!fed.includes(input))
          throw new FeedError(
            'E_STREAMS',
            `stream ${s.stream}: ${strategy.name} on ${symbol} reads ${input}, which is not fed to the datafeed (${feeding}); replay its file or add it to the live symbols`,
          );
      strategies.set(symbol, strategy);
    }
    return { stream: s.stream, strategies };
  });
}

/**
 * How a caller names what a datafeed runs: `stream` and `strategy` for one algorithm (as before
 * streams existed), or `streams` for several. One shape rather than a union, so that callers
 * spreading shared options keep their callbacks typed; `streamsOf` refuses a mix.
 */
export interface StreamChoice {
  stream?: string;
  strategy?: () => Strategy;
  streams?: readonly FeedStream[];
}

/** The streams `o` names; a TypeError (a bug in the caller) for a mix of both ways, or neither. */
export function streamsOf(o: StreamChoice): readonly FeedStream[] {
  if (o.streams !== undefined) {
    if (o.stream !== undefined || o.strategy !== undefined)
      throw new TypeError('give streams, or stream and strategy, not both');
    return o.streams;
  }
  if (o.stream === undefined || o.strategy === undefined)
    throw new TypeError('give stream and strategy, or streams');
  return [{ stream: o.stream, strategy: o.strategy }];
}
