import { randomUUID } from 'node:crypto';
import type { KeyRing, Signer } from './keys.js';
import { Control, PROTOCOL_VERSION, type UnsignedControl } from './schemas.js';
import { signMessage, verifyMessage, type VerifyOptions } from './signing.js';

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
  return c.kind;
}
