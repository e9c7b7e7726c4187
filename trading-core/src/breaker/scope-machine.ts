import type { BreakerConfig } from './config.js';
import { duration, truncate } from './reasons.js';
import { multiplierOf } from './scope-level.js';
import { bySeverity, thresholdOf } from './thresholds.js';
import {
  LEVEL_RANK,
  type BreakerEvent,
  type BreakerLevel,
  type BreakerOverride,
  type InputReading,
  type ScopeLevel,
  type ScopeState,
} from './types.js';

const DOWN: Record<BreakerLevel, BreakerLevel> = { halt: 'caution', caution: 'normal', normal: 'normal' };
const NORMAL_CALM = 'normal: no input near its threshold';

/**
 * One scope (the market or an asset): its inputs' latest readings, the automatic level they
 * drive with hysteresis and cool-down, an operator's override, and the effective level (the
 * stricter of the two) whose every change is an event.
 */
export class ScopeMachine {
  readonly scope: string;
  readonly #cfg: BreakerConfig;
  /** Latest reading per input (and per venue for venue inputs). */
  readonly #readings = new Map<string, InputReading>();
  #automatic: BreakerLevel = 'normal';
  /** The last moment an input held the automatic level, or it tripped or stepped down. */
  #lastHold = 0;
  /** What held the automatic level the last time something did. */
  #holdText = '';
  override: BreakerOverride | null = null;
  #effective: BreakerLevel = 'normal';
  #since: number | null = null;

  constructor(scope: string, cfg: BreakerConfig) {
    this.scope = scope;
    this.#cfg = cfg;
  }

  setReading(key: string, r: InputReading): void {
    this.#readings.set(key, r);
  }

  readings(): InputReading[] {
    return [...this.#readings.values()].sort(bySeverity);
  }

  /** Readings that still hold `level` (value ≥ easeRatio × its threshold). */
  #holders(level: BreakerLevel): InputReading[] {
    if (level === 'normal') return [];
    return this.readings().filter(
      (r) =>
        Math.abs(r.value) >= this.#cfg.easeRatio * thresholdOf(r, level) ||
        LEVEL_RANK[r.wants] >= LEVEL_RANK[level],
    );
  }

  /** Moves the automatic level (trip at once, ease one step per cool-down) and reports any change of the effective level. */
  /**
   * Trips at once; eases (one step, after the cool-down) only when `canEase`, which the breaker
   * passes from `tick()` alone: an input arriving for another scope must not ease this one a
   * moment before this scope's own input for the same moment arrives and trips it back.
   */
  settle(now: number, events: BreakerEvent[], canEase: boolean): void {
    const readings = this.readings();
    const top = readings[0]?.wants ?? 'normal';
    let tripInputs: InputReading[] = [];
    if (LEVEL_RANK[top] > LEVEL_RANK[this.#automatic]) {
      this.#automatic = top;
      this.#lastHold = now;
      tripInputs = readings.filter((r) => LEVEL_RANK[r.wants] >= LEVEL_RANK[top]);
      this.#holdText = tripInputs.map((r) => r.text).join('; ');
    } else if (this.#automatic !== 'normal') {
      const holders = this.#holders(this.#automatic);
      if (holders.length > 0) {
        this.#lastHold = Math.max(this.#lastHold, now);
        this.#holdText = holders.map((r) => r.text).join('; ');
      } else if (canEase && now - this.#lastHold >= this.#cfg.coolDownMs) {
        this.#automatic = DOWN[this.#automatic];
        this.#lastHold = Math.max(this.#lastHold, now);
      }
    }
    const to = this.#effectiveLevel();
    const from = this.#effective;
    if (to === from) return;
    this.#effective = to;
    this.#since = now;
    const { multiplier, reason } = this.level();
    const overrideReading = this.#overrideReading();
    if (LEVEL_RANK[to] > LEVEL_RANK[from]) {
      const inputs = LEVEL_RANK[this.#automatic] >= LEVEL_RANK[to] ? tripInputs : [];
      if (inputs.length === 0 && LEVEL_RANK[this.#automatic] >= LEVEL_RANK[to])
        inputs.push(...this.#holders(to));
      if (overrideReading && LEVEL_RANK[overrideReading.wants] >= LEVEL_RANK[to])
        inputs.push(overrideReading);
      events.push({
        type: 'BreakerTripped',
        at: now,
        scope: this.scope,
        from,
        to,
        multiplier,
        reason,
        inputs,
      });
    } else {
      const inputs = overrideReading ? [...readings, overrideReading] : readings;
      events.push({ type: 'BreakerEased', at: now, scope: this.scope, from, to, multiplier, reason, inputs });
    }
  }

  #effectiveLevel(): BreakerLevel {
    const o = this.override?.level ?? 'normal';
    return LEVEL_RANK[o] > LEVEL_RANK[this.#automatic] ? o : this.#automatic;
  }

  #overrideText(): string {
    const o = this.override;
    return o ? `${o.level} set by ${o.by}: ${o.reason}` : '';
  }

  #overrideReading(): InputReading | null {
    const o = this.override;
    if (!o) return null;
    const text = this.#overrideText();
    return {
      input: 'override',
      scope: this.scope,
      value: LEVEL_RANK[o.level],
      caution: 1,
      halt: 2,
      wants: o.level,
      text,
    };
  }

  #automaticReason(): string {
    const holders = this.#holders(this.#automatic);
    if (holders.length > 0) return holders.map((r) => r.text).join('; ');
    return `${this.#holdText} (calm now; eases one step after a ${duration(this.#cfg.coolDownMs)} cool-down)`;
  }

  #normalReason(): string {
    const near = this.readings().find((r) => Math.abs(r.value) >= this.#cfg.easeRatio * r.caution);
    return near ? `normal: nearest its threshold: ${near.text}` : NORMAL_CALM;
  }

  /** The scope's own effective level with its reason. */
  level(): ScopeLevel {
    const level = this.#effectiveLevel();
    const multiplier = multiplierOf(level, this.#cfg.cautionMultiplier);
    if (level === 'normal') return { level, multiplier, reason: truncate(this.#normalReason()) };
    const parts: string[] = [];
    if (this.override && this.override.level === level) parts.push(this.#overrideText());
    if (this.#automatic === level) parts.push(this.#automaticReason());
    return { level, multiplier, reason: truncate(parts.join('; ')) };
  }

  state(): ScopeState {
    return {
      scope: this.scope,
      ...this.level(),
      since: this.#since,
      automatic: this.#automatic,
      override: this.override ? { ...this.override } : null,
      readings: this.readings(),
      easesNoEarlierThan: this.#automatic === 'normal' ? null : this.#lastHold + this.#cfg.coolDownMs,
    };
  }
}
