import type { Logger } from 'pino';
import { z } from 'zod';
import { errorClass } from '@appliance/errors';
import { CentralPolicy } from '@appliance/trading-core';
import type { RequestOrigin } from './audit.js';
import { PolicyRepository, type PolicyVersion } from './policy-repository.js';
import type { Store } from './store/database.js';

/**
 * Profiles that hold a spending policy: a device profile (protocol's PROFILE_PATTERN), or `house`
 * (the datafeed's house portfolio).
 */
const POLICY_PROFILE_PATTERN = /^(house|family|beta|mandate:[a-z0-9-]{1,32})$/;

export const POLICY_API_ERROR_CODES = {
  E_INVALID: 'the request is not valid (the message names the field)',
  E_POLICY_INVALID: "the policy does not pass the devices' policy schema (the message names the field)",
  E_POLICY_UNKNOWN: 'no such profile, or no such version of it',
} as const;

/** A refused policy request; `POLICY_API_STATUS` gives its HTTP status. Nothing was stored. */
export class PolicyApiError extends errorClass('PolicyApiError', POLICY_API_ERROR_CODES) {}

export const POLICY_API_STATUS: Record<keyof typeof POLICY_API_ERROR_CODES, number> = {
  E_INVALID: 400,
  E_POLICY_INVALID: 400,
  E_POLICY_UNKNOWN: 404,
};

/** What the control server publishes for a profile: the latest version and its content. */
export interface PolicyInForce {
  version: number;
  policy: Record<string, unknown>;
}

/** One field that differs between two versions (absent `from`/`to`: the field is not there). */
export interface PolicyChange {
  path: string;
  from?: unknown;
  to?: unknown;
}

const operator = z.string().trim().min(1).max(64).optional();
const CreateRequest = z.strictObject({
  policy: z.record(z.string(), z.unknown(), 'an object is required'),
  note: z.string().trim().max(300).optional(),
  operator,
});
const RollbackRequest = z.strictObject({
  to: z.number().int().min(1, 'a version number, 1 or more'),
  note: z.string().trim().max(300).optional(),
  operator,
});

const issueText = (e: z.ZodError, prefix = '') => {
  const i = e.issues[0];
  const path = [prefix, ...(i?.path ?? []).map(String)].filter(Boolean).join('.');
  return `${path || 'body'}: ${i?.message ?? 'invalid'}`;
};

function parse<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input ?? {});
  if (!r.success) throw new PolicyApiError('E_INVALID', issueText(r.error));
  return r.data;
}

/** Checks a policy with trading-core's CentralPolicy, the schema devices apply it with. */
function validatePolicy(policy: unknown): Record<string, unknown> {
  const r = CentralPolicy.safeParse(policy);
  if (!r.success) throw new PolicyApiError('E_POLICY_INVALID', issueText(r.error, 'policy'));
  return r.data as Record<string, unknown>;
}

/** Field by field, depth first: each leaf that differs, with its path (`schedule.mon.0.maxSpend`). */
function diffPolicies(a: unknown, b: unknown, path = ''): PolicyChange[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
  if (isObj(a) && isObj(b) && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    if (!Array.isArray(a)) keys.sort();
    const changes: PolicyChange[] = [];
    for (const k of keys) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in b)) changes.push({ path: p, from: a[k] });
      else if (!(k in a)) changes.push({ path: p, to: b[k] });
      else changes.push(...diffPolicies(a[k], b[k], p));
    }
    return changes;
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [{ path: path || '(policy)', from: a, to: b }];
}

export interface PolicyServiceOptions {
  store: Store;
  /**
   * Version 1 of each profile that has none yet (the first start: `family` from
   * DEFAULT_FAMILY_POLICY, and the server's `policies` option). Validated like any new version.
   */
  seed: Record<string, Record<string, unknown>>;
  now: () => number;
  logger: Logger;
}

/**
 * Spending policies per profile, versioned: every change is a new version (1, 2, 3 …), validated
 * with the schema devices use, stored, then published (`onChange`) as the profile's policy with
 * its version. A rollback is a new version with an earlier one's content, so devices, which
 * ignore older control messages, take it. History is kept in the database.
 */
export class PolicyService {
  readonly #repo: PolicyRepository;
  readonly #o: PolicyServiceOptions;
  /** Publishes a profile's version in force; set once the control publisher exists. */
  onChange: (profile: string, p: PolicyInForce) => Promise<void> = async () => {};

  constructor(o: PolicyServiceOptions) {
    this.#o = o;
    this.#repo = new PolicyRepository(o.store);
    const have = new Set(this.#repo.latest().map((v) => v.profile));
    for (const [profile, policy] of Object.entries(o.seed)) {
      if (have.has(profile)) continue;
      if (!POLICY_PROFILE_PATTERN.test(profile))
        throw new PolicyApiError('E_INVALID', `policies: ${JSON.stringify(profile)} is not a profile`);
      this.#repo.append(profile, {
        policy: validatePolicy(policy),
        createdAt: o.now(),
        by: 'control-server (first start)',
        note: 'seeded at start',
        rolledBackFrom: null,
      });
      o.logger.info({ profile }, 'policy version 1 seeded');
    }
  }

  /** The latest version of every profile: what is published. */
  inForce(): Record<string, PolicyInForce> {
    return Object.fromEntries(
      this.#repo.latest().map((v) => [v.profile, { version: v.version, policy: v.policy }]),
    );
  }

  /** The latest version number per profile (the fleet view's lag). */
  latestVersions(): Record<string, number> {
    return Object.fromEntries(this.#repo.latest().map((v) => [v.profile, v.version]));
  }

  list(): { profiles: Omit<PolicyVersion, 'policy'>[] } {
    return { profiles: this.#repo.latest().map(({ policy: _p, ...v }) => v) };
  }

  versions(profile: string): { profile: string; versions: PolicyVersion[] } {
    const versions = this.#repo.versions(checkProfile(profile));
    if (versions.length === 0) throw new PolicyApiError('E_POLICY_UNKNOWN', `${profile}: no policy`);
    return { profile, versions };
  }

  get(profile: string, version: unknown): PolicyVersion {
    const n = versionNumber(version, 'version');
    const v = this.#repo.get(checkProfile(profile), n);
    if (!v) throw new PolicyApiError('E_POLICY_UNKNOWN', `${profile}: no version ${n}`);
    return v;
  }

  /** A new version: validated, stored, then published. Nothing is stored when it is refused. */
  async create(profile: string, body: unknown, from: RequestOrigin): Promise<PolicyVersion> {
    checkProfile(profile);
    const r = parse(CreateRequest, body);
    const policy = validatePolicy(r.policy);
    return this.#append(profile, policy, r.operator, from, r.note ?? null, null);
  }

  /** Publishes version `to`'s content again, as a new version. */
  async rollback(profile: string, body: unknown, from: RequestOrigin): Promise<PolicyVersion> {
    checkProfile(profile);
    const r = parse(RollbackRequest, body);
    const old = this.#repo.get(profile, r.to);
    if (!old) throw new PolicyApiError('E_POLICY_UNKNOWN', `${profile}: no version ${r.to}`);
    // Re-checked: an old version must still pass the schema today's devices use.
    const policy = validatePolicy(old.policy);
    const note = r.note ?? `rollback to version ${r.to}`;
    return this.#append(profile, policy, r.operator, from, note, r.to);
  }

  diff(profile: string, fromV: unknown, toV: unknown) {
    const a = this.get(profile, versionNumber(fromV, 'from'));
    const b = this.get(profile, versionNumber(toV, 'to'));
    return { profile, from: a.version, to: b.version, changes: diffPolicies(a.policy, b.policy) };
  }

  async #append(
    profile: string,
    policy: Record<string, unknown>,
    operatorName: string | undefined,
    from: RequestOrigin,
    note: string | null,
    rolledBackFrom: number | null,
  ): Promise<PolicyVersion> {
    const v = this.#repo.append(profile, {
      policy,
      createdAt: this.#o.now(),
      by: operatorName ?? `operator at ${from.remote}`,
      note,
      rolledBackFrom,
    });
    this.#o.logger.warn(
      { profile, version: v.version, by: v.by, rolledBackFrom, from },
      rolledBackFrom === null ? 'policy version created' : 'policy rolled back',
    );
    await this.onChange(profile, { version: v.version, policy: v.policy });
    return v;
  }
}

function checkProfile(profile: string): string {
  if (!POLICY_PROFILE_PATTERN.test(profile))
    throw new PolicyApiError(
      'E_INVALID',
      `profile: ${JSON.stringify(profile.slice(0, 80))} is not family, beta, mandate:<id> or house`,
    );
  return profile;
}

function versionNumber(v: unknown, name: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^[1-9]\d{0,8}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 1)
    throw new PolicyApiError('E_INVALID', `${name}: a version number, 1 or more`);
  return n;
}
