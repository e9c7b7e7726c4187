/**
 * What the verifying-filter tests share: a control server's and a datafeed's keys, a gateway on a
 * bus, real ws devices, genuine and forged messages.
 */
import type { Test } from 'tap';
import WebSocket from 'ws';
import pino from 'pino';
import {
  EmbeddedBus,
  KeyRing,
  TOPICS,
  TOPIC_PARTITIONS,
  createControl,
  createSignal,
  exportPublicKey,
  generateSigner,
  issueDeviceToken,
  partitionForKey,
  type Bus,
  type ControlDraft,
  type Signal,
  type Signer,
} from '@appliance/protocol';
import { waitFor } from '@appliance/test-kit';
import { createGateway, type GatewayOptions } from '../src/index.js';

export const control = generateSigner();
export const feed = generateSigner();
const logger = pino({ level: 'silent' });
/** A junk Ed25519 signature of the right shape. */
export const JUNK_SIG = 'A'.repeat(86);

export async function startGateway(
  t: Test,
  bus: Bus = new EmbeddedBus(),
  options: Partial<GatewayOptions> = {},
) {
  const gateway = await createGateway({
    bus,
    tokenKeys: KeyRing.of(exportPublicKey(control.publicKey)),
    signalKeys: KeyRing.of(exportPublicKey(feed.publicKey)),
    logger,
    options,
  });
  const url = await gateway.listen(0);
  t.teardown(() => gateway.close());
  return { bus, gateway, url };
}

export const token = (sub: string, scope = 'family') =>
  issueDeviceToken({ sub, scope, iat: Date.now(), ttlMs: 600_000 }, control);

let candle = 1_700_000_000_000;
export function signal(
  stream = 'ema.1h',
  over: { ts?: number; ttlMs?: number } = {},
  signer: Signer = feed,
): Signal {
  return createSignal(
    {
      stream,
      symbol: 'BTC/USDT',
      side: 'buy',
      price: 100,
      candleTime: (candle += 3_600_000),
      ts: Date.now(),
      ttlMs: 60_000,
      strength: 1,
      algoVersion: 'x/1',
      origin: 'feed',
      ...over,
    },
    signer,
  );
}

/** Publishes signals as the datafeed does: keyed by stream, so each lands on its stream's partition. */
export const publishSignals = (bus: Bus, signals: Signal[]) =>
  bus.publish(
    TOPICS.signals,
    signals.map((s) => ({ key: s.stream, value: JSON.stringify(s) })),
  );

/** A genuine control message, signed by the control server. */
export function genuineControl(draft: Omit<ControlDraft, 'ts' | 'ttlMs' | 'origin'> & { ts?: number }) {
  return createControl(
    { ts: Date.now(), ttlMs: 60_000, origin: 'control', ...draft } as ControlDraft,
    control,
  );
}

/** A control message claiming the control server's key, with a junk signature. */
export function forgedControl(kind: string, body: object, version: number): string {
  return JSON.stringify({
    v: 1,
    id: `forged-${Math.random().toString(36).slice(2, 10)}`,
    version,
    ts: Date.now(),
    ttlMs: 86_400_000,
    origin: 'control-server',
    kid: control.kid,
    kind,
    body,
    sig: JUNK_SIG,
  });
}

/** A key (also a valid stream name) whose records land on another partition than `stream`'s. */
export function otherPartitionKey(stream: string, partitions = TOPIC_PARTITIONS.signals): string {
  return Array.from({ length: 100 }, (_, i) => `other-${i}`).find(
    (k) => partitionForKey(k, partitions) !== partitionForKey(stream, partitions),
  )!;
}

/** A stream name (prefixed `prefix`) that lives in the same partition as `key`. */
export function samePartitionStream(
  key: string,
  prefix: string,
  partitions = TOPIC_PARTITIONS.signals,
): string {
  return Array.from({ length: 100 }, (_, i) => `${prefix}-${i}`).find(
    (k) => partitionForKey(k, partitions) === partitionForKey(key, partitions),
  )!;
}

export interface Frame {
  type: string;
  [k: string]: unknown;
}

/** A device's connection (of profile `scope`): a real ws client that records frames and its close. */
export function connect(
  url: string,
  deviceId: string,
  wsOptions: WebSocket.ClientOptions = {},
  scope = 'family',
) {
  const ws = new WebSocket(url, {
    headers: { authorization: `Bearer ${token(deviceId, scope)}` },
    maxPayload: 1024 * 1024, // as the device
    ...wsOptions,
  });
  const frames: Frame[] = [];
  ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as Frame));
  ws.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const opened = new Promise<void>((resolve) => ws.once('open', () => resolve()));
  const of = (type: string) => frames.filter((f) => f.type === type);
  return {
    ws,
    frames,
    closed,
    opened,
    of,
    send: (frame: object) => ws.send(JSON.stringify(frame)),
    /** Says hello and waits for caught-up. */
    async hello(resume: Record<string, string> = {}, since?: Record<string, string>) {
      await opened;
      ws.send(JSON.stringify({ type: 'hello', deviceId, version: '1', resume, since }));
      await waitFor(() => of('caught-up').length > 0, `${deviceId} to catch up`);
      return of('caught-up')[0] as Frame & {
        positions: Record<string, string>;
        partitions: Record<string, string>;
      };
    },
    /** Ids of the signals received, of `stream` only if given. */
    signalIds: (stream?: string) =>
      of('signal')
        .filter((f) => stream === undefined || f.stream === stream)
        .map((f) => (f.signal as { id: string }).id),
  };
}

/** The lines of the gateway's /metrics that start with `name`. */
export async function metric(url: string, name: string): Promise<string> {
  const text = await (await fetch(url.replace('ws:', 'http:') + '/metrics')).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

/** The value of `gateway_dropped_total{reason=...}`, 0 when absent. */
export async function droppedFor(url: string, reason: string): Promise<number> {
  const line = (await metric(url, 'gateway_dropped_total'))
    .split('\n')
    .find((l) => l.includes(`reason="${reason}"`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}
