import { randomUUID } from 'node:crypto';
import type { KeyRing, Signer } from './keys.js';
import {
  Control,
  PROTOCOL_VERSION,
  SimulatorResult,
  type UnsignedControl,
  type UnsignedSimulatorResult,
} from './schemas.js';
import {
  checkWindow,
  parseMessage,
  signMessage,
  verifyMessage,
  verifySignature,
  type VerifyOptions,
} from './signing.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type ControlDraft = DistributiveOmit<UnsignedControl, 'v' | 'id' | 'kid'> & { id?: string };

export function createControl(draft: ControlDraft, signer: Signer): Control {
  const unsigned = {
    v: PROTOCOL_VERSION,
    id: draft.id ?? randomUUID(),
    ...draft,
    kid: signer.kid,
  } as UnsignedControl;
  return signMessage('control', unsigned, signer) as Control;
}

export function verifyControl(input: unknown, keys: KeyRing, opts: VerifyOptions): Control {
  return verifyMessage('control', Control, input, keys, opts);
}

/** The key under which a control message supersedes older ones of the same kind and scope. */
export function controlScope(c: Control): string {
  if (c.kind === 'eligibility') return `eligibility:${c.body.stream}`;
  if (c.kind === 'policy') return `policy:${c.body.profile}`;
  if (c.kind === 'fleet') return `fleet:${c.body.target}`;
  return c.kind;
}

// ---- eligibility from the simulator ----------------------------------------------------

/** How old a simulator submission may be when it reaches the control server: an hour. */
export const DEFAULT_SIMULATOR_RESULT_MAX_AGE_MS = 60 * 60 * 1000;

export type SimulatorResultDraft = Omit<UnsignedSimulatorResult, 'v' | 'kid'>;

/**
 * Signs a simulator run's decisions with the node's key: the canonical JSON of everything but
 * `sig`, in its own domain (`appliance/simulator-result/v1\n`), so no signal, candle or control
 * signature can pass for one.
 */
export function createSimulatorResult(draft: SimulatorResultDraft, signer: Signer): SimulatorResult {
  const unsigned = { v: PROTOCOL_VERSION, ...draft, kid: signer.kid } as UnsignedSimulatorResult;
  return signMessage('simulator-result', unsigned, signer) as SimulatorResult;
}

/**
 * Shape, pinned key, signature, then age: `at` may be at most `maxAgeMs` old and not in the
 * future beyond the clock skew. Throws ProtocolError (E_MALFORMED, E_UNKNOWN_KEY,
 * E_BAD_SIGNATURE, E_EXPIRED, E_NOT_YET_VALID). Replays (a run id seen before) are the
 * receiver's to refuse: only it knows which runs it has taken.
 */
export function verifySimulatorResult(
  input: unknown,
  keys: KeyRing,
  opts: VerifyOptions & { maxAgeMs?: number },
): SimulatorResult {
  const msg = parseMessage('simulator-result', SimulatorResult, input);
  const { sig, ...unsigned } = msg;
  verifySignature('simulator-result', unsigned, sig, keys);
  checkWindow('simulator result', msg.at, opts.maxAgeMs ?? DEFAULT_SIMULATOR_RESULT_MAX_AGE_MS, opts);
  return msg;
}
