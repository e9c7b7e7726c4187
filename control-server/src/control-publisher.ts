import type { Logger } from 'pino';
import { TOPICS, createControl, type Bus, type Control, type Signer } from '@appliance/protocol';
import type { BreakerBody } from './breaker-service.js';
import type { FleetBody } from './command-service.js';
import type { PolicyInForce } from './policy-service.js';

export interface ControlPublisherOptions {
  bus: Bus;
  signer: Signer;
  logger: Logger;
  now: () => number;
  origin: string;
  /** Streams and the symbols eligible on each (with why, and the simulator run, when known). */
  eligibility: Record<string, string[] | EligibilityState>;
  /**
   * Spending policy per profile (`family`, `beta`, `mandate:<id>`, `house`): the version in force
   * and its content (trading-core's CentralPolicy), published with `version`. A bare policy (no
   * version) is published without one, as control servers before versioned policies did.
   */
  policies: Record<string, PolicyInForce | Record<string, unknown>>;
  /**
   * Every fleet target's message as of now (the command service's `fleetBodies`), re-issued with
   * each heartbeat so a device that reconnects gets its targets' unexpired commands. None: no
   * fleet messages.
   */
  fleet?: () => FleetBody[];
  /** Devices whose credentials are withdrawn, at start. */
  revoked?: string[];
  /**
   * Device keys (key ids) retired by a rotation whose overlap has ended, asked at each
   * revocation publish (every refresh): published as the revocation message's `keys`.
   */
  revokedKeys?: () => string[];
  /** The breaker's state at start (its overrides are known before anything is published). */
  breaker?: BreakerBody;
  heartbeatIntervalMs: number;
  /** Validity of each control message; heartbeats must arrive well within it. */
  ttlMs: number;
}

/** What one stream's eligibility message says: the symbols, and optionally why and from which run. */
export interface EligibilityState {
  symbols: string[];
  reasons?: Record<string, string>;
  run?: { id: string; at: number };
}

export const NO_ELIGIBILITY_WARNING =
  'no asset is eligible: every device refuses every buy (sells still go through). Give the control server --eligibility STREAM=SYMBOL,... (CONTROL_ELIGIBILITY) until the simulator provides eligibility.';

/**
 * Publishes the signed control state: breaker level, eligibility per stream, spending policies,
 * fleet commands, revocations and heartbeats (the dead-man switch). Versions are the issue time in ms, so they only grow, even across
 * restarts of the control server.
 */
export class ControlPublisher {
  #breaker: BreakerBody = { level: 'normal', multiplier: 1, reason: 'start-up' };
  #timer: NodeJS.Timeout | undefined;
  #lastVersion = 0;
  #revoked: string[] = [];
  #eligibility = new Map<string, EligibilityState>();
  #policies = new Map<string, { version?: number; policy: Record<string, unknown> }>();

  constructor(private readonly o: ControlPublisherOptions) {
    this.#revoked = [...(o.revoked ?? [])];
    for (const [profile, p] of Object.entries(o.policies))
      this.#policies.set(profile, isInForce(p) ? { version: p.version, policy: p.policy } : { policy: p });
    if (o.breaker) this.#breaker = o.breaker;
    for (const [stream, state] of Object.entries(o.eligibility))
      this.#eligibility.set(stream, Array.isArray(state) ? { symbols: [...state] } : state);
  }

  #version(): number {
    this.#lastVersion = Math.max(this.#lastVersion + 1, this.o.now());
    return this.#lastVersion;
  }

  async start(): Promise<void> {
    await this.refresh();
    this.#timer = setInterval(() => {
      this.refresh().catch((err: unknown) => this.o.logger.error({ err }, 'control publish failed'));
    }, this.o.heartbeatIntervalMs);
    this.#timer.unref();
  }

  /**
   * Re-issues the whole control state with a fresh validity window, then a heartbeat. Every
   * message expires (ttl); re-issuing it with each heartbeat means a device connecting at any
   * time gets state that is still valid, and a silent control server fails safe everywhere.
   */
  async refresh(): Promise<void> {
    await this.publishBreaker(this.#breaker);
    for (const [stream, state] of this.#eligibility)
      await this.publishEligibility(stream, state.symbols, state);
    await this.#publishRevocation();
    for (const [profile, p] of this.#policies) await this.#publishPolicy(profile, p);
    await this.publishFleet();
    await this.heartbeat();
  }

  /** Publishes a profile's policy version now in force; kept, so every refresh re-issues it. */
  async publishPolicy(profile: string, p: PolicyInForce): Promise<void> {
    this.#policies.set(profile, { version: p.version, policy: p.policy });
    await this.#publishPolicy(profile, p);
  }

  async #publishPolicy(profile: string, p: { version?: number; policy: Record<string, unknown> }) {
    const body = { profile, policy: p.policy, ...(p.version !== undefined && { version: p.version }) };
    await this.#publish(`policy:${profile}`, { kind: 'policy', body });
  }

  /** Publishes every fleet target's message (key `fleet:<target>`) as the command service has it now. */
  async publishFleet(): Promise<void> {
    for (const body of this.o.fleet?.() ?? [])
      await this.#publish(`fleet:${body.target}`, { kind: 'fleet', body });
  }

  /** The breaker's whole state, market and assets, in one message (see the protocol's schema). */
  async publishBreaker(b: BreakerBody): Promise<void> {
    this.#breaker = b;
    await this.#publish('breaker', { kind: 'breaker', body: b });
  }

  /**
   * What devices may buy, per stream, and, when nothing is, why every buy is refused: a device
   * buys only symbols a fresh eligibility message names for the signal's stream, so a control
   * server without eligibility is safe but silent. Shown in the fleet view until there is some.
   */
  get eligibility(): { streams: Record<string, string[]>; warning: string | null } {
    const streams = Object.fromEntries([...this.#eligibility].map(([k, v]) => [k, [...v.symbols]]));
    const any = Object.values(streams).some((symbols) => symbols.length > 0);
    return { streams, warning: any ? null : NO_ELIGIBILITY_WARNING };
  }

  /**
   * Publishes a stream's eligible symbols; `explain` adds why (per symbol) and the simulator run
   * they came from. Kept, so every refresh re-issues the same body with a fresh window.
   */
  async publishEligibility(
    stream: string,
    symbols: string[],
    explain: Pick<EligibilityState, 'reasons' | 'run'> = {},
  ): Promise<void> {
    const state: EligibilityState = {
      symbols: [...symbols],
      ...(explain.reasons && { reasons: { ...explain.reasons } }),
      ...(explain.run && { run: { ...explain.run } }),
    };
    this.#eligibility.set(stream, state);
    await this.#publish(`eligibility:${stream}`, { kind: 'eligibility', body: { stream, ...state } });
  }

  /** Publishes the complete revocation list at once (gateways disconnect those devices). */
  async publishRevocations(devices: string[]): Promise<void> {
    this.#revoked = [...devices];
    await this.#publishRevocation();
  }

  /** `{devices, keys}`: `keys` (retired device keys) only when there are some. */
  async #publishRevocation(): Promise<void> {
    const keys = this.o.revokedKeys?.() ?? [];
    const body = { devices: this.#revoked, ...(keys.length > 0 && { keys }) };
    await this.#publish('revocation', { kind: 'revocation', body });
  }

  async heartbeat(): Promise<void> {
    await this.#publish('heartbeat', { kind: 'heartbeat', body: {} });
  }

  async #publish(key: string, part: { kind: Control['kind']; body: object }): Promise<void> {
    const msg = createControl(
      {
        ...part,
        version: this.#version(),
        ts: this.o.now(),
        ttlMs: this.o.ttlMs,
        origin: this.o.origin,
      } as never,
      this.o.signer,
    );
    await this.o.bus.publish(TOPICS.control, [{ key, value: JSON.stringify(msg) }]);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

function isInForce(p: PolicyInForce | Record<string, unknown>): p is PolicyInForce {
  return typeof p.version === 'number' && typeof p.policy === 'object' && p.policy !== null;
}
