/** Unknown or missing policy: stop buying. A policy that fails its schema is bad input. */
import { firstIssue } from './inputs.js';
import { CentralPolicy, isCurrentPolicy, type ReceivedPolicy } from '../policy.js';
import { badInput, deny, type Denial } from '../rule.js';

export function policyRule(policy: ReceivedPolicy | null): { allowed: true; policy: CentralPolicy } | Denial {
  if (policy === null || typeof policy !== 'object') {
    return deny('R_NO_POLICY', 'Buying is off: no spending policy from the control server is known yet');
  }
  if (!isCurrentPolicy(policy)) {
    return deny(
      'R_POLICY_VERSION',
      `Buying is off: the spending policy is in format ${String(policy.schema)}, which this device does not understand; it needs an update`,
    );
  }
  const parsed = CentralPolicy.safeParse(policy);
  if (!parsed.success) return badInput(`the spending policy is invalid (${firstIssue(parsed.error)})`);
  return { allowed: true, policy: parsed.data };
}
