/**
 * The intent journal (invariant 2's durable intent): an intent is durable after one append and
 * one fdatasync, before its order reaches the wire; on start the snapshot plus the newer journal
 * records give the state back, a torn tail is cut off and a damaged middle stops the device.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { REPO_ROOT, rejectionOf, requireTool } from '@appliance/test-kit';
import { JOURNAL_HEADER_BYTES, frameRecord, intentJournalPath, scanJournal } from '../src/intent-journal.js';
import { openStateStore } from '../src/state-store.js';
import type { Intent } from '../src/state.js';

function intent(n: number, over: Partial<Intent> = {}): Intent {
  return {
    clientOrderId: `cid-${n}`,
    signalId: `sig-${n}`,
    stream: 'ema.1h',
    offset: String(n),
    symbol: 'BTC/USDT',
    side: 'buy',
    amount: 0.001,
    quote: 40,
    expiresAt: 2_000_000_000_000,
    createdAt: 1_700_000_000_000 + n,
    sentAt: 1_700_000_000_000 + n,
    status: 'pending',
    attempts: 1,
    ...over,
  };
}

const statePath = () => join(mkdtempSync(join(tmpdir(), 'intent-journal-')), 'state.json');

t.test('an intent written to the journal alone is back after a restart, over the snapshot', async (t) => {
  const path = statePath();
  const store = await openStateStore(path, 'dev-1');
  store.data.resume['ema.1h'] = '0';
  await store.write(); // the snapshot: no intents yet
  const one = intent(1);
  store.data.intents[one.clientOrderId] = one;
  await store.writeIntent(one);
  one.attempts = 2; // a resend: the later record wins
  await store.writeIntent(one);
  await store.writeIntent(intent(2, { side: 'sell', quote: undefined }));
  await store.close();
  t.notOk(JSON.parse(readFileSync(path, 'utf8')).intents['cid-1'], 'the snapshot was not rewritten');

  const again = await openStateStore(path, 'dev-1');
  t.same(Object.keys(again.data.intents).sort(), ['cid-1', 'cid-2']);
  t.equal(again.data.intents['cid-1']!.attempts, 2);
  t.same(again.data.resume, { 'ema.1h': '0' }, 'and the snapshot under it');
  t.equal(again.data.journalSeq, 0);
});

t.test('records a snapshot already includes are not replayed over it', async (t) => {
  const path = statePath();
  const store = await openStateStore(path, 'dev-1');
  const one = intent(1);
  store.data.intents[one.clientOrderId] = one;
  await store.writeIntent(one); // pending, in the journal
  one.status = 'done';
  one.result = { orderId: 'ex-1', status: 'closed', filled: 0.001, cost: 40, fee: 0 };
  await store.write(); // done, in the snapshot; the short journal is kept
  await store.close();
  t.ok(statSync(intentJournalPath(path)).size > 0, 'the journal still holds the pending record');

  const again = await openStateStore(path, 'dev-1');
  t.equal(again.data.intents['cid-1']!.status, 'done', 'a stale pending record would settle it twice');
  t.equal(again.data.journalSeq, 1);
  // Numbering goes on from there: a new record is replayed.
  const two = intent(2);
  again.data.intents[two.clientOrderId] = two;
  await again.writeIntent(two);
  await again.close();
  t.ok((await openStateStore(path, 'dev-1')).data.intents['cid-2']);
});

t.test(
  'a snapshot empties a journal past the compaction size, never a record newer than itself',
  async (t) => {
    const path = statePath();
    const store = await openStateStore(path, 'dev-1', { compactBytes: 1 });
    const one = intent(1);
    store.data.intents[one.clientOrderId] = one;
    await store.writeIntent(one);
    await store.write();
    t.equal(statSync(intentJournalPath(path)).size, 0, 'compacted into the snapshot');
    const two = intent(2);
    store.data.intents[two.clientOrderId] = two;
    // The append starts first; the snapshot that follows includes it, so the compaction may drop it.
    const appended = store.writeIntent(two);
    await Promise.all([appended, store.write()]);
    await store.close();
    const again = await openStateStore(path, 'dev-1');
    t.same(Object.keys(again.data.intents).sort(), ['cid-1', 'cid-2']);
  },
);

t.test('a torn last record (a crash mid-append) is cut off at every byte; earlier ones stay', async (t) => {
  const path = statePath();
  const journal = intentJournalPath(path);
  const first = frameRecord({ seq: 1, intent: intent(1) });
  const last = frameRecord({ seq: 2, intent: intent(2) });
  const cuts = [1, JOURNAL_HEADER_BYTES - 1, JOURNAL_HEADER_BYTES, JOURNAL_HEADER_BYTES + 5, last.length - 1];
  for (const cut of cuts) {
    writeFileSync(journal, Buffer.concat([first, last.subarray(0, cut)]));
    const store = await openStateStore(path, 'dev-1');
    t.same(Object.keys(store.data.intents), ['cid-1'], `cut after ${cut} bytes`);
    t.equal(statSync(journal).size, first.length, 'the torn tail is cut off the file');
    await store.writeIntent(intent(3));
    await store.close();
    t.same(
      Object.keys((await openStateStore(path, 'dev-1')).data.intents).sort(),
      ['cid-1', 'cid-3'],
      'and the next append follows the last whole record',
    );
  }
  // Its last page never written: the right length, wrong bytes; or blocks of zeros.
  const garbled = Buffer.from(last);
  garbled.fill(0, garbled.length - 20);
  writeFileSync(journal, Buffer.concat([first, garbled]));
  t.same(Object.keys((await openStateStore(path, 'dev-1')).data.intents), ['cid-1'], 'a garbled last record');
  writeFileSync(journal, Buffer.concat([first, Buffer.alloc(4096)]));
  t.same(Object.keys((await openStateStore(path, 'dev-1')).data.intents), ['cid-1'], 'zeros after it');
  t.equal(statSync(journal).size, first.length);
});

t.test('a damaged record before the end stops the device with E_STATE_JOURNAL_CORRUPT', async (t) => {
  const path = statePath();
  const journal = intentJournalPath(path);
  const records = [1, 2, 3].map((n) => frameRecord({ seq: n, intent: intent(n) }));
  const flipped = Buffer.concat(records);
  flipped[records[0]!.length + JOURNAL_HEADER_BYTES + 10]! ^= 0x01; // inside the second record
  writeFileSync(journal, flipped);
  const at = records[0]!.length;
  t.equal(
    await rejectionOf(openStateStore(path, 'dev-1')),
    `E_STATE_JOURNAL_CORRUPT: intent journal ${journal} of state file ${path} is damaged (record at byte ${at} fails its checksum and is followed by more records): refusing to trade`,
  );
  t.same(readFileSync(journal), flipped, 'left as it was, for someone to look at');

  // A length no record can have, with data after it, is damage too.
  const badLength = Buffer.concat(records);
  badLength.writeUInt32LE(0xffffff, at);
  writeFileSync(journal, badLength);
  t.match(
    await rejectionOf(openStateStore(path, 'dev-1')),
    /^E_STATE_JOURNAL_CORRUPT: .*record at byte \d+ has an impossible length \(16777215 bytes\)/,
  );
  // A record whose checksum holds but which is no intent was written wrong: never guessed at.
  writeFileSync(journal, frameRecord({ seq: 1, intent: { ...intent(1), offset: 'x' } }));
  t.match(await rejectionOf(openStateStore(path, 'dev-1')), /record at byte 0 is not an intent record/);
  // A length that runs past the end with a whole record after it: a flipped length, not a tear.
  const pastEnd = Buffer.concat(records);
  pastEnd.writeUInt32LE(pastEnd.length, at);
  t.throws(() => scanJournal(pastEnd), {
    message: `record at byte ${at} has an impossible length (${pastEnd.length} bytes)`,
  });
  // Without one after it, garbage after the last record is a tear (blocks not yet written).
  const garbage = Buffer.concat([records[0]!, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9])]);
  t.same(scanJournal(garbage).validBytes, at);
  t.equal(scanJournal(garbage).records.length, 1);
});

t.test('a reader beside the running device changes nothing, not even a torn tail', async (t) => {
  const path = statePath();
  const journal = intentJournalPath(path);
  const whole = frameRecord({ seq: 1, intent: intent(1) });
  writeFileSync(journal, Buffer.concat([whole, whole.subarray(0, 12)])); // an append in progress
  const reader = await openStateStore(path, 'dev-1', { readOnly: true });
  t.same(Object.keys(reader.data.intents), ['cid-1']);
  t.equal(statSync(journal).size, whole.length + 12, 'the append in progress is left alone');
  t.equal(await rejectionOf(reader.writeIntent(intent(2))), 'Error: state store opened read-only');
  truncateSync(journal, whole.length);
});

t.test(
  "on the order path the journal's fdatasync comes before the order's network write (strace)",
  async (t) => {
    if (!requireTool('strace', 'strace')) return t.comment('strace is not installed: apt-get install strace');
    // The exchange: a loopback socket that reads what the device sends.
    const received: string[] = [];
    const server = createServer((s) => {
      s.on('data', (d) => received.push(d.toString()));
      s.on('end', () => s.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.teardown(() => server.close());
    const port = (server.address() as { port: number }).port;
    const path = statePath();
    const journal = intentJournalPath(path);
    // The device's own execution path with the real store; the executor writes the order to the socket.
    const script = `
      import { connect } from 'node:net';
      import { pino } from 'pino';
      import { createExecution, DEFAULT_EXECUTION_OPTIONS } from './signal-client/src/execution.ts';
      import { openStateStore } from './signal-client/src/state-store.ts';
      const store = await openStateStore(${JSON.stringify(path)}, 'dev-1');
      const intent = ${JSON.stringify(intent(7))};
      store.data.intents[intent.clientOrderId] = intent;
      const placeMarketOrder = (o) => new Promise((resolve, reject) => {
        const s = connect(${port}, '127.0.0.1', () => s.end('ORDER ' + o.clientOrderId + '\\n', () =>
          resolve({ orderId: 'ex-1', status: 'closed', filled: 0.001, cost: 40, fee: 0 })));
        s.on('error', reject);
      });
      const exec = createExecution({
        exchange: { placeMarketOrder }, logger: pino({ level: 'silent' }), now: Date.now,
        options: DEFAULT_EXECUTION_OPTIONS, persistIntent: (i) => store.writeIntent(i),
        onSettled: () => {}, knownOrderIds: () => new Set(),
      });
      await exec.execute(intent);
      await store.close();
    `;
    // Not spawnSync: the exchange here must answer while the device runs.
    const proc = spawn(
      'strace',
      [
        '-f',
        '-s',
        '128',
        '-e',
        'trace=openat,write,writev,pwrite64,sendto,sendmsg,fsync,fdatasync,rename,renameat,renameat2',
        process.execPath,
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        script,
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let trace = '';
    proc.stderr.on('data', (d: Buffer) => (trace += d.toString()));
    const status = await new Promise<number | null>((r) => proc.on('close', r));
    t.equal(status, 0, trace.slice(-800));
    t.same(received, ['ORDER cid-7\n'], 'the order reached the exchange');

    // Follow the journal's file descriptor through the trace (threads interleave: a call may
    // be split into `<unfinished ...>` and `<... resumed>` lines; it counts when it returns).
    const events: string[] = [];
    const journalFds = new Set<string>();
    const pending = new Map<string, string>(); // pid -> the journal call it has under way
    const opening = new Map<string, string>(); // pid -> the file of an openat under way
    const opened = (file: string, fd: string) => {
      if (file === journal) journalFds.add(fd);
      else journalFds.delete(fd); // the number was reused
    };
    for (const line of trace.split('\n')) {
      const pid = /^\[pid\s+(\d+)\]/.exec(line)?.[1] ?? 'main';
      const open = /openat\(.*"([^"]+)".*\)\s*=\s*(\d+)/.exec(line);
      if (open) {
        opened(open[1]!, open[2]!);
        continue;
      }
      // An openat on a worker thread can be cut in two by another thread's call: its file on
      // the first line, its descriptor on the `resumed` one.
      const startedOpen = /openat\(.*"([^"]+)".*<unfinished/.exec(line);
      if (startedOpen) {
        opening.set(pid, startedOpen[1]!);
        continue;
      }
      const resumedOpen = /<\.\.\. openat resumed>.*=\s*(\d+)/.exec(line);
      if (resumedOpen && opening.has(pid)) {
        opened(opening.get(pid)!, resumedOpen[1]!);
        opening.delete(pid);
        continue;
      }
      if (line.includes('ORDER cid-7')) {
        events.push('order sent');
        continue;
      }
      const call = /(write|pwrite64|fdatasync|fsync)\((\d+)/.exec(line);
      if (call && journalFds.has(call[2]!)) {
        const name = call[1] === 'fdatasync' || call[1] === 'fsync' ? call[1] : 'write';
        if (line.includes('<unfinished')) pending.set(pid, `${name} journal`);
        else events.push(`${name} journal`);
        continue;
      }
      const resumed = /<\.\.\. (\w+) resumed>.*=\s*(-?\d+)/.exec(line);
      if (resumed && pending.has(pid)) {
        events.push(pending.get(pid)!);
        pending.delete(pid);
        continue;
      }
      if (/rename/.test(line) && line.includes(path)) events.push('rename');
    }
    t.same(
      events,
      ['write journal', 'fdatasync journal', 'order sent'],
      'one append and one fdatasync of the journal, then the order; no rename, no folder fsync',
    );
  },
);
