import type { Control } from '@appliance/protocol';
import { ReceivedPolicy, type BreakerState, type DecisionState } from '@appliance/trading-core';

export interface ControlView {
  breaker: BreakerState | null;
  eligibility: Record<string, string[]> | null;
  policy: ReceivedPolicy | null;
  lastHeartbeatAt: number | null;
}

/**
 * What the device's verified control messages say, in the shapes `decide` takes. Anything
 * missing stays null, which `decide` treats as "stop buying": the device never guesses.
 */
export function controlView(controls: ReadonlyMap<string, Control>, profile: string): ControlView {
  let eligibility: Record<string, string[]> | null = null;
  let breaker: BreakerState | null = null;
  let policy: ReceivedPolicy | null = null;
  let lastHeartbeatAt: number | null = null;
  for (const c of controls.values()) {
    if (c.kind === 'breaker') breaker = breakerState(c.body);
    else if (c.kind === 'eligibility') (eligibility ??= {})[c.body.stream] = c.body.symbols;
    else if (c.kind === 'heartbeat') lastHeartbeatAt = c.ts;
    else if (c.kind === 'policy' && c.body.profile === profile) {
      const parsed = ReceivedPolicy.safeParse(c.body.policy);
      policy = parsed.success ? parsed.data : null;
    }
  }
  return { breaker, eligibility, policy, lastHeartbeatAt };
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
