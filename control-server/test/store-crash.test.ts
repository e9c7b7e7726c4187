// kill -9 mid-write (issue 14): a process registering devices in a loop is killed at a random
// moment; the database opens, and every device the process reported as committed is there.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { REPO_ROOT } from '@appliance/test-kit';
import { DeviceRegistry } from '../src/registry.js';
import { DATABASE_FILE, Store } from '../src/store/database.js';

const src = (file: string) => pathToFileURL(join(REPO_ROOT, 'control-server/src', file)).href;

/** The writer: prints each device id once `create` has resolved, i.e. once its commit returned. */
const WRITER = `
import { DeviceRegistry } from ${JSON.stringify(src('registry.ts'))};
import { Store } from ${JSON.stringify(src('store/database.ts'))};
const store = Store.open(process.argv[2]);
const registry = await DeviceRegistry.open(store);
process.stdout.write('ready\\n');
for (let i = 0; ; i++) {
  const id = 'dev-' + process.argv[3] + '-' + i;
  await registry.create({ id, label: 'x'.repeat(90) }, Date.now());
  await registry.recordToken(id, {
    issuedAt: 1, expiresAt: 2, fingerprint: '0123456789abcdef', from: { remote: 'r', userAgent: 'u' },
  });
  process.stdout.write(id + '\\n');
}
`;

function runAndKill(script: string, db: string, round: number, afterMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, db, String(round)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      const ready = !out.includes('ready\n');
      out += d;
      if (ready && out.includes('ready\n')) setTimeout(() => child.kill('SIGKILL'), afterMs);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited ${code}: ${err}`));
      // Only whole lines: a line cut short was not reported in full.
      else
        resolve(
          out
            .split('\n')
            .slice(0, -1)
            .filter((l) => l.startsWith('dev-')),
        );
    });
  });
}

t.test('kill -9 mid-write: the database opens and holds every committed device', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-crash-'));
  const script = join(dir, 'writer.mts');
  writeFileSync(script, WRITER);
  const db = join(dir, DATABASE_FILE);
  const committed: string[] = [];
  for (let round = 0; round < 3; round++) {
    const afterMs = 100 + Math.floor(Math.random() * 400);
    const ids = await runAndKill(script, db, round, afterMs);
    committed.push(...ids);
    const store = Store.open(db);
    t.teardown(() => store.close());
    const registry = await DeviceRegistry.open(store);
    const have = new Set(registry.list().map((d) => d.id));
    const missing = committed.filter((id) => !have.has(id));
    t.same(missing, [], `round ${round}: killed after ${afterMs} ms, ${ids.length} reported, none missing`);
    t.ok(ids.length > 0, `round ${round}: the writer got to write`);
    t.ok(
      registry.list().every((d) => d.tokens.length <= 1),
      'every device read back passes its schema',
    );
    t.same(store.db.pragma('integrity_check', { simple: true }), 'ok');
    store.close();
  }
});
