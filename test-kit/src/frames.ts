import type { Telemetry } from '@appliance/protocol';

/** A valid telemetry frame for `deviceId`, with `over` replacing any field. */
export function telemetryFrame(deviceId: string, over: Partial<Telemetry> = {}): Telemetry {
  return {
    type: 'telemetry',
    deviceId,
    ts: 1,
    quote: 'USDT',
    equity: 1,
    cash: 1,
    positions: {},
    spendToday: 0,
    fills: 0,
    lastDecisions: [],
    errors: [],
    ...over,
  };
}
