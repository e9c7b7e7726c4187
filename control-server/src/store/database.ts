import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { errorClass } from '@appliance/errors';
import { MIGRATIONS, type Migration } from './migrations/index.js';

/** The control server's database file, in its data folder. */
export const DATABASE_FILE = 'control.sqlite';

export class StoreError extends errorClass('StoreError', {
  E_STORE_OPEN: 'the database cannot be opened',
  E_STORE_NEWER: 'the database was written by a newer version of the control server',
  E_STORE_MIGRATION: 'a migration failed; the database is as it was before it',
  E_STORE_BACKUP: 'the backup could not be written',
}) {}

export type Db = Database.Database;

/** How `Store.open` treats the schema: bring it up to date (the server), or only read it (the CLI). */
export interface StoreOpenOptions {
  /** The file must exist already (the CLI never creates an empty database by mistake). */
  mustExist?: boolean;
  /** Apply the pending migrations (default). `false`: open as it is, whatever its version. */
  migrate?: boolean;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** fsyncs a file or a folder (a rename lives in the folder's entry). */
function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The control server's state in SQLite (better-sqlite3: synchronous, one connection, so a
 * statement never interleaves with another request's). Repositories take `store.db` and own
 * their tables; every schema change is a numbered migration in `migrations/`, applied in order
 * inside one transaction each, so a crash mid-migration leaves the previous schema.
 *
 * WAL with `synchronous = FULL`: a committed change survives a power cut (an acknowledged
 * command, a device token, a policy version). `:memory:` for tests and a server without a data
 * folder.
 */
export class Store {
  private constructor(
    readonly db: Db,
    readonly path: string,
  ) {}

  static open(
    path: string,
    migrations: readonly Migration[] = MIGRATIONS,
    options: StoreOpenOptions = {},
  ): Store {
    checkOrder(migrations);
    const memory = path === ':memory:' || path === '';
    let db: Db | undefined;
    try {
      if (!memory && !options.mustExist) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      db = new Database(path, { fileMustExist: options.mustExist ?? false });
      // Registry rows hold token fingerprints and the admin token's hash: the owner's only. The
      // -wal and -shm files SQLite creates take the database file's mode.
      if (!memory && !options.mustExist) chmodSync(path, 0o600);
      // Before anything that locks: another process (the backup CLI) may hold the file a moment.
      db.pragma('busy_timeout = 5000');
      const mode = db.pragma('journal_mode = WAL', { simple: true }) as string;
      if (!memory && mode !== 'wal') throw new Error(`journal_mode is ${mode}, WAL is needed`);
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.exec(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
      );
    } catch (err) {
      db?.close();
      throw new StoreError('E_STORE_OPEN', `${path}: ${message(err)}`, { cause: err });
    }
    const store = new Store(db, path);
    try {
      if (options.migrate ?? true) store.#migrate(migrations);
    } catch (err) {
      db.close();
      throw err;
    }
    return store;
  }

  /** The schema version in force (the highest migration applied). */
  version(): number {
    return (
      (this.db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v ??
      0
    );
  }

  /** The migrations applied, oldest first. */
  applied(): { version: number; name: string; appliedAt: number }[] {
    return this.db
      .prepare('SELECT version, name, applied_at AS appliedAt FROM schema_migrations ORDER BY version')
      .all() as { version: number; name: string; appliedAt: number }[];
  }

  #migrate(migrations: readonly Migration[]): void {
    const known = migrations.at(-1)?.version ?? 0;
    const refuseNewer = (current: number) => {
      if (current > known)
        throw new StoreError(
          'E_STORE_NEWER',
          `${this.path}: schema version ${current}, this control server knows up to ${known}: run the newer version, or restore a backup`,
        );
    };
    refuseNewer(this.version());
    for (const m of migrations) {
      if (m.version <= this.version()) continue;
      try {
        // IMMEDIATE: the version is read again under the write lock, so two processes opening
        // the same new file cannot both apply a migration (the second finds it applied).
        this.db
          .transaction(() => {
            const current = this.version();
            refuseNewer(current);
            if (m.version <= current) return;
            this.db.exec(m.up);
            this.db
              .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
              .run(m.version, m.name, Date.now());
          })
          .immediate();
      } catch (err) {
        if (err instanceof StoreError) throw err;
        throw new StoreError(
          'E_STORE_MIGRATION',
          `${this.path}: migration ${m.version} (${m.name}): ${message(err)}`,
          { cause: err },
        );
      }
    }
  }

  /**
   * An online backup to `dest` (SQLite's backup API: consistent, while the server keeps
   * writing). Written beside `dest`, fsynced and renamed, so `dest` is never half a database
   * and survives a power cut once this resolves.
   */
  async backup(dest: string): Promise<{ pages: number }> {
    const tmp = join(dirname(dest), `.${basename(dest)}.${process.pid}.tmp`);
    try {
      // Created first with the owner's mode: the copy holds what the database holds.
      writeFileSync(tmp, '', { mode: 0o600 });
      const r = await this.db.backup(tmp);
      fsyncPath(tmp);
      renameSync(tmp, dest);
      fsyncPath(dirname(dest));
      return { pages: r.totalPages };
    } catch (err) {
      rmSync(tmp, { force: true });
      throw new StoreError('E_STORE_BACKUP', `${dest}: ${message(err)}`, { cause: err });
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Migrations must be numbered 1, 2, 3… in order: a gap or a repeat is a programming error. */
function checkOrder(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new TypeError(`migration ${m.name}: version ${m.version}, expected ${i + 1} (in order, from 1)`);
  });
}
