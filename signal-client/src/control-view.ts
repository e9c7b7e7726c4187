import { targetCovers, type Control, type FleetCommand } from '@appliance/protocol';
import {
  ReceivedPolicy,
  type BreakerState,
  type DecisionState,
  type FleetHalt,
} from '@appliance/trading-core';

/** A fleet command as the device sees it: with the target it came through. */
export interface TargetedCommand extends FleetCommand {
  target: string;
}

export interface ControlView {
  breaker: BreakerState | null;
  eligibility: Record<string, string[]> | null;
  policy: ReceivedPolicy | null;
  /** The profile and version of the policy in force (null: none, or one sent without a version). */
  policyVersion: { profile: string; version: number } | null;
  lastHeartbeatAt: number | null;
  /**
   * The operator's halt: halted if any fleet message of a target covering this device says so,
   * with their reasons; null when none does (or none is known: no command, no halt).
   */
  fleetHalt: FleetHalt | null;
  /** The commands of the fleet messages covering this device, each once, oldest first. */
  commands: TargetedCommand[];
}

/** Who this device is, for the fleet targets that cover it. */
export interface DeviceIdentity {
  deviceId: string;
  profile: string;
}

/**
 * What the device's verified control messages say, in the shapes `decide` takes. Anything
 * missing stays null, which `decide` treats as "stop buying": the device never guesses. Fleet
 * messages count only for a target that covers this device (`all`, `profile:<its profile>`,
 * `device:<its id>`), whatever the gateway relays.
 */
export function controlView(controls: ReadonlyMap<string, Control>, device: DeviceIdentity): ControlView {
  let eligibility: Record<string, string[]> | null = null;
  let breaker: BreakerState | null = null;
  let policy: ReceivedPolicy | null = null;
  let policyVersion: ControlView['policyVersion'] = null;
  let lastHeartbeatAt: number | null = null;
  const haltReasons: string[] = [];
  const commands = new Map<string, TargetedCommand>();
  for (const c of controls.values()) {
    if (c.kind === 'breaker') breaker = breakerState(c.body);
    else if (c.kind === 'eligibility') (eligibility ??= {})[c.body.stream] = c.body.symbols;
    else if (c.kind === 'heartbeat') lastHeartbeatAt = c.ts;
    else if (c.kind === 'policy' && c.body.profile === device.profile) {
      const parsed = ReceivedPolicy.safeParse(c.body.policy);
      policy = parsed.success ? parsed.data : null;
      policyVersion =
        parsed.success && c.body.version !== undefined
          ? { profile: c.body.profile, version: c.body.version }
          : null;
    } else if (c.kind === 'fleet' && targetCovers(c.body.target, device)) {
      if (c.body.halted) haltReasons.push(c.body.reason.trim() || `halted for ${c.body.target}`);
      for (const cmd of c.body.commands)
        if (!commands.has(cmd.id)) commands.set(cmd.id, { ...cmd, target: c.body.target });
    }
  }
  const fleetHalt = haltReasons.length > 0 ? { reason: [...new Set(haltReasons)].join('; ') } : null;
  const ordered = [...commands.values()].sort((a, b) => a.issuedAt - b.issuedAt || (a.id < b.id ? -1 : 1));
  return { breaker, eligibility, policy, policyVersion, lastHeartbeatAt, fleetHalt, commands: ordered };
}

type BreakerBody = Extract<Control, { kind: 'breaker' }>['body'];

/**
 * The breaker as `decide` takes it: the market's level and reason, and the assets with a level
 * of their own (none from control servers before the per-asset breaker: the market's applies).
 */
function breakerState(body: BreakerBody): BreakerState {
  const { level, multiplier, reason, assets } = body;
  if (assets === undefined) return { level, multiplier, reason };
  return {
    level,
    multiplier,
    reason,
    assets: Object.fromEntries(
      Object.entries(assets).map(([symbol, a]) => [
        symbol,
        { level: a.level, multiplier: a.multiplier, reason: a.reason },
      ]),
    ),
  };
}

/**
 * The device's holdings and equity as `decide` sees them: free balances valued at marks (the
 * exchange's prices). The signal's own base asset is kept even without a mark, so a sell is
 * never refused for want of a price (a buy then stops with R_NO_MARK or R_NO_MARKET_PRICE).
 */
export function portfolioView(
  quote: string,
  free: Record<string, number>,
  marks: ReadonlyMap<string, number>,
  signalSymbol?: string,
): Pick<DecisionState, 'quoteFree' | 'holdings' | 'marks'> & { equity: number } {
  const holdings: Record<string, number> = {};
  const markRecord: Record<string, number> = {};
  let equity = free[quote] ?? 0;
  for (const [asset, qty] of Object.entries(free)) {
    if (asset === quote || !(qty > 0)) continue;
    const symbol = `${asset}/${quote}`;
    const mark = marks.get(symbol);
    // An asset with no market on our quote is not something signals can trade: left out.
    if (mark === undefined) {
      if (symbol === signalSymbol) holdings[asset] = qty;
      continue;
    }
    holdings[asset] = qty;
    markRecord[symbol] = mark;
    equity += qty * mark;
  }
  for (const [symbol, price] of marks) markRecord[symbol] ??= price;
  return { quoteFree: free[quote] ?? 0, holdings, marks: markRecord, equity };
}
