import type { Logger } from 'pino';
import type { Telemetry } from '@appliance/protocol';
import { localTime } from '@appliance/trading-core';
import type { ClientConfig } from './config.js';
import type { Holdings } from './holdings.js';
import type { ClientState } from './state.js';

/** Problems a person should see: the `errors` of telemetry (the last 20, each cut to 300 chars). */
export interface ErrorList {
  /** Keeps a problem the caller has already logged. */
  record(text: string): void;
  /** Logs a failure at error level and keeps it. */
  note(what: string, err: unknown): void;
  recent(n: number): string[];
}

export function createErrorList(logger: Logger): ErrorList {
  const errors: string[] = [];

  function record(text: string): void {
    errors.push(text.slice(0, 300));
    if (errors.length > 20) errors.shift();
  }

  return {
    record,
    note(what, err) {
      record(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      logger.error({ err: err instanceof Error ? err.message : String(err) }, what);
    },
    recent: (n) => errors.slice(-n),
  };
}

export interface TelemetryDeps {
  config: Pick<ClientConfig, 'deviceId' | 'quote' | 'settings'>;
  state: ClientState;
  holdings: Holdings;
  errors: ErrorList;
  now: () => number;
  /** Sends a frame on the gateway connection (dropped when it is not open). */
  send: (frame: Telemetry) => void;
  /** The spending policy in force: its profile and version (null: none, or one without a version). */
  policy?: () => Telemetry['policy'];
}

/**
 * The device's `telemetry` frame: holdings valued at marks, today's spend, recent decisions and
 * errors, and the policy version in force.
 */
export function createTelemetry(deps: TelemetryDeps): { send(): void } {
  const { config, state, holdings, errors, now } = deps;

  function spentToday(t: number): number {
    const day = localTime(t, config.settings.timeZone).day;
    return state.spends
      .filter((x) => localTime(x.ts, config.settings.timeZone).day === day)
      .reduce((sum, x) => sum + x.quote, 0);
  }

  function send(): void {
    const balances = holdings.balances();
    const positions: Record<string, number> = {};
    let equity = balances.total[config.quote] ?? 0;
    for (const [asset, qty] of Object.entries(balances.total)) {
      if (asset === config.quote || !(qty > 0)) continue;
      positions[asset] = qty;
      equity += qty * (holdings.marks.get(`${asset}/${config.quote}`) ?? 0);
    }
    const frame: Telemetry = {
      type: 'telemetry',
      deviceId: config.deviceId,
      ts: now(),
      quote: config.quote,
      equity,
      cash: balances.free[config.quote] ?? 0,
      positions,
      spendToday: spentToday(now()),
      fills: state.fills,
      lastDecisions: state.decisions.slice(-10),
      errors: errors.recent(10),
      policy: deps.policy?.() ?? null,
    };
    deps.send(frame);
  }

  return { send };
}
