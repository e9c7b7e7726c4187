/**
 * Which breaker level applies to one symbol. The market's level applies to every asset; an asset
 * the breaker names in `assets` has a level of its own as well, and then the STRICTER of the two
 * applies (halt > caution > normal) with the SMALLER multiplier. A multiplier counts only at
 * `caution` (a level's multiplier is 1 at `normal` and 0 at `halt`, whatever was sent).
 */
import type { AssetBreakerState, BreakerState } from './types.js';

type Level = BreakerState['level'];

/** What applies to a buy of one symbol, and whose level it is. */
export interface EffectiveBreaker {
  level: Level;
  /** 0..1: 1 at `normal`, 0 at `halt`, the smaller of the two scopes' multipliers at `caution`. */
  multiplier: number;
  /** Why, as sent ('' when none was): the reason of the scope that set the level, or both. */
  reason: string;
  /** `'market'`: the market's level decides; `'asset'`: the asset's own; `'both'`: as strict as each other. */
  scope: 'market' | 'asset' | 'both';
}

const RANK: Readonly<Record<Level, number>> = { normal: 0, caution: 1, halt: 2 };

/** A level's multiplier as it applies to sizes. */
function applied(s: { level: Level; multiplier: number }): number {
  return s.level === 'halt' ? 0 : s.level === 'caution' ? s.multiplier : 1;
}

/** The asset's own level, if the breaker names `symbol` (own keys only). */
function assetLevel(breaker: BreakerState, symbol: string): AssetBreakerState | undefined {
  const assets = breaker.assets;
  return assets && Object.hasOwn(assets, symbol) ? assets[symbol] : undefined;
}

export function breakerFor(breaker: BreakerState, symbol: string): EffectiveBreaker {
  const market = { level: breaker.level, multiplier: applied(breaker), reason: breaker.reason ?? '' };
  const own = assetLevel(breaker, symbol);
  if (!own) return { ...market, scope: 'market' };
  const asset = { level: own.level, multiplier: applied(own), reason: own.reason ?? '' };
  const stricter = RANK[asset.level] - RANK[market.level] || market.multiplier - asset.multiplier;
  if (stricter > 0) return { ...asset, scope: 'asset' };
  if (stricter < 0) return { ...market, scope: 'market' };
  const reasons = [...new Set([market.reason, asset.reason].filter((r) => r !== ''))];
  return { ...market, reason: reasons.join('; '), scope: 'both' };
}
