// The control server's database (issue 14): migrations, the import of the files kept before it,
// the online backup and its CLI.
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { EXIT } from '@appliance/runtime';
import { runCli } from '@appliance/test-kit';
import { DeviceRegistry } from '../src/registry.js';
import { DATABASE_FILE, Store, StoreError } from '../src/store/database.js';
import { importDataFiles } from '../src/store/import-files.js';
import { MIGRATIONS, type Migration } from '../src/store/migrations/index.js';
import {
  OLD_ADMIN_TOKEN,
  OLD_DEVICES,
  OLD_ENV_TOKEN,
  OLD_HISTORY,
  OLD_OVERRIDES,
  OLD_ROTATED_TOKEN,
  writeOldDataFiles,
} from './store-fixtures.js';
import { setup } from './helpers.js';

const OLD_FILES = ['admin-token.json', 'breaker-overrides.json', 'devices.json', 'eligibility-history.jsonl'];
const tmp = () => mkdtempSync(join(tmpdir(), 'cs-store-'));
const tables = (store: Store) =>
  (
    store.db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
      )
      .all() as { name: string }[]
  ).map((r) => r.name);

t.test('migrations apply in order, once each, and are recorded', async (t) => {
  const path = join(tmp(), DATABASE_FILE);
  const store = Store.open(path);
  t.equal(store.version(), MIGRATIONS.length);
  t.same(
    store.applied().map((m) => [m.version, m.name]),
    MIGRATIONS.map((m) => [m.version, m.name]),
  );
  const have = tables(store);
  for (const table of ['devices', 'device_tokens', 'eligibility_history', 'breaker_overrides', 'admin_token'])
    t.ok(have.includes(table), `table ${table}`);
  t.same(store.db.pragma('journal_mode', { simple: true }), 'wal');
  t.same(store.db.pragma('synchronous', { simple: true }), 2, 'synchronous = FULL');
  t.equal(statSync(path).mode & 0o777, 0o600, "the owner's only");
  const appliedAt = store.applied();
  store.close();

  const again = Store.open(path);
  t.same(again.applied(), appliedAt, 'reopening applies nothing again');
  again.close();

  // Only the first three on an old database, then all: each missing one is applied in order.
  const partial = join(tmp(), DATABASE_FILE);
  Store.open(partial, MIGRATIONS.slice(0, 3)).close();
  const upgraded = Store.open(partial);
  t.same(
    upgraded.applied().map((m) => m.version),
    MIGRATIONS.map((m) => m.version),
  );
  upgraded.close();

  t.throws(
    () => Store.open(':memory:', [MIGRATIONS[1]!]),
    { name: 'TypeError', message: /expected 1/ },
    'a migration list out of order is a programming error',
  );
});

t.test('a database written by a newer control server is refused and left as it is', async (t) => {
  const path = join(tmp(), DATABASE_FILE);
  const newer: Migration = { version: MIGRATIONS.length + 1, name: 'future', up: 'CREATE TABLE future (x)' };
  Store.open(path, [...MIGRATIONS, newer]).close();
  const err = t.throws(() => Store.open(path)) as StoreError;
  t.ok(err instanceof StoreError);
  t.match(err, {
    code: 'E_STORE_NEWER',
    message: `${path}: schema version ${newer.version}, this control server knows up to ${MIGRATIONS.length}: run the newer version, or restore a backup`,
  });
  const still = Store.open(path, [...MIGRATIONS, newer]);
  t.equal(still.version(), newer.version);
  still.close();
});

t.test('a failing migration leaves the schema as it was before it', async (t) => {
  const path = join(tmp(), DATABASE_FILE);
  Store.open(path, MIGRATIONS.slice(0, 2)).close();
  const broken: Migration = {
    version: 3,
    name: 'broken',
    up: 'CREATE TABLE half (x); INSERT INTO nowhere VALUES (1);',
  };
  t.throws(() => Store.open(path, [...MIGRATIONS.slice(0, 2), broken]), {
    code: 'E_STORE_MIGRATION',
    message: /^.*: migration 3 \(broken\): no such table: nowhere$/,
  });
  const store = Store.open(path, MIGRATIONS.slice(0, 2));
  t.equal(store.version(), 2);
  t.notOk(tables(store).includes('half'), 'the first half of the migration is rolled back');
  store.close();
});

t.test('a file that is not a database stops the start with E_STORE_OPEN', async (t) => {
  const dir = tmp();
  writeFileSync(join(dir, DATABASE_FILE), 'not a database, just text '.repeat(100));
  t.throws(() => Store.open(join(dir, DATABASE_FILE)), {
    code: 'E_STORE_OPEN',
    message: /control\.sqlite: file is not a database/,
  });
});

t.test(
  "today's data files are imported on the first start, renamed, and a restart reads the same state",
  async (t) => {
    const dir = tmp();
    writeOldDataFiles(dir);
    const first = await setup(t, { dataDir: dir }, OLD_ENV_TOKEN);
    const call = (method: string, path: string, body?: unknown) =>
      first.call(method, path, body, OLD_ROTATED_TOKEN);
    t.same(readdirSync(dir).sort(), [
      'admin-token.json.migrated',
      'breaker-overrides.json.migrated',
      'control.sqlite',
      'control.sqlite-shm',
      'control.sqlite-wal',
      'devices.json.migrated',
      'eligibility-history.jsonl.migrated',
    ]);
    const devices = (await call('GET', '/api/devices')).body;
    t.same(devices, { devices: OLD_DEVICES }, 'every device with its tokens, paper accounts and revocation');
    t.equal((await first.call('GET', '/api/fleet')).status, 401, 'the rotated admin token is in force');
    const token = (await call('GET', '/api/admin-token')).body;
    t.same(token, {
      source: 'rotated',
      rotatedAt: OLD_ADMIN_TOKEN.rotatedAt,
      rotatedFrom: OLD_ADMIN_TOKEN.rotatedFrom,
    });
    const history = (await call('GET', '/api/eligibility/history')).body;
    t.match(history, { entries: [...OLD_HISTORY].reverse() });
    const eligibility = (await call('GET', '/api/eligibility')).body;
    t.match(eligibility, { streams: { 'ema.1h': { symbols: ['ETH/USDT'] } } }, 'the pin and the block apply');
    const breaker = (await call('GET', '/api/breaker')).body as { overrides: unknown };
    t.same(breaker.overrides, OLD_OVERRIDES);
    // A change after the import follows on from the imported state.
    t.equal((await call('POST', '/api/devices', { id: 'home-3', scope: 'beta' })).status, 201);
    await first.server.close();

    const second = await setup(t, { dataDir: dir }, OLD_ENV_TOKEN);
    const again = (method: string, path: string) => second.call(method, path, undefined, OLD_ROTATED_TOKEN);
    t.same(
      ((await again('GET', '/api/devices')).body.devices as { id: string }[]).map((d) => d.id),
      ['evil-1', 'home-1', 'home-2', 'home-3'],
    );
    t.same(((await again('GET', '/api/devices')).body.devices as unknown[]).slice(0, 3), OLD_DEVICES);
    t.same((await again('GET', '/api/eligibility/history')).body, history);
    t.same((await again('GET', '/api/breaker')).body.overrides, OLD_OVERRIDES);
    t.same((await again('GET', '/api/admin-token')).body, token);
    t.same(
      readdirSync(dir).filter((f) => f.endsWith('.migrated')).length,
      4,
      'nothing imported twice, nothing deleted',
    );
  },
);

t.test('a corrupt old file stops the start with its own error and imports nothing', async (t) => {
  const cases: [file: string, text: string, code: string, message: RegExp][] = [
    [
      'devices.json',
      '{"v":1,"devices":[{"id":"X"}]}',
      'E_REGISTRY_CORRUPT',
      /^device registry .*devices\.json is unreadable/,
    ],
    [
      'breaker-overrides.json',
      '{"v":2}',
      'E_BREAKER_OVERRIDES_CORRUPT',
      /^breaker overrides .*breaker-overrides\.json are unreadable/,
    ],
    [
      'admin-token.json',
      '{"v":1,"sha256":"nope"}',
      'E_ADMIN_TOKEN_CORRUPT',
      /^admin token file .*admin-token\.json is unreadable \(remove it to use CONTROL_ADMIN_TOKEN\)/,
    ],
    [
      'eligibility-history.jsonl',
      'not json\n',
      'E_ELIGIBILITY_HISTORY_CORRUPT',
      /^eligibility history .*eligibility-history\.jsonl line 1 is unreadable/,
    ],
  ];
  for (const [file, text, code, message] of cases) {
    const dir = tmp();
    writeOldDataFiles(dir);
    writeFileSync(join(dir, file), text);
    const store = Store.open(join(dir, DATABASE_FILE));
    await t.rejects(
      importDataFiles(store, dir, () => undefined),
      { code, message },
      file,
    );
    const counts = [
      'devices',
      'eligibility_history',
      'breaker_overrides',
      'admin_token',
      'imported_files',
    ].map((table) => (store.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);
    t.same(counts, [0, 0, 0, 0, 0], `${file}: nothing imported`);
    t.same(readdirSync(dir).filter((f) => OLD_FILES.includes(f)).length, 4, `${file}: every file in place`);
    store.close();
  }
});

t.test('an import cut short before the renames is finished on the next start, not repeated', async (t) => {
  const dir = tmp();
  writeOldDataFiles(dir);
  const store = Store.open(join(dir, DATABASE_FILE));
  const imported = await importDataFiles(store, dir, () => undefined);
  t.same(
    imported.map((i) => [i.outcome, i.rows]),
    [
      ['imported', 3],
      ['imported', 2],
      ['imported', 2],
      ['imported', 1],
    ],
  );
  // As if the process died after the commit: the files are back under their names.
  writeOldDataFiles(dir);
  const warnings: string[] = [];
  const finished = await importDataFiles(store, dir, (m) => warnings.push(m));
  t.same(
    finished.map((i) => i.outcome),
    ['finished', 'finished', 'finished', 'finished'],
  );
  t.same(
    finished.map((i) => i.renamedTo?.endsWith('.migrated.2')),
    [true, true, true, true],
    'an earlier .migrated is never overwritten',
  );
  t.equal((await DeviceRegistry.open(store)).list().length, 3, 'nothing imported twice');

  // A different devices.json beside a registry that has rows is left alone, with a warning.
  writeFileSync(join(dir, 'devices.json'), JSON.stringify({ v: 1, devices: [] }));
  t.same(await importDataFiles(store, dir, (m) => warnings.push(m)), []);
  t.match(warnings, [/devices\.json: not imported, the database already holds devices/]);
  t.ok(existsSync(join(dir, 'devices.json')));
  store.close();
});

t.test('a backup taken while the server writes opens with the same rows', async (t) => {
  const dir = tmp();
  const store = Store.open(join(dir, DATABASE_FILE));
  const registry = await DeviceRegistry.open(store);
  for (let i = 0; i < 200; i++) await registry.create({ id: `dev-${i}` }, i);
  let writing = true;
  let n = 200;
  const writer = (async () => {
    while (writing) {
      await registry.create({ id: `dev-${n}` }, n);
      n++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  const out = join(dir, 'backup.sqlite');
  const { pages } = await store.backup(out);
  t.ok(pages > 0);
  writing = false;
  await writer;

  const copy = Store.open(out, MIGRATIONS, { mustExist: true });
  t.equal(copy.version(), store.version());
  const ids = (await DeviceRegistry.open(copy)).list().map((d) => d.id);
  t.ok(ids.length >= 200, `${ids.length} devices in the copy`);
  const all = new Set(registry.list().map((d) => d.id));
  t.ok(
    ids.every((id) => all.has(id)),
    'a consistent copy: every device in it is one the server has',
  );
  t.equal(statSync(out).mode & 0o777, 0o600);
  t.same(
    readdirSync(dir).filter((f) => f.includes('.tmp')),
    [],
    'no temporary file left',
  );
  copy.close();
  store.close();
});

t.test('npm run control-db: status and backup while the database is open, exit codes', async (t) => {
  const dir = tmp();
  const store = Store.open(join(dir, DATABASE_FILE));
  const registry = await DeviceRegistry.open(store);
  await registry.create({ id: 'dev-1' }, 1);
  await registry.create({ id: 'dev-2' }, 2);

  const status = runCli('control-server/src/store/cli.ts', ['status', '--data-dir', dir, '--json']);
  t.equal(status.status, EXIT.ok, status.stderr);
  t.match(JSON.parse(status.stdout), {
    version: MIGRATIONS.length,
    known: MIGRATIONS.length,
    rows: { devices: 2, device_tokens: 0, schema_migrations: MIGRATIONS.length },
  });
  const text = runCli('control-server/src/store/cli.ts', ['status', '--data-dir', dir]);
  t.match(text.stdout, new RegExp(`schema version: ${MIGRATIONS.length}; this code knows up to`));
  t.match(text.stdout, /\n {2}devices: 2\n/);

  const out = join(dir, 'copy.sqlite');
  const backup = runCli('control-server/src/store/cli.ts', ['backup', '--data-dir', dir, '--out', out]);
  t.equal(backup.status, EXIT.ok, backup.stderr);
  t.match(backup.stdout, /^backup: .*copy\.sqlite \(schema version \d+, \d+ pages, \d+ bytes\)\n$/);
  const copy = Store.open(out, MIGRATIONS, { mustExist: true });
  t.same(
    (await DeviceRegistry.open(copy)).list().map((d) => d.id),
    ['dev-1', 'dev-2'],
  );
  copy.close();
  store.close();

  const none = runCli('control-server/src/store/cli.ts', ['status', '--data-dir', join(dir, 'nope')]);
  t.equal(none.status, EXIT.config);
  t.match(none.stderr, /^control-db: --data-dir .*nope: no control\.sqlite there\n$/);
  const self = runCli('control-server/src/store/cli.ts', [
    'backup',
    '--data-dir',
    dir,
    '--out',
    join(dir, DATABASE_FILE),
  ]);
  t.equal(self.status, EXIT.config);
  t.match(self.stderr, /that is the database itself/);
  const noOut = runCli('control-server/src/store/cli.ts', ['backup', '--data-dir', dir]);
  t.equal(noOut.status, EXIT.config);
  const unwritable = runCli('control-server/src/store/cli.ts', [
    'backup',
    '--data-dir',
    dir,
    '--out',
    join(dir, 'no-such-folder', 'copy.sqlite'),
  ]);
  t.equal(unwritable.status, EXIT.failure);
  t.match(unwritable.stderr, /^control-db: .*copy\.sqlite: /);
});
