#!/usr/bin/env node
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { errorClass } from '@appliance/errors';
import { EXIT, exitWith } from '@appliance/runtime';
import { DATABASE_FILE, Store, StoreError } from './database.js';
import { MIGRATIONS } from './migrations/index.js';

/**
 * `npm run control-db -- backup|status`: the control server's database from a terminal, while
 * the server runs (WAL: readers and SQLite's backup API do not stop its writes). Neither command
 * migrates or creates the database. Documented in control-server/README.md (## Storage).
 */
class ControlDbError extends errorClass('ControlDbError', {
  E_USAGE: 'a flag is missing or not valid',
}) {}

const program = new Command('control-db')
  .description("the control server's database (DATA_DIR/control.sqlite): online backup and status")
  .exitOverride()
  .showHelpAfterError();

const dataDirOption = () =>
  new Option('--data-dir <dir>', "the control server's data folder")
    .env('CONTROL_DATA_DIR')
    .default('.data/control');

/** The data folder's database, as it is: never created, never migrated. */
function openExisting(dataDir: string): Store {
  const path = join(dataDir, DATABASE_FILE);
  if (!existsSync(path))
    throw new ControlDbError('E_USAGE', `--data-dir ${dataDir}: no ${DATABASE_FILE} there`);
  return Store.open(path, MIGRATIONS, { mustExist: true, migrate: false });
}

program
  .command('backup')
  .description('a consistent copy of the database, taken while the server runs (SQLite backup API)')
  .addOption(dataDirOption())
  .requiredOption('--out <file>', 'where to write the copy (replaced whole, never half-written)')
  .action(async (o: { dataDir: string; out: string }) => {
    if (resolve(o.out) === resolve(o.dataDir, DATABASE_FILE))
      throw new ControlDbError('E_USAGE', `--out ${o.out}: that is the database itself`);
    const store = openExisting(o.dataDir);
    try {
      const { pages } = await store.backup(o.out);
      process.stdout.write(
        `backup: ${o.out} (schema version ${store.version()}, ${pages} pages, ${statSync(o.out).size} bytes)\n`,
      );
    } finally {
      store.close();
    }
  });

program
  .command('status')
  .description('the schema version, the migrations applied and the rows per table')
  .addOption(dataDirOption())
  .option('--json', 'print it as JSON')
  .action((o: { dataDir: string; json?: boolean }) => {
    const store = openExisting(o.dataDir);
    try {
      const tables = (
        store.db
          .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
          )
          .all() as { name: string }[]
      ).map((t) => t.name);
      const rows = Object.fromEntries(
        tables.map((name) => [
          name,
          (store.db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n,
        ]),
      );
      const status = {
        path: store.path,
        version: store.version(),
        known: MIGRATIONS.at(-1)?.version ?? 0,
        migrations: store.applied(),
        rows,
      };
      if (o.json) {
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
        return;
      }
      const newer = status.version > status.known ? ' (newer than this code)' : '';
      const lines = [
        `database: ${status.path}`,
        `schema version: ${status.version}${newer}; this code knows up to ${status.known}`,
        ...status.migrations.map(
          (m) => `  ${m.version} ${m.name}, applied ${new Date(m.appliedAt).toISOString()}`,
        ),
        'rows:',
        ...tables.map((name) => `  ${name}: ${rows[name]}`),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    } finally {
      store.close();
    }
  });

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.config);
  if (err instanceof ControlDbError) exitWith(EXIT.config, `control-db: ${err.message}`);
  if (err instanceof StoreError)
    exitWith(err.code === 'E_STORE_BACKUP' ? EXIT.failure : EXIT.config, `control-db: ${err.message}`);
  throw err;
}
