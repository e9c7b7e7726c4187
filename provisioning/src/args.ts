import { PROFILE_PATTERN } from '@appliance/protocol';
import { usage } from './api.js';

/** Checked here, before anything is sent, with the limits the control server applies. */

const DEVICE_NAME = /^[a-z0-9][a-z0-9-]{2,63}$/;
const TOKEN_ID = /^et-[0-9a-f]{16}$/;
const MINUTE = 60_000;
const DAY = 86_400_000;
const MAX_TOKEN_TTL_MS = 90 * DAY;
const MAX_TOKEN_USES = 100;
const UNIT_MS: Record<string, number> = { m: MINUTE, h: 60 * MINUTE, d: DAY };

export function deviceName(name: string, flag = '--name'): string {
  if (!DEVICE_NAME.test(name))
    throw usage(
      `${flag} ${name}: 3 to 64 characters, lowercase letters, digits and -, starting with a letter or digit`,
    );
  return name;
}

export function profile(p: string): string {
  if (!PROFILE_PATTERN.test(p))
    throw usage(
      `--profile ${p}: family, beta or mandate:<id> (<id>: 1 to 32 lowercase letters, digits and -)`,
    );
  return p;
}

export function label(text: string | undefined): string | undefined {
  if (text !== undefined && text.length > 100) throw usage('--label: at most 100 characters');
  return text;
}

export function tokenId(id: string): string {
  if (!TOKEN_ID.test(id))
    throw usage(`${id}: an enrolment token id is et- and 16 hex digits (see \`token list\`)`);
  return id;
}

/** `--token-ttl`: 30d, 12h, 90m, or milliseconds; from 1 minute to 90 days. */
function duration(text: string, flag = '--token-ttl'): number {
  const m = /^([1-9]\d{0,9})([mhd]?)$/.exec(text.trim());
  const ms = m ? Number(m[1]) * (m[2] ? UNIT_MS[m[2]]! : 1) : NaN;
  if (!Number.isSafeInteger(ms))
    throw usage(`${flag} ${text}: give a duration such as 30d, 12h or 90m, or milliseconds`);
  if (ms < MINUTE) throw usage(`${flag} ${text}: at least 1 minute`);
  if (ms > MAX_TOKEN_TTL_MS) throw usage(`${flag} ${text}: at most 90d (an enrolment token is short-lived)`);
  return ms;
}

/** `--token-uses`: how many devices may enrol with one token, 1 to 100. */
function uses(text: string): number {
  const n = /^\d{1,3}$/.test(text.trim()) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_TOKEN_USES)) throw usage(`--token-uses ${text}: a whole number from 1 to 100`);
  return n;
}

/** The token options of a request: only those given (the server's defaults are 7 days, 1 use). */
export function tokenOptions(o: { tokenTtl?: string; tokenUses?: string }): {
  tokenTtlMs?: number;
  tokenUses?: number;
} {
  return {
    ...(o.tokenTtl !== undefined && { tokenTtlMs: duration(o.tokenTtl) }),
    ...(o.tokenUses !== undefined && { tokenUses: uses(o.tokenUses) }),
  };
}
