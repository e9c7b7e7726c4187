/**
 * The operator's first page: the fleet table, refreshed every two seconds. The admin token
 * comes in the URL fragment (#token=...), which browsers never send to the server or log.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Signal appliance — fleet</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #1d2733; }
  h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
  .sub { color: #5b6b7c; margin-bottom: 1rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #e3e8ee; }
  th { font-weight: 600; color: #5b6b7c; font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; }
  .dot { display: inline-block; width: .6rem; height: .6rem; border-radius: 50%; margin-right: .4rem; }
  .on { background: #1f9d55; } .off { background: #c0c7d0; }
  .num { font-variant-numeric: tabular-nums; text-align: right; }
  #error { color: #b42318; margin: 1rem 0; }
  .decision { color: #5b6b7c; font-size: .85rem; }
</style>
</head>
<body>
<h1>Fleet</h1>
<div class="sub">Breaker: <strong id="breaker">…</strong> · updated <span id="updated">never</span></div>
<div id="error" role="alert"></div>
<table>
  <thead><tr><th>Device</th><th>Status</th><th>Last seen</th><th class="num">Fills</th><th class="num">Equity</th><th class="num">Spent today</th><th>Last decision</th></tr></thead>
  <tbody id="fleet"><tr><td colspan="7">Loading…</td></tr></tbody>
</table>
<script>
// Read on every refresh, so correcting the #token in the address bar takes effect at once.
const token = () => new URLSearchParams(location.hash.slice(1)).get('token') || '';
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const fmt = (n) => (n === null || n === undefined ? '—' : Number(n).toLocaleString(undefined, { maximumFractionDigits: 2 }));
async function refresh() {
  try {
    const res = await fetch('/api/fleet', { headers: { authorization: 'Bearer ' + token() } });
    if (!res.ok) throw new Error(res.status === 401 ? 'Not authorised: open the URL printed at start-up (it carries the token).' : 'HTTP ' + res.status);
    const body = await res.json();
    document.getElementById('error').textContent = '';
    document.getElementById('breaker').textContent = body.breaker.level;
    document.getElementById('updated').textContent = new Date().toLocaleTimeString();
    const rows = body.devices.map((d) => {
      const last = d.lastDecisions[d.lastDecisions.length - 1];
      return '<tr data-device="' + esc(d.id) + '">' +
        '<td>' + esc(d.id) + '<div class="decision">' + esc(d.scope) + '</div></td>' +
        '<td><span class="dot ' + (d.online ? 'on' : 'off') + '"></span>' + (d.online ? 'online' : 'offline') + '</td>' +
        '<td>' + (d.lastSeen ? new Date(d.lastSeen).toLocaleTimeString() : 'never') + '</td>' +
        '<td class="num fills">' + d.fills + '</td>' +
        '<td class="num">' + fmt(d.equity) + '</td>' +
        '<td class="num">' + fmt(d.spendToday) + '</td>' +
        '<td class="decision">' + (last ? esc(last.outcome + ' ' + last.side + ' ' + last.symbol + ': ' + last.reason) : '—') + '</td></tr>';
    });
    document.getElementById('fleet').innerHTML = rows.join('') || '<tr><td colspan="7">No devices yet.</td></tr>';
  } catch (err) {
    document.getElementById('error').textContent = err.message;
  }
}
refresh();
setInterval(refresh, 2000);
addEventListener('hashchange', refresh);
</script>
</body>
</html>
`;
