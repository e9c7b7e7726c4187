import type { DecisionRecord } from '@appliance/protocol';
import { CAPITAL_ACCOUNT, Ledger } from '@appliance/trading-core';
import type { ClientState } from './state.js';

/** What the person at home is shown: by `signal-client status` and the local status page. */
export interface StatusView {
  deviceId: string;
  running: boolean;
  connected: boolean;
  /** While not connected: why the last attempts failed (e.g. the gateway's certificate is not trusted). */
  gatewayProblem: string | null;
  breaker: string;
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
  breaker: string | null;
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
    breaker: runtime?.breaker ?? 'unknown',
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

function localDay(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(ms);
}

const money = (n: number | null, quote: string) => (n === null ? 'unknown' : `${n.toFixed(2)} ${quote}`);

/** Plain text for the terminal. */
export function renderStatusText(v: StatusView, timeZone = 'UTC'): string {
  const time = (ms: number) =>
    new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit' }).format(ms);
  const lines = [
    `Device ${v.deviceId}: ${v.running ? (v.connected ? 'running, connected' : 'running, NOT connected (reconnecting)') : 'not running'}`,
    ...(v.running && !v.connected && v.gatewayProblem ? [`Gateway problem: ${v.gatewayProblem}`] : []),
    `Circuit breaker: ${v.breaker}`,
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
