import { Option, type Command } from 'commander';
import {
  AdminCliError,
  adminTarget,
  tokenOption,
  urlOption,
  type AdminTarget,
} from '@appliance/control-server/cli-admin';

/**
 * How the enrolment commands reach the control server: the admin CLIs' own options (`--url` or
 * CONTROL_URL, `--token-file` or CONTROL_ADMIN_TOKEN; `--server` is the same as `--url`), and one
 * API call whose refusal reads `CODE: message`, as the contract (docs/enrolment.md) names it.
 */

export interface ConnOptions {
  url: string;
  server?: string;
  tokenFile?: string;
  json?: boolean;
}

/** `--url`/`--server`, `--token-file` and `--json` on a command. */
export function withConn(command: Command, json = 'print the answer as JSON instead of a table'): Command {
  return command
    .addOption(urlOption())
    .addOption(new Option('--server <url>', 'the same as --url'))
    .addOption(tokenOption())
    .option('--json', json, false);
}

/** The server, and the admin token: checked before anything is sent (E_USAGE otherwise). */
export function target(o: ConnOptions): AdminTarget {
  return adminTarget({ url: o.server ?? o.url, tokenFile: o.tokenFile });
}

export const usage = (message: string) => new AdminCliError('E_USAGE', message);

/**
 * One admin API call. A refusal throws E_REFUSED `CODE: message (HTTP status, METHOD path)`; no
 * answer throws E_UNREACHABLE naming the server and the cause (connection refused, timeout...).
 */
export async function api<T = Record<string, unknown>>(
  t: AdminTarget,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(new URL(path, t.url), {
      method,
      headers: {
        authorization: `Bearer ${t.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why =
      (err as Error).name === 'TimeoutError'
        ? 'no answer within 15 s'
        : (cause?.code ?? cause?.message ?? (err as Error).message);
    throw new AdminCliError(
      'E_UNREACHABLE',
      `cannot reach the control server at ${t.url} (${why}): check --url/CONTROL_URL and that it runs`,
      { cause: err },
    );
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json ?? {}) as { error?: unknown; message?: unknown };
    const code = typeof e.error === 'string' ? e.error : `HTTP_${res.status}`;
    const message = typeof e.message === 'string' ? e.message : text.slice(0, 200) || res.statusText;
    throw new AdminCliError('E_REFUSED', `${code}: ${message} (${res.status}, ${method} ${path})`);
  }
  if (json === undefined || typeof json !== 'object' || json === null)
    throw new AdminCliError(
      'E_REFUSED',
      `E_BAD_ANSWER: ${method} ${path} answered ${res.status} with something that is not a JSON object`,
    );
  return json as T;
}

/** A path segment: ids are checked before, this only keeps a stray character from changing the path. */
export const seg = (s: string) => encodeURIComponent(s);
