import { readFileSync } from 'node:fs';
import { CommanderError, Option, type Command } from 'commander';
import { EXIT, exitWith } from '@appliance/runtime';
import { errorClass } from '@appliance/errors';

/**
 * What the admin CLIs (`npm run breaker`, `npm run fleet`, `npm run policy`) share: the admin
 * token, one API call, `--expires`, the options naming the server, and their exit codes.
 */

/** How an admin CLI reaches the control server. */
export interface AdminTarget {
  url: string;
  token: string;
}

export class AdminCliError extends errorClass('AdminCliError', {
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
      throw new AdminCliError(
        'E_USAGE',
        `--token-file ${tokenFile}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      );
    }
  }
  const token = env.CONTROL_ADMIN_TOKEN?.trim();
  if (!token)
    throw new AdminCliError('E_USAGE', 'the admin token: give --token-file FILE or set CONTROL_ADMIN_TOKEN');
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
    throw new AdminCliError(
      'E_USAGE',
      `--expires ${text}: give a duration such as 30m, 2h or 1d, or a time such as 2026-12-05T18:00Z`,
    );
  if (at <= now) throw new AdminCliError('E_USAGE', `--expires ${text}: that time has passed`);
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
    throw new AdminCliError('E_UNREACHABLE', `${target.url}: ${(err as Error).message}`, { cause: err });
  }
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // reported below with the status
  }
  if (!res.ok)
    throw new AdminCliError(
      'E_REFUSED',
      `${method} ${path}: ${res.status} ${String(json.error ?? '')} ${String(json.message ?? text.slice(0, 200))}`.trim(),
    );
  return json;
}

export const urlOption = () =>
  new Option('--url <url>', "the control server's API").env('CONTROL_URL').default('http://127.0.0.1:8090');
export const tokenOption = () =>
  new Option('--token-file <file>', 'a file holding the admin token (else CONTROL_ADMIN_TOKEN)');

/** `--url` checked, and the admin token. */
export function adminTarget(o: { url: string; tokenFile?: string }): AdminTarget {
  try {
    new URL(o.url);
  } catch {
    throw new AdminCliError('E_USAGE', `--url ${o.url}: not a URL (e.g. http://127.0.0.1:8090)`);
  }
  return { url: o.url, token: adminToken(o.tokenFile) };
}

const EXIT_OF = { E_USAGE: EXIT.config, E_UNREACHABLE: EXIT.unreachable, E_REFUSED: EXIT.refused } as const;

/** Runs a CLI: 0 done, 2 bad usage (nothing sent), 5 refused, 6 no answer; one line on stderr. */
export async function runAdminCli(program: Command, name: string): Promise<void> {
  try {
    await program.parseAsync();
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.config);
    if (err instanceof AdminCliError) exitWith(EXIT_OF[err.code], `${name}: ${err.message}`);
    throw err;
  }
}
