import { createHash } from 'node:crypto';
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { readFileIfExists } from '@appliance/runtime';
import { ADMIN_TOKEN_FILE, parseAdminTokenFile, writeAdminTokenRow } from '../admin-auth.js';
import { BREAKER_OVERRIDES_FILE, parseOverridesFile, writeOverrideRows } from '../breaker-overrides.js';
import { ELIGIBILITY_HISTORY_FILE, insertHistoryRows, parseHistoryFile } from '../eligibility-history.js';
import { REGISTRY_FILE, parseRegistryFile, writeDeviceRows } from '../registry.js';
import type { Db, Store } from './database.js';

/** What the import did with each of the data folder's old files. */
export interface FileImport {
  file: string;
  /** `imported`: its rows are in the database now; `finished`: imported by a start that stopped before renaming it. */
  outcome: 'imported' | 'finished';
  rows: number;
  /** Where the file is now (`<file>.migrated`), when it was renamed. */
  renamedTo?: string;
}

/** One of today's files: how to read it (throwing its own *_CORRUPT error) and write its rows. */
interface OldFile {
  name: string;
  table: string;
  read: (text: string, path: string, warn: (msg: string) => void) => (db: Db) => number;
}

const OLD_FILES: readonly OldFile[] = [
  {
    name: REGISTRY_FILE,
    table: 'devices',
    read: (text, path) => {
      const devices = parseRegistryFile(text, path);
      return (db) => (writeDeviceRows(db, devices), devices.length);
    },
  },
  {
    name: ELIGIBILITY_HISTORY_FILE,
    table: 'eligibility_history',
    read: (text, path, warn) => {
      const entries = parseHistoryFile(text, path, warn);
      return (db) => (insertHistoryRows(db, entries), entries.length);
    },
  },
  {
    name: BREAKER_OVERRIDES_FILE,
    table: 'breaker_overrides',
    read: (text, path) => {
      const overrides = parseOverridesFile(text, path);
      return (db) => (writeOverrideRows(db, overrides), overrides.length);
    },
  },
  {
    name: ADMIN_TOKEN_FILE,
    table: 'admin_token',
    read: (text, path) => {
      const file = parseAdminTokenFile(text, path);
      return (db) => (writeAdminTokenRow(db, file), 1);
    },
  },
];

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** `<file>.migrated`, or `<file>.migrated.2`, … when an earlier one is there: never overwritten. */
function migratedName(path: string): string {
  let target = `${path}.migrated`;
  for (let n = 2; existsSync(target); n++) target = `${path}.migrated.${n}`;
  return target;
}

/**
 * The first start on the database: the files the control server kept before it (devices.json,
 * eligibility-history.jsonl, breaker-overrides.json, admin-token.json) are read and checked
 * whole first (a corrupt one throws its own error, as it did, and nothing is imported), then
 * imported in one transaction, each only into an empty table, and only then renamed to
 * `<file>.migrated` (never deleted). A crash between the commit and the renames is finished on
 * the next start (the import is recorded in `imported_files`); a file found beside tables that
 * already have rows and that was never imported is left where it is, with a warning.
 */
export async function importDataFiles(
  store: Store,
  dataDir: string,
  warn: (msg: string) => void,
): Promise<FileImport[]> {
  const { db } = store;
  const recorded = db.prepare('SELECT sha256 FROM imported_files WHERE name = ?');
  const plan: { old: OldFile; path: string; hash: string; write?: (db: Db) => number }[] = [];
  for (const old of OLD_FILES) {
    const path = join(dataDir, old.name);
    const text = await readFileIfExists(path);
    if (text === undefined) continue;
    const hash = sha256(text);
    const before = recorded.get(old.name) as { sha256: string } | undefined;
    if (before?.sha256 === hash) {
      plan.push({ old, path, hash });
      continue;
    }
    const empty = db.prepare(`SELECT count(*) AS n FROM ${old.table}`).get() as { n: number };
    if (before || empty.n > 0) {
      warn(
        `${path}: not imported, the database already holds ${old.table} (it is what is in force); move the file away`,
      );
      continue;
    }
    plan.push({ old, path, hash, write: old.read(text, path, warn) });
  }
  const rows = new Map<string, number>();
  db.transaction(() => {
    const record = db.prepare('INSERT INTO imported_files (name, sha256, imported_at) VALUES (?, ?, ?)');
    for (const p of plan) {
      if (!p.write) continue;
      rows.set(p.old.name, p.write(db));
      record.run(p.old.name, p.hash, Date.now());
    }
  })();
  return plan.map((p) => {
    const renamedTo = migratedName(p.path);
    renameSync(p.path, renamedTo);
    return {
      file: p.path,
      outcome: p.write ? 'imported' : 'finished',
      rows: rows.get(p.old.name) ?? 0,
      renamedTo,
    };
  });
}
