/**
 * Dead-man switch: if the control server goes quiet, the device cannot learn of a halt, so
 * it stops buying. Valid through exactly `heartbeatTimeoutMs` after the last heartbeat.
 */
import type { BuyContext } from '../context.js';
import { duration } from '../format.js';
import { ALLOW, deny, type RuleResult } from '../rule.js';

export function heartbeatRule(ctx: BuyContext): RuleResult {
  const last = ctx.state.lastHeartbeatAt;
  if (last === null) {
    return deny(
      'R_NO_HEARTBEAT',
      'Buying is off: no heartbeat from the control server has been received yet',
    );
  }
  const timeout = ctx.limits.heartbeatTimeoutMs;
  if (ctx.now - last > timeout) {
    return deny(
      'R_NO_HEARTBEAT',
      `Buying is off: nothing has been heard from the control server for more than ${duration(timeout)}`,
    );
  }
  return ALLOW;
}
