import type { Store } from './store/database.js';

/** One spending policy version of a profile, as stored (never changed once written). */
export interface PolicyVersion {
  profile: string;
  version: number;
  /** The policy as validated (trading-core's CentralPolicy, defaults applied). */
  policy: Record<string, unknown>;
  createdAt: number;
  /** The operator's name, or `operator at <address>`. */
  by: string;
  note: string | null;
  /** The earlier version whose content this one copied (a rollback), else null. */
  rolledBackFrom: number | null;
}

export type PolicyDraft = Omit<PolicyVersion, 'profile' | 'version'>;

interface Row {
  profile: string;
  version: number;
  content: string;
  created_at: number;
  by: string;
  note: string | null;
  rolled_back_from: number | null;
}

const toVersion = (r: Row): PolicyVersion => ({
  profile: r.profile,
  version: r.version,
  policy: JSON.parse(r.content) as Record<string, unknown>,
  createdAt: r.created_at,
  by: r.by,
  note: r.note,
  rolledBackFrom: r.rolled_back_from,
});

/** The `policy_versions` table (migration 004): versions 1, 2, 3 … per profile. */
export class PolicyRepository {
  constructor(private readonly store: Store) {}

  /** Writes the next version of `profile` (its latest + 1, or 1) in one transaction. */
  append(profile: string, d: PolicyDraft): PolicyVersion {
    const db = this.store.db;
    return db.transaction(() => {
      const { v } = db
        .prepare('SELECT coalesce(max(version), 0) AS v FROM policy_versions WHERE profile = ?')
        .get(profile) as { v: number };
      const version = v + 1;
      db.prepare(
        'INSERT INTO policy_versions (profile, version, content, created_at, by, note, rolled_back_from) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ).run(profile, version, JSON.stringify(d.policy), d.createdAt, d.by, d.note, d.rolledBackFrom);
      return { profile, version, ...d };
    })();
  }

  get(profile: string, version: number): PolicyVersion | undefined {
    const r = this.store.db
      .prepare('SELECT * FROM policy_versions WHERE profile = ? AND version = ?')
      .get(profile, version) as Row | undefined;
    return r && toVersion(r);
  }

  /** Every version of `profile`, newest first. */
  versions(profile: string): PolicyVersion[] {
    return (
      this.store.db
        .prepare('SELECT * FROM policy_versions WHERE profile = ? ORDER BY version DESC')
        .all(profile) as Row[]
    ).map(toVersion);
  }

  /** The latest version of every profile, by profile name. */
  latest(): PolicyVersion[] {
    return (
      this.store.db
        .prepare(
          `SELECT p.* FROM policy_versions p
           JOIN (SELECT profile, max(version) AS version FROM policy_versions GROUP BY profile) m
             ON m.profile = p.profile AND m.version = p.version
           ORDER BY p.profile`,
        )
        .all() as Row[]
    ).map(toVersion);
  }
}
