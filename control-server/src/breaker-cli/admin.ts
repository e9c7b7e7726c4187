export { AdminCliError as BreakerCliError } from '../cli-admin.js';

interface Level {
  level: string;
  multiplier: number;
  reason: string;
}

/** The breaker's state in lines a person reads: what devices are told, the overrides, the latest changes. */
export function renderStatus(view: {
  published: Level & { assets?: Record<string, Level> };
  overrides: { scope: string; level: string; reason: string; by: string; expiresAt: number | null }[];
  events: { type: string; at: number; scope: string; to?: string; reason?: string }[];
}): string {
  const p = view.published;
  const at = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
  const lines = [`market: ${p.level} (x${p.multiplier}) — ${p.reason}`];
  for (const [symbol, a] of Object.entries(p.assets ?? {}))
    lines.push(`${symbol}: ${a.level} (x${a.multiplier}) — ${a.reason}`);
  lines.push(`overrides: ${view.overrides.length === 0 ? 'none' : ''}`);
  for (const o of view.overrides)
    lines.push(
      `  ${o.scope}: ${o.level} by ${o.by}${o.expiresAt === null ? ', until cleared' : `, until ${at(o.expiresAt)}`} — ${o.reason}`,
    );
  lines.push('latest changes:');
  const changes = view.events.filter((e) => e.type === 'BreakerTripped' || e.type === 'BreakerEased');
  if (changes.length === 0) lines.push('  none');
  for (const e of changes.slice(0, 10))
    lines.push(
      `  ${at(e.at)} ${e.scope} ${e.type === 'BreakerTripped' ? 'tripped' : 'eased'} to ${e.to} — ${e.reason}`,
    );
  return `${lines.join('\n')}\n`;
}
