import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { REPO_ROOT, requireTool } from '@appliance/test-kit';
import { readFileIfExists, writeFileDurable } from '../src/index.js';

t.test(
  'a durable write replaces the file whole, private to its owner, leaving no temporary file',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'durable-'));
    const path = join(dir, 'state.json');
    writeFileSync(path, 'old');
    await writeFileDurable(path, 'new content');
    t.equal(readFileSync(path, 'utf8'), 'new content');
    t.equal(statSync(path).mode & 0o777, 0o600);
    t.same(readdirSync(dir), ['state.json']);
    t.equal(await readFileIfExists(join(dir, 'missing.json')), undefined);
  },
);

t.test(
  'the write path fsyncs the file before the rename and the folder after it (seen with strace)',
  async (t) => {
    if (!requireTool('strace', 'strace')) return t.comment('strace is not installed: apt-get install strace');
    const dir = mkdtempSync(join(tmpdir(), 'durable-'));
    const script = `import { writeFileDurable } from './runtime/src/durable-file.ts'; await writeFileDurable(${JSON.stringify(join(dir, 'state.json'))}, 'x');`;
    const run = spawnSync(
      'strace',
      [
        '-f',
        '-e',
        'trace=openat,fsync,fdatasync,rename,renameat,renameat2',
        process.execPath,
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        script,
      ],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
      },
    );
    t.equal(run.status, 0, run.stderr.slice(-500));
    // Follow the file descriptors: which fd is the temp file, which is the folder.
    const calls = run.stderr.split('\n').filter((l) => l.includes(dir) || /fsync|fdatasync/.test(l));
    const events: string[] = [];
    const fds = new Map<string, string>();
    for (const line of calls) {
      const open = /openat\(.*"([^"]+)".*\)\s*=\s*(\d+)/.exec(line);
      if (open && open[1]!.startsWith(dir)) {
        const what = open[1] === dir ? 'dir' : open[1]!.endsWith('.tmp') ? 'tmp' : 'other';
        fds.set(open[2]!, what);
        continue;
      }
      const sync = /f(?:data)?sync\((\d+)\)/.exec(line);
      if (sync && fds.has(sync[1]!)) events.push(`fsync ${fds.get(sync[1]!)}`);
      if (/rename/.test(line) && line.includes(dir)) events.push('rename');
    }
    t.same(events, ['fsync tmp', 'rename', 'fsync dir']);
  },
);
