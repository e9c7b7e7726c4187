import type { DecisionRecord } from '@appliance/protocol';
import { CAPITAL_ACCOUNT, Ledger, breakerFor, excerpt, type BreakerState } from '@appliance/trading-core';
import type { ClientState, CommandRecord } from './state.js';

/** Commands shown, newest first. */
const SHOWN_COMMANDS = 5;

/** An operator's command as the person at home is shown it. */
export interface CommandView {
  id: string;
  action: CommandRecord['action'];
  status: CommandRecord['status'];
  /** The operator's reason, on one line. */
  reason: string;
  by: string;
  receivedAt: number;
  finishedAt: number | null;
  sold: { symbol: string; amount: number }[];
  unsold: { symbol: string; amount: number; reason: string }[];
  /** Why it failed or expired. */
  failure: string | null;
}

type BreakerLevel = BreakerState['level'];

/** One level of the circuit breaker as shown: the market's, or one asset's own. */
export interface BreakerLevelView {
  level: BreakerLevel;
  /** 0..1; scales buys at `caution`. */
  multiplier: number;
  /** Why, in the control server's words, on one line and cut to 200 characters ('' if none). */
  reason: string;
}

/** An asset the breaker names, with its own level and what applies to buying it. */
export interface AssetBreakerView extends BreakerLevelView {
  symbol: string;
  /** What applies to a buy of it: the stricter of its level and the market's, the smaller multiplier. */
  applies: { level: BreakerLevel; multiplier: number; scope: 'market' | 'asset' | 'both' };
}

/** The circuit breaker as the person at home is shown it; null in `StatusView` while unknown. */
export interface BreakerView extends BreakerLevelView {
  /** Assets with a level of their own: halted first, then at caution, then normal; by symbol. */
  assets: AssetBreakerView[];
}

/** What the person at home is shown: by `signal-client status` and the local status page. */
export interface StatusView {
  deviceId: string;
  running: boolean;
  connected: boolean;
  /** While not connected: why the last attempts failed (e.g. the gateway's certificate is not trusted). */
  gatewayProblem: string | null;
  /** The breaker as last heard from the control server; null while unknown (no buying then). */
  breaker: BreakerView | null;
  /** The operator's halt of buying, with its reason (one line); null when none (or not running). */
  operatorHalt: string | null;
  /** The latest operator commands this device took, newest first. */
  commands: CommandView[];
  quote: string;
  holdings: { asset: string; amount: number; value: number | null }[];
  cash: number | null;
  equity: number | null;
  pnl: { realised: number; total: number | null } | null;
  fills: number;
  today: DecisionRecord[];
  pendingOrders: number;
}

export interface RuntimeView {
  connected: boolean;
  gatewayProblem?: string | null;
  /** The verified breaker control's body, as `decide` takes it; null if none yet. */
  breaker: BreakerState | null;
  /** The operator's halt from the covering fleet messages; null if none. */
  fleetHalt?: { reason: string } | null;
  marks: Record<string, number>;
}

/** Builds the view from the state file and, when the client runs, what it knows live. Pure. */
export function statusView(
  state: ClientState,
  runtime: RuntimeView | null,
  quote: string,
  now: number,
  timeZone = 'UTC',
): StatusView {
  const books = state.ledger === undefined ? undefined : Ledger.fromJSON(state.ledger);
  const marks: Record<string, number> = {};
  for (const [symbol, price] of Object.entries(runtime?.marks ?? {})) marks[symbol.split('/')[0]!] = price;
  const holdings = Object.entries(books?.positions() ?? {})
    .filter(([, p]) => p.quantity > 0)
    .map(([asset, p]) => ({
      asset,
      amount: p.quantity,
      value: marks[asset] === undefined ? null : p.quantity * marks[asset]!,
    }));
  const allMarked = holdings.every((h) => h.value !== null);
  const equity = books && allMarked ? books.cash() + holdings.reduce((s, h) => s + (h.value ?? 0), 0) : null;
  // The opening balance is credited to capital: its negation is what the device started with.
  const seed = books ? -(books.balances()[CAPITAL_ACCOUNT] ?? 0) : undefined;
  const day = localDay(now, timeZone);
  return {
    deviceId: state.deviceId,
    running: runtime !== null,
    connected: runtime?.connected ?? false,
    gatewayProblem: runtime?.gatewayProblem ?? null,
    breaker: runtime?.breaker ? breakerView(runtime.breaker) : null,
    operatorHalt: runtime?.fleetHalt ? excerpt(runtime.fleetHalt.reason) || 'no reason given' : null,
    commands: Object.values(state.commands ?? {})
      .sort((a, b) => b.receivedAt - a.receivedAt)
      .slice(0, SHOWN_COMMANDS)
      .map(commandView),
    quote,
    holdings,
    cash: books ? books.cash() : null,
    equity,
    pnl: books
      ? { realised: books.realisedPnl(), total: equity !== null && seed !== undefined ? equity - seed : null }
      : null,
    fills: state.fills,
    today: state.decisions.filter((d) => localDay(d.ts, timeZone) === day),
    pendingOrders: Object.values(state.intents).filter((i) => i.status === 'pending').length,
  };
}

function commandView(c: CommandRecord): CommandView {
  return {
    id: c.id,
    action: c.action,
    status: c.status,
    reason: excerpt(c.reason),
    by: excerpt(c.by),
    receivedAt: c.receivedAt,
    finishedAt: c.finishedAt ?? null,
    sold: (c.sold ?? []).map(({ symbol, amount }) => ({ symbol, amount })),
    unsold: (c.unsold ?? []).map(({ symbol, amount, reason }) => ({
      symbol,
      amount,
      reason: excerpt(reason),
    })),
    failure: c.failure === undefined ? null : excerpt(c.failure),
  };
}

const ACTION_NAMES: Readonly<Record<CommandRecord['action'], string>> = {
  halt: 'halt buying',
  resume: 'resume buying',
  flat: 'sell everything the device bought (FLAT)',
};

/** 'Operator commands:' and a line per command, with what a flat sold and could not sell. */
function commandLines(v: StatusView, time: (ms: number) => string): string[] {
  if (v.commands.length === 0) return [];
  const lines = ['Operator commands (latest first):'];
  for (const c of v.commands) {
    const outcome = c.failure ? ` — ${c.failure}` : '';
    lines.push(
      `  ${time(c.receivedAt)}  ${c.status.padEnd(8)} ${ACTION_NAMES[c.action]} by ${c.by}: ${c.reason}${outcome}`,
    );
    if (c.sold.length) lines.push(`    sold: ${c.sold.map((x) => `${x.amount} ${x.symbol}`).join(', ')}`);
    for (const u of c.unsold) lines.push(`    not sold: ${u.amount} ${u.symbol} (${u.reason})`);
  }
  return lines;
}

const RANK: Readonly<Record<BreakerLevel, number>> = { normal: 0, caution: 1, halt: 2 };

/** The breaker, its reasons made safe to show (one line, 200 characters at most). */
function breakerView(b: BreakerState): BreakerView {
  const assets = Object.entries(b.assets ?? {})
    .map(([symbol, a]): AssetBreakerView => {
      const { level, multiplier, scope } = breakerFor(b, symbol);
      return {
        symbol,
        level: a.level,
        multiplier: a.multiplier,
        reason: excerpt(a.reason ?? ''),
        applies: { level, multiplier, scope },
      };
    })
    .sort(
      (x, y) => RANK[y.level] - RANK[x.level] || (x.symbol < y.symbol ? -1 : x.symbol > y.symbol ? 1 : 0),
    );
  return { level: b.level, multiplier: b.multiplier, reason: excerpt(b.reason ?? ''), assets };
}

function localDay(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(ms);
}

/** Most assets listed one per line in the text; the rest are counted (all are in the JSON). */
const MAX_ASSET_LINES = 20;

/** What a level means for buying: 'no buying', 'buys at half size', 'buying as usual'. */
function effect(level: BreakerLevel, multiplier: number): string {
  if (level === 'normal') return 'buying as usual';
  if (level === 'halt' || !(multiplier > 0)) return 'no buying';
  if (multiplier >= 1) return 'buys at full size';
  if (multiplier === 0.5) return 'buys at half size';
  return `buys at ${Number((multiplier * 100).toFixed(1))} % of the size`;
}

const because = (reason: string) => (reason ? ` — ${reason}` : '');

/**
 * 'Circuit breaker: caution (buys at half size) — 6 of 7 assets down together', then one line
 * per asset with a level of its own: '  DOGE/USDT: halt (no buying) — DOGE/USDT fell 31.0 % ...'.
 */
function breakerLines(b: BreakerView | null): string[] {
  if (b === null) return ['Circuit breaker: unknown (no buying until the control server is heard)'];
  const lines = [`Circuit breaker: ${b.level} (${effect(b.level, b.multiplier)})${because(b.reason)}`];
  for (const a of b.assets.slice(0, MAX_ASSET_LINES)) {
    const applies =
      a.applies.scope === 'market'
        ? `${effect(a.applies.level, a.applies.multiplier)}: the whole market's level applies`
        : effect(a.applies.level, a.applies.multiplier);
    lines.push(`  ${a.symbol}: ${a.level} (${applies})${because(a.reason)}`);
  }
  const more = b.assets.length - MAX_ASSET_LINES;
  if (more > 0) lines.push(`  and ${more} more asset${more === 1 ? '' : 's'} with a level of their own`);
  return lines;
}

const money = (n: number | null, quote: string) => (n === null ? 'unknown' : `${n.toFixed(2)} ${quote}`);

/** Plain text for the terminal. */
export function renderStatusText(v: StatusView, timeZone = 'UTC'): string {
  const time = (ms: number) =>
    new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit' }).format(ms);
  const lines = [
    `Device ${v.deviceId}: ${v.running ? (v.connected ? 'running, connected' : 'running, NOT connected (reconnecting)') : 'not running'}`,
    ...(v.running && !v.connected && v.gatewayProblem ? [`Gateway problem: ${v.gatewayProblem}`] : []),
    ...(v.operatorHalt ? [`Buying halted by the operator: ${v.operatorHalt}`] : []),
    ...breakerLines(v.breaker),
    `Cash: ${money(v.cash, v.quote)}   Equity: ${money(v.equity, v.quote)}   P&L: ${v.pnl ? money(v.pnl.total, v.quote) : 'unknown'} (realised ${v.pnl ? money(v.pnl.realised, v.quote) : 'unknown'})`,
    `Holdings: ${v.holdings.length ? v.holdings.map((h) => `${h.amount} ${h.asset}`).join(', ') : 'none'}`,
    `Orders filled: ${v.fills}${v.pendingOrders ? `   Orders being checked with the exchange: ${v.pendingOrders}` : ''}`,
    `Today's decisions (${v.today.length}):`,
    ...(v.today.length
      ? v.today.map(
          (d) =>
            `  ${time(d.ts)}  ${d.outcome.padEnd(8)} ${d.side.padEnd(4)} ${d.symbol.padEnd(10)} ${d.reason}`,
        )
      : ['  none yet']),
    ...commandLines(v, time),
  ];
  return `${lines.join('\n')}\n`;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The read-only local page: the same facts, refreshed every few seconds. */
export function renderStatusHtml(v: StatusView, timeZone = 'UTC'): string {
  const text = renderStatusText(v, timeZone);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>Signal appliance — ${esc(v.deviceId)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:2rem;color:#1d2733}pre{font:15px/1.5 ui-monospace,monospace;background:#f5f7fa;padding:1rem;border-radius:6px}</style>
</head><body><h1>${esc(v.deviceId)}</h1><pre id="status">${esc(text)}</pre></body></html>`;
}
