/**
 * The operator's first page: the fleet table (with each device's policy version and whether it
 * lags), the latest fleet commands and their device counts, the circuit breaker (each scope's level and why,
 * the overrides, the latest changes), then eligibility (changes waiting for approval, the
 * simulator's latest results, pins and blocks), refreshed every two seconds. The admin token
 * comes in the URL fragment (#token=...), which browsers never send to the server or log; the
 * page moves it to sessionStorage (this tab only) and takes it out of the address bar.
 *
 * Everything the page shows comes from devices, the bus and simulator nodes, so it is put in the page as text
 * (DOM nodes and textContent, never HTML), and the page's Content-Security-Policy allows no
 * inline script or style: the script and the style sheet are served from their own routes.
 */

/** The page's policy: its own script, style and API only; no inline anything, no images, no frames. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Every other response (JSON, the script, the style sheet) may not run or load anything. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'";

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Signal appliance — fleet</title>
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<h1>Fleet</h1>
<div class="sub">Breaker: <strong id="breaker">…</strong> <span id="breaker-reason"></span> · updated <span id="updated">never</span></div>
<div id="warning" role="alert" hidden></div>
<div id="error" role="alert"></div>
<table>
  <thead><tr><th>Device</th><th>Status</th><th>Last seen</th><th class="num">Fills</th><th class="num">Equity</th><th class="num">Spent today</th><th>Policy</th><th>Last decision</th></tr></thead>
  <tbody id="fleet"><tr><td colspan="8">Loading…</td></tr></tbody>
</table>
<h2>Fleet commands</h2>
<table>
  <thead><tr><th>Command</th><th>Issued</th><th>Action</th><th>Target</th><th>State</th><th>Devices</th><th>Why</th></tr></thead>
  <tbody id="commands"><tr><td colspan="7">Loading…</td></tr></tbody>
</table>
<h2>Circuit breaker</h2>
<table>
  <thead><tr><th>Scope</th><th>Level</th><th>Why</th><th>Override</th></tr></thead>
  <tbody id="breaker-scopes"><tr><td colspan="4">Loading…</td></tr></tbody>
</table>
<h2>Latest breaker changes</h2>
<table>
  <thead><tr><th>When</th><th>Scope</th><th>Change</th><th>Why</th></tr></thead>
  <tbody id="breaker-events"><tr><td colspan="4">Loading…</td></tr></tbody>
</table>
<h2>Eligibility changes waiting for approval</h2>
<table>
  <thead><tr><th>Change</th><th>Stream</th><th>Run</th><th>Would add</th><th>Would remove</th><th>Decisions</th></tr></thead>
  <tbody id="pending"><tr><td colspan="6">Loading…</td></tr></tbody>
</table>
<h2>Latest simulator results</h2>
<table>
  <thead><tr><th>Stream</th><th>Symbol</th><th>Eligible</th><th>Reason</th><th>Run</th><th>Run time</th><th>Status</th></tr></thead>
  <tbody id="results"><tr><td colspan="7">Loading…</td></tr></tbody>
</table>
<h2>Pinned and blocked</h2>
<table>
  <thead><tr><th>Stream</th><th>Symbol</th><th>Override</th><th>Reason</th><th>By</th><th>When</th></tr></thead>
  <tbody id="overrides"><tr><td colspan="6">Loading…</td></tr></tbody>
</table>
</body>
</html>
`;

export const DASHBOARD_CSS = `body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #1d2733; }
h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
h2 { font-size: 1.05rem; margin: 2rem 0 .5rem; }
.yes { color: #1f9d55; font-weight: 600; } .no { color: #b42318; font-weight: 600; }
.sub { color: #5b6b7c; margin-bottom: 1rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #e3e8ee; }
th { font-weight: 600; color: #5b6b7c; font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; }
.dot { display: inline-block; width: .6rem; height: .6rem; border-radius: 50%; margin-right: .4rem; }
.on { background: #1f9d55; } .off { background: #c0c7d0; }
.num { font-variant-numeric: tabular-nums; text-align: right; }
#error { color: #b42318; margin: 1rem 0; }
#warning { background: #fff4e5; border: 1px solid #f79009; color: #7a2e0e; padding: .6rem .8rem; margin: 1rem 0; font-weight: 600; }
.decision { color: #5b6b7c; font-size: .85rem; }
.level-normal { color: #1f9d55; font-weight: 600; } .level-caution { color: #b54708; font-weight: 600; } .level-halt { color: #b42318; font-weight: 600; }
.device-error { color: #b42318; font-size: .85rem; }
`;

export const DASHBOARD_JS = `'use strict';
const TOKEN_KEY = 'appliance.adminToken';

// The token arrives in the #fragment: keep it for this tab only and take it out of the address
// bar, the history and anything the page is copied or bookmarked from.
function takeTokenFromFragment() {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (token === null) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  history.replaceState(null, '', location.pathname + location.search);
}
const token = () => sessionStorage.getItem(TOKEN_KEY) || '';

// Builds an element; children that are strings become text nodes, never markup.
function el(tag, className, ...children) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  e.append(...children.filter((c) => c !== null && c !== undefined).map((c) => (typeof c === 'string' ? c : c instanceof Node ? c : String(c))));
  return e;
}
const fmt = (n) => (typeof n !== 'number' ? '—' : n.toLocaleString(undefined, { maximumFractionDigits: 2 }));
const time = (ms) => (typeof ms === 'number' && ms > 0 ? new Date(ms).toLocaleTimeString() : 'never');

function row(d) {
  const decisions = Array.isArray(d.lastDecisions) ? d.lastDecisions : [];
  const last = decisions[decisions.length - 1];
  const errors = Array.isArray(d.errors) ? d.errors : [];
  const tr = el('tr', '',
    el('td', '', String(d.id), el('div', 'decision', String(d.scope) + (d.label ? ' · ' + String(d.label) : ''))),
    el('td', '', el('span', 'dot ' + (d.online === true ? 'on' : 'off')), d.online === true ? 'online' : 'offline'),
    el('td', '', time(d.lastSeen)),
    el('td', 'num fills', String(d.fills)),
    el('td', 'num', fmt(d.equity)),
    el('td', 'num', fmt(d.spendToday)),
    el('td', d.policyLagging === true ? 'no' : '', typeof d.policyVersion === 'number' ? 'v' + String(d.policyVersion) : '—',
      d.policyLagging === true ? el('div', 'decision', 'behind v' + String(d.policyLatest)) : null),
    el('td', 'decision',
      last ? String(last.outcome) + ' ' + String(last.side) + ' ' + String(last.symbol) + ': ' + String(last.reason) : '—',
      errors.length ? el('div', 'device-error', String(errors[errors.length - 1])) : null),
  );
  tr.dataset.device = String(d.id);
  return tr;
}

const stamp = (ms) => (typeof ms === 'number' && ms > 0 ? new Date(ms).toLocaleString() : '—');
const list = (a) => (Array.isArray(a) && a.length ? a.map(String).join(', ') : '—');
function emptyRow(text, span) {
  const tr = el('tr', '', el('td', '', text));
  tr.firstChild.colSpan = span;
  return tr;
}

function pendingRow(p) {
  const decisions = Array.isArray(p.decisions) ? p.decisions : [];
  const tr = el('tr', '',
    el('td', '', String(p.changeId)),
    el('td', '', String(p.stream)),
    el('td', '', String(p.runId), el('div', 'decision', stamp(p.runAt) + ' · ' + String(p.node))),
    el('td', '', list(p.wouldAdd)),
    el('td', '', list(p.wouldRemove)),
    el('td', 'decision', ...decisions.map((d) => el('div', '', String(d.symbol) + (d.eligible === true ? ' eligible: ' : ' not eligible: ') + String(d.reason)))),
  );
  tr.dataset.change = String(p.changeId);
  return tr;
}

function resultRow(r) {
  const tr = el('tr', '',
    el('td', '', String(r.stream)),
    el('td', '', String(r.symbol)),
    el('td', r.eligible === true ? 'yes' : 'no', r.eligible === true ? 'yes' : 'no'),
    el('td', 'decision', String(r.reason)),
    el('td', '', String(r.runId)),
    el('td', '', stamp(r.runAt)),
    el('td', '', String(r.status)),
  );
  tr.dataset.result = String(r.stream) + ' ' + String(r.symbol);
  return tr;
}

function overrideRow(o) {
  const by = o.by && typeof o.by === 'object' ? (o.by.operator ? String(o.by.operator) : String(o.by.origin && o.by.origin.remote)) : '—';
  return el('tr', '',
    el('td', '', String(o.stream)),
    el('td', '', String(o.symbol)),
    el('td', o.mode === 'pin' ? 'yes' : 'no', o.mode === 'pin' ? 'pinned' : 'blocked'),
    el('td', 'decision', String(o.reason)),
    el('td', '', by),
    el('td', '', stamp(o.at)),
  );
}

async function refreshEligibility() {
  const res = await fetch('/api/eligibility', { headers: { authorization: 'Bearer ' + token() }, cache: 'no-store' });
  if (!res.ok) throw new Error('eligibility: HTTP ' + res.status);
  const body = await res.json();
  const pending = Array.isArray(body.pending) ? body.pending.map(pendingRow) : [];
  document.getElementById('pending').replaceChildren(...(pending.length ? pending : [emptyRow('Nothing is waiting.', 6)]));
  const results = Array.isArray(body.latest) ? body.latest.map(resultRow) : [];
  document.getElementById('results').replaceChildren(...(results.length ? results : [emptyRow('No simulator results yet.', 7)]));
  const overrides = Array.isArray(body.overrides) ? body.overrides.map(overrideRow) : [];
  document.getElementById('overrides').replaceChildren(...(overrides.length ? overrides : [emptyRow('None.', 6)]));
}

function scopeRow(scope, level, overrides) {
  const o = overrides.find((v) => v.scope === scope);
  const tr = el('tr', '',
    el('td', '', scope),
    el('td', 'level-' + String(level.level), String(level.level) + (level.level === 'caution' ? ' (x' + String(level.multiplier) + ')' : '')),
    el('td', 'decision', String(level.reason)),
    el('td', 'decision', o ? String(o.level) + ' by ' + String(o.by) + (o.expiresAt ? ' until ' + stamp(o.expiresAt) : ', until cleared') + ': ' + String(o.reason) : '—'),
  );
  tr.dataset.scope = scope;
  return tr;
}

async function refreshBreaker() {
  const res = await fetch('/api/breaker', { headers: { authorization: 'Bearer ' + token() }, cache: 'no-store' });
  if (!res.ok) throw new Error('breaker: HTTP ' + res.status);
  const body = await res.json();
  const p = body.published || {};
  const overrides = Array.isArray(body.overrides) ? body.overrides : [];
  document.getElementById('breaker-reason').textContent = '— ' + String(p.reason);
  const rows = [scopeRow('market', p, overrides)];
  for (const [symbol, level] of Object.entries(p.assets || {})) rows.push(scopeRow(symbol, level, overrides));
  // An override that does not (yet) change what devices are told still shows.
  for (const o of overrides) if (!rows.some((r) => r.dataset.scope === String(o.scope))) rows.push(scopeRow(String(o.scope), { level: 'normal', multiplier: 1, reason: 'no level of its own' }, overrides));
  document.getElementById('breaker-scopes').replaceChildren(...rows);
  const changes = (Array.isArray(body.events) ? body.events : []).filter((e) => e.type === 'BreakerTripped' || e.type === 'BreakerEased').slice(0, 20);
  document.getElementById('breaker-events').replaceChildren(...(changes.length ? changes.map((e) => el('tr', '',
    el('td', '', stamp(e.at)),
    el('td', '', String(e.scope)),
    el('td', 'level-' + String(e.to), (e.type === 'BreakerTripped' ? 'tripped to ' : 'eased to ') + String(e.to)),
    el('td', 'decision', String(e.reason)),
  )) : [emptyRow('No changes yet.', 4)]));
}

function commandRow(c) {
  const counts = Object.entries(c.counts || {}).filter(([, n]) => n > 0).map(([s, n]) => String(n) + ' ' + s).join(', ');
  const tr = el('tr', '',
    el('td', '', String(c.id)),
    el('td', '', stamp(c.createdAt), el('div', 'decision', 'by ' + String(c.by))),
    el('td', c.action === 'resume' ? 'yes' : 'no', String(c.action)),
    el('td', '', String(c.target)),
    el('td', '', String(c.state)),
    el('td', 'decision', counts || '—'),
    el('td', 'decision', String(c.reason)),
  );
  tr.dataset.command = String(c.id);
  return tr;
}

async function refreshCommands() {
  const res = await fetch('/api/commands', { headers: { authorization: 'Bearer ' + token() }, cache: 'no-store' });
  if (!res.ok) throw new Error('commands: HTTP ' + res.status);
  const body = await res.json();
  const rows = Array.isArray(body.commands) ? body.commands.slice(0, 20).map(commandRow) : [];
  document.getElementById('commands').replaceChildren(...(rows.length ? rows : [emptyRow('No commands.', 7)]));
}

async function refresh() {
  const error = document.getElementById('error');
  try {
    const res = await fetch('/api/fleet', { headers: { authorization: 'Bearer ' + token() }, cache: 'no-store' });
    if (!res.ok) throw new Error(res.status === 401 ? 'Not authorised: open the URL printed at start-up (it carries the token).' : 'HTTP ' + res.status);
    const body = await res.json();
    error.textContent = '';
    document.getElementById('breaker').textContent = String(body.breaker.level);
    const warning = document.getElementById('warning');
    warning.textContent = body.eligibility && body.eligibility.warning ? 'Buying is off: ' + String(body.eligibility.warning) : '';
    warning.hidden = warning.textContent === '';
    document.getElementById('updated').textContent = new Date().toLocaleTimeString();
    const rows = body.devices.map(row);
    const empty = el('tr', '', el('td', '', 'No devices yet.'));
    empty.firstChild.colSpan = 8;
    document.getElementById('fleet').replaceChildren(...(rows.length ? rows : [empty]));
    await refreshCommands();
    await refreshBreaker();
    await refreshEligibility();
  } catch (err) {
    error.textContent = String(err.message);
  }
}

takeTokenFromFragment();
refresh();
setInterval(refresh, 2000);
addEventListener('hashchange', () => {
  takeTokenFromFragment();
  refresh();
});
`;
