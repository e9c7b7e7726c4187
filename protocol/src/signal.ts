import { createHash } from 'node:crypto';
import { ProtocolError } from './errors.js';
import type { KeyRing, Signer } from './keys.js';
import { PROTOCOL_VERSION, Signal, type UnsignedSignal } from './schemas.js';
import { signMessage, verifyMessage, type VerifyOptions } from './signing.js';

/**
 * A signal's id is a function of (stream, symbol, candle time) only, so a restarted or
 * replayed datafeed can never mint a fresh id for a candle it already signalled.
 */
export function signalId(stream: string, symbol: string, candleTime: number): string {
  return createHash('sha256').update(`${stream}\n${symbol}\n${candleTime}`).digest('hex').slice(0, 32);
}

export type SignalDraft = Omit<UnsignedSignal, 'v' | 'id' | 'kid'>;

export function createSignal(draft: SignalDraft, signer: Signer): Signal {
  const unsigned: UnsignedSignal = {
    v: PROTOCOL_VERSION,
    id: signalId(draft.stream, draft.symbol, draft.candleTime),
    ...draft,
    kid: signer.kid,
  };
  return signMessage('signal', unsigned, signer);
}

/** Verifies shape, key, signature, id derivation and validity window. Throws ProtocolError. */
export function verifySignal(input: unknown, keys: KeyRing, opts: VerifyOptions): Signal {
  const signal = verifyMessage('signal', Signal, input, keys, opts);
  const expected = signalId(signal.stream, signal.symbol, signal.candleTime);
  if (signal.id !== expected) {
    throw new ProtocolError('E_BAD_ID', `signal id ${signal.id} is not derived from its candle`, {
      expected,
    });
  }
  return signal;
}
