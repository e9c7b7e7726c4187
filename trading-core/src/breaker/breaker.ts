import { AssetInputs } from './asset-inputs.js';
import { BreakerError } from './breaker-error.js';
import { parseBreakerConfig, type BreakerConfig, type BreakerConfigInput } from './config.js';
import { MarketInputs } from './market-inputs.js';
import { ScopeMachine } from './scope-machine.js';
import { stricter } from './scope-level.js';
import {
  bad,
  checkBy,
  checkCandle,
  checkNow,
  checkNumber,
  checkOverride,
  checkScope,
  checkSymbol,
  checkVenue,
} from './validate.js';
import { VenueInputs } from './venue-inputs.js';
import {
  MARKET,
  type BreakerEvent,
  type BreakerLevel,
  type BreakerScope,
  type BreakerSnapshot,
  type CandleReading,
  type ScopeLevel,
  type VenueReading,
} from './types.js';

/**
 * The adaptive circuit breaker: a pure state machine over candles, venue reports, the house
 * portfolio's equity and the quote stablecoin's peg. Every call takes `now`, checks its input
 * before changing anything (a call that throws a BreakerError changed nothing), expires
 * overrides, takes the input, settles every scope (trips at once; only `tick` eases) and returns
 * the events of that call.
 */
export class Breaker {
  readonly config: BreakerConfig;
  readonly #market: ScopeMachine;
  /** Asset scopes (from candles, or an override on a symbol), in order of arrival. */
  readonly #scopes = new Map<string, ScopeMachine>();
  readonly #assets = new Map<string, AssetInputs>();
  readonly #venues = new Map<string, VenueInputs>();
  readonly #marketInputs: MarketInputs;

  constructor(config?: BreakerConfigInput) {
    this.config = parseBreakerConfig(config);
    this.#market = new ScopeMachine(MARKET, this.config);
    this.#marketInputs = new MarketInputs(this.config);
  }

  candle(c: CandleReading, now: number): BreakerEvent[] {
    checkNow(now);
    checkCandle(c);
    const known = this.#assets.get(c.symbol);
    if (known?.lastBar != null && c.time <= known.lastBar)
      bad(`${c.symbol}: bar at ${c.time} is not after the last one taken (${known.lastBar})`);
    if (!this.#scopes.has(c.symbol)) this.#roomForAsset();
    const events = this.#expire(now);
    const asset = known ?? new AssetInputs(c.symbol, this.config);
    this.#assets.set(c.symbol, asset);
    const scope = this.#scope(c.symbol);
    for (const r of asset.onCandle(c, now)) scope.setReading(r.input, r);
    const breadth = this.#marketInputs.breadth(c.time, this.#assets.values());
    if (breadth) this.#market.setReading('breadth', breadth);
    this.#marketStale();
    return this.#settle(now, events);
  }

  venue(r: VenueReading, now: number): BreakerEvent[] {
    checkNow(now);
    checkVenue(r);
    if (!this.#venues.has(r.venue) && this.#venues.size >= this.config.maxVenues)
      bad(`venue ${r.venue}: too many venues (maxVenues ${this.config.maxVenues})`);
    const events = this.#expire(now);
    let v = this.#venues.get(r.venue);
    if (!v) this.#venues.set(r.venue, (v = new VenueInputs(r.venue, this.config)));
    for (const reading of v.onReport(r, now)) this.#market.setReading(`${reading.input}|${r.venue}`, reading);
    return this.#settle(now, events);
  }

  houseEquity(equity: number, now: number): BreakerEvent[] {
    checkNow(now);
    checkNumber('equity', equity, 0, false);
    const events = this.#expire(now);
    this.#market.setReading('drawdown', this.#marketInputs.drawdown(equity));
    return this.#settle(now, events);
  }

  peg(price: number, now: number): BreakerEvent[] {
    checkNow(now);
    checkNumber('peg price', price, 0, true);
    const events = this.#expire(now);
    this.#market.setReading('peg', this.#marketInputs.peg(price));
    return this.#settle(now, events);
  }

  /** Time passes: staleness of every asset, silence of every venue, override expiry, and easing (only here). */
  tick(now: number): BreakerEvent[] {
    checkNow(now);
    const events = this.#expire(now);
    for (const a of this.#assets.values()) {
      const r = a.refreshStale(now);
      this.#scope(a.symbol).setReading('stale', r);
    }
    this.#marketStale();
    for (const v of this.#venues.values()) this.#market.setReading(`venue-silent|${v.name}`, v.silent(now));
    return this.#settle(now, events, true);
  }

  setOverride(
    scope: BreakerScope,
    o: { level: BreakerLevel; reason: string; by: string; expiresAt?: number | null },
    now: number,
  ): BreakerEvent[] {
    checkNow(now);
    checkScope(scope);
    checkOverride(o, now);
    if (scope !== MARKET && !this.#scopes.has(scope)) this.#roomForAsset();
    const events = this.#expire(now);
    const override = {
      level: o.level,
      reason: o.reason,
      by: o.by,
      setAt: now,
      expiresAt: o.expiresAt ?? null,
    };
    this.#scope(scope).override = override;
    events.push({ type: 'OverrideSet', at: now, scope, override: { ...override } });
    return this.#settle(now, events);
  }

  clearOverride(scope: BreakerScope, by: string, now: number): BreakerEvent[] {
    checkNow(now);
    checkScope(scope);
    checkBy(by);
    const o = this.#scopeIfAny(scope)?.override;
    if (!o || (o.expiresAt !== null && o.expiresAt <= now))
      throw new BreakerError('E_NO_OVERRIDE', `no override on ${scope}`);
    const events = this.#expire(now);
    this.#scope(scope).override = null;
    events.push({ type: 'OverrideCleared', at: now, scope, by, expired: false });
    return this.#settle(now, events);
  }

  /** The scope's own effective level (override with automatic); an unknown asset is normal. */
  level(scope: BreakerScope): ScopeLevel {
    checkScope(scope);
    const s = this.#scopeIfAny(scope);
    if (s) return s.level();
    return new ScopeMachine(scope, this.config).level();
  }

  /** What a device applies to a buy of `symbol`: the stricter of the market's and the asset's level. */
  effective(symbol: string): ScopeLevel {
    checkSymbol(symbol);
    return stricter(this.level(MARKET), this.level(symbol));
  }

  snapshot(): BreakerSnapshot {
    const assets: BreakerSnapshot['assets'] = {};
    for (const [symbol, s] of this.#scopes) assets[symbol] = s.state();
    return { market: this.#market.state(), assets };
  }

  #scopeIfAny(scope: string): ScopeMachine | undefined {
    return scope === MARKET ? this.#market : this.#scopes.get(scope);
  }

  #scope(scope: string): ScopeMachine {
    let s = this.#scopeIfAny(scope);
    if (!s) this.#scopes.set(scope, (s = new ScopeMachine(scope, this.config)));
    return s;
  }

  #roomForAsset(): void {
    if (this.#scopes.size >= this.config.maxAssets)
      bad(`too many assets: at most ${this.config.maxAssets} (maxAssets)`);
  }

  #marketStale(): void {
    const r = this.#marketInputs.stale([...this.#assets.values()]);
    if (r) this.#market.setReading('stale', r);
  }

  /** Removes every override whose time has come. */
  #expire(now: number): BreakerEvent[] {
    const events: BreakerEvent[] = [];
    for (const s of [this.#market, ...this.#scopes.values()]) {
      const e = s.override?.expiresAt;
      if (e != null && e <= now) {
        s.override = null;
        events.push({ type: 'OverrideCleared', at: now, scope: s.scope, by: null, expired: true });
      }
    }
    return events;
  }

  /** Settles every scope; only `tick()` may ease one (see ScopeMachine.settle). */
  #settle(now: number, events: BreakerEvent[], canEase = false): BreakerEvent[] {
    this.#market.settle(now, events, canEase);
    for (const s of this.#scopes.values()) s.settle(now, events, canEase);
    return events;
  }
}

export { stricter };
