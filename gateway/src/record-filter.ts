import {
  ProtocolError,
  partitionForKey,
  verifyControl,
  verifySignal,
  type BusMessage,
  type Control,
  type KeyRing,
} from '@appliance/protocol';
import { MAX_REVOCATION_BYTES } from './options.js';

/**
 * The gateway is a verifying filter: a record from the signals or control topic reaches rings,
 * cursors or control state only once it passed every check here. Anyone who can write to the
 * bus without a signing key can then add nothing a device would see or the gateway would keep.
 *
 * The validity window (`ts`, `ttlMs`) is deliberately not applied: signatures are checked with
 * `now` set to the message's own `ts`. An expired but genuine signal is still relayed, so the
 * device records it as expired (`E_EXPIRED`, reported to the fleet view) and moves its resume
 * point past it, instead of silently never seeing it; the gateway's rings, which answer resumes
 * after an outage, are mostly such signals. The device applies the window with its own clock,
 * so a gateway whose clock is wrong can neither silence nor revive anything. The same holds for
 * control: an expired heartbeat or breaker kept here is treated as missing on the device
 * (stop buying), exactly as if it had been dropped; revocation lists are never expired.
 */

/** Why a bus record was dropped: the `reason` label of `gateway_dropped_total`. */
export type RecordDropReason =
  'record-too-large' | 'unparseable-record' | 'wrong-partition' | 'unverified-signal' | 'unverified-control';

export type Checked<T> = ({ ok: true } & T) | { ok: false; reason: RecordDropReason; detail: string };

/** A verified signal record, as the frame every device is sent (serialised once, shared). */
export interface RelayedSignal {
  stream: string;
  frame: string;
}

export interface SignalCheck {
  /** The datafeeds' public keys. */
  keys: KeyRing;
  /** Partitions of the signals topic: a stream lives in `partitionForKey(stream, partitions)`. */
  partitions: number;
  maxRecordBytes: number;
}

export interface ControlCheck {
  /** The control server's public keys. */
  keys: KeyRing;
  maxRecordBytes: number;
}

const STREAM_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function parse(m: BusMessage): { raw: string; json: Record<string, unknown> } | undefined {
  const raw = m.value.toString();
  try {
    const json: unknown = JSON.parse(raw);
    return json !== null && typeof json === 'object' && !Array.isArray(json)
      ? { raw, json: json as Record<string, unknown> }
      : undefined;
  } catch {
    return undefined;
  }
}

const why = (err: unknown): string =>
  err instanceof ProtocolError ? `${err.code}: ${err.message}` : (err as Error).message;

/**
 * Checks, cheapest first: size, JSON, the stream's own partition (a record copied to another
 * partition, genuine or not, would otherwise move cursors there), then schema, pinned key,
 * signature and id derivation. The signed message is relayed byte for byte.
 */
export function checkSignalRecord(m: BusMessage, o: SignalCheck): Checked<RelayedSignal> {
  if (m.value.length > o.maxRecordBytes)
    return { ok: false, reason: 'record-too-large', detail: `${m.value.length} bytes` };
  const parsed = parse(m);
  if (!parsed) return { ok: false, reason: 'unparseable-record', detail: 'not a JSON object' };
  const { raw, json } = parsed;
  const stream = json.stream;
  if (typeof stream !== 'string' || !STREAM_NAME.test(stream))
    return { ok: false, reason: 'unparseable-record', detail: 'no valid stream name' };
  const own = partitionForKey(stream, o.partitions);
  if (m.partition !== own)
    return {
      ok: false,
      reason: 'wrong-partition',
      detail: `stream ${stream} lives in partition ${own}, not ${m.partition}`,
    };
  try {
    verifySignal(json, o.keys, { now: Number(json.ts) });
  } catch (err) {
    return { ok: false, reason: 'unverified-signal', detail: why(err) };
  }
  return {
    ok: true,
    stream,
    frame: `{"type":"signal","stream":${JSON.stringify(stream)},"offset":"${m.offset}","signal":${raw}}`,
  };
}

/**
 * Checks size, schema, pinned key and signature of a control message. Only a revocation list
 * may exceed `maxRecordBytes` (up to `MAX_REVOCATION_BYTES`): it is never relayed.
 */
export function checkControlRecord(
  m: BusMessage,
  o: ControlCheck,
): Checked<{ control: Control; frame: string }> {
  const size = m.value.length;
  if (size > MAX_REVOCATION_BYTES) return { ok: false, reason: 'record-too-large', detail: `${size} bytes` };
  const parsed = parse(m);
  if (!parsed) return { ok: false, reason: 'unparseable-record', detail: 'not a JSON object' };
  const { raw, json } = parsed;
  if (size > o.maxRecordBytes && json.kind !== 'revocation')
    return { ok: false, reason: 'record-too-large', detail: `${size} bytes` };
  let control: Control;
  try {
    control = verifyControl(json, o.keys, { now: Number(json.ts) });
  } catch (err) {
    return { ok: false, reason: 'unverified-control', detail: why(err) };
  }
  return { ok: true, control, frame: `{"type":"control","offset":"${m.offset}","control":${raw}}` };
}
