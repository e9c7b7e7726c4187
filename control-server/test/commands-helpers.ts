// Shared by the fleet command and policy tests: a control server on a clock the test moves, the
// control messages it publishes (verified), and records as a gateway writes them.
import type { Test } from 'tap';
import {
  KeyRing,
  TOPICS,
  exportPublicKey,
  verifyControl,
  type Bus,
  type CommandAck,
  type Control,
  type Signer,
} from '@appliance/protocol';
import { telemetryFrame, waitFor } from '@appliance/test-kit';
import type { ControlServerOptions } from '../src/index.js';
import { setup } from './helpers.js';

export async function clockedSetup(t: Test, options: Partial<ControlServerOptions> = {}) {
  const clock = { now: Date.now() };
  const s = await setup(t, { now: () => clock.now, heartbeatIntervalMs: 3_600_000, ...options });
  const seen = await controlMessages(s.bus, s.signer, () => clock.now);
  return { ...s, clock, seen };
}

/** Every control message on the bus from the earliest, verified with the server's key. */
export async function controlMessages(bus: Bus, signer: Signer, now: () => number): Promise<Control[]> {
  const seen: Control[] = [];
  const keys = KeyRing.of(exportPublicKey(signer.publicKey));
  const sub = await bus.subscribe({
    topic: TOPICS.control,
    from: 'earliest',
    onMessage: (m) => void seen.push(verifyControl(JSON.parse(m.value.toString()), keys, { now: now() })),
  });
  await sub.ready;
  await waitFor(() => seen.some((c) => c.kind === 'heartbeat'), 'the start-up control messages');
  return seen;
}

export const fleetMessages = (seen: Control[]) => seen.flatMap((c) => (c.kind === 'fleet' ? [c.body] : []));

const STAMP = { gateway: 'gw-1', remote: '10.8.0.2' };

/** A device's telemetry as the gateway writes it (the device is then online). */
export async function reportTelemetry(
  bus: Bus,
  deviceId: string,
  scope: string,
  receivedAt: number,
  over = {},
) {
  const record = { ...telemetryFrame(deviceId, over), ...STAMP, scope, receivedAt };
  await bus.publish(TOPICS.telemetry, [{ key: deviceId, value: JSON.stringify(record) }]);
}

/** A device's command acknowledgement as the gateway writes it. */
export async function reportAck(
  bus: Bus,
  deviceId: string,
  scope: string,
  seq: number,
  ack: CommandAck,
  receivedAt = Date.now(),
) {
  const record = { type: 'command-ack', deviceId, seq, ack, ...STAMP, scope, receivedAt };
  await bus.publish(TOPICS.telemetry, [{ key: deviceId, value: JSON.stringify(record) }]);
}
