import { readFileSync } from 'node:fs';
import { errorClass } from '@appliance/errors';

/** How `npm run breaker -- status|override` reaches the control server. */
export interface AdminTarget {
  url: string;
  token: string;
}

export class BreakerCliError extends errorClass('BreakerCliError', {
  E_USAGE: 'a flag is missing or not valid',
  E_UNREACHABLE: 'the control server did not answer',
  E_REFUSED: 'the control server refused the request',
}) {}

/** `--token-file`, else CONTROL_ADMIN_TOKEN: the admin token never goes on the command line. */
export function adminToken(tokenFile: string | undefined, env = process.env): string {
  if (tokenFile) {
    try {
      return readFileSync(tokenFile, 'utf8').trim();
    } catch (err) {
      throw new BreakerCliError(
        'E_USAGE',
        `--token-file ${tokenFile}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      );
    }
  }
  const token = env.CONTROL_ADMIN_TOKEN?.trim();
  if (!token)
    throw new BreakerCliError(
      'E_USAGE',
      'the admin token: give --token-file FILE or set CONTROL_ADMIN_TOKEN',
    );
  return token;
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--expires 90m|2h|1d` (from now) or an ISO time; returns the request's field. */
export function parseExpiry(text: string, now: number): { expiresAt: number } {
  const rel = /^([1-9]\d{0,5})([mhd])$/.exec(text);
  if (rel) return { expiresAt: now + Number(rel[1]) * UNITS[rel[2]!]! };
  const at = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})$/.test(text)
    ? Date.parse(text)
    : NaN;
  if (!Number.isFinite(at))
    throw new BreakerCliError(
      'E_USAGE',
      `--expires ${text}: give a duration such as 30m, 2h or 1d, or a time such as 2026-12-05T18:00Z`,
    );
  if (at <= now) throw new BreakerCliError('E_USAGE', `--expires ${text}: that time has passed`);
  return { expiresAt: at };
}

/** One API call; a refusal becomes E_REFUSED with the server's code and message. */
export async function callApi(
  target: AdminTarget,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(new URL(path, target.url), {
      method,
      headers: {
        authorization: `Bearer ${target.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new BreakerCliError('E_UNREACHABLE', `${target.url}: ${(err as Error).message}`, { cause: err });
  }
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // reported below with the status
  }
  if (!res.ok)
    throw new BreakerCliError(
      'E_REFUSED',
      `${method} ${path}: ${res.status} ${String(json.error ?? '')} ${String(json.message ?? text.slice(0, 200))}`.trim(),
    );
  return json;
}

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
