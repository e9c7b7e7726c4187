/**
 * Issue #9's durable intent write: what the device waits for on disk before an order may leave,
 * the old way (the whole state file rewritten atomically: fsync, rename, fsync of the folder)
 * beside the new (one append to the intent journal and one fdatasync), interleaved in one run.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileDurable } from '@appliance/runtime';
import { openStateStore, type Intent } from '@appliance/signal-client';
import { REPO_ROOT } from './ipc.js';
import { summarize } from './stats.js';
import type { Suite } from './suite.js';

/** A device's state file as the previous version wrote it: the old path rewrites all of it per intent. */
const FIXTURE = join(REPO_ROOT, 'signal-client/test/fixtures/state-v1.json');

const ms = (ns: bigint) => Number(ns) / 1e6;

function intentFor(i: number): Intent {
  const now = Date.now();
  return {
    clientOrderId: `bench-intent-${i}`,
    signalId: `bench-signal-${i}`,
    stream: 'ema.1h',
    offset: String(1_000 + i),
    symbol: 'BTC/USDT',
    side: i % 2 ? 'sell' : 'buy',
    amount: 0.0025,
    ...(i % 2 ? {} : { quote: 100 }),
    expiresAt: now + 60_000,
    createdAt: now,
    sentAt: now,
    status: 'pending',
    attempts: 1,
  };
}

export const intentWriteSuite: Suite = {
  name: 'intent-write',
  description:
    'durable intent write before an order: the old atomic state rewrite (2 fsyncs + rename) beside the intent-journal append (1 fdatasync)',
  options: { 'intent-writes': { type: 'string' } },
  async run(ctx) {
    const n = Number(ctx.options['intent-writes'] ?? 1_000);
    if (!Number.isInteger(n) || n < 1) throw new Error('--intent-writes must be a positive integer');
    // Both paths write into the same kind of folder on the same file system.
    const oldDir = mkdtempSync(join(tmpdir(), 'bench-intent-old-'));
    const newDir = mkdtempSync(join(tmpdir(), 'bench-intent-new-'));
    const oldState = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { intents: Record<string, unknown> };
    const oldPath = join(oldDir, 'state.json');
    const store = await openStateStore(join(newDir, 'state.json'), 'dev-fixture');
    const old: number[] = [];
    const journal: number[] = [];
    const bytes = { old: 0, journal: 0 };
    ctx.log(`intent-write: ${n} intents each way, interleaved (old first on even, new first on odd)`);
    try {
      for (let i = -20; i < n; i++) {
        const intent = intentFor(i + 20);
        // The old path: the intent goes into the state, and the whole state is rewritten.
        const writeOld = async () => {
          oldState.intents[intent.clientOrderId] = intent;
          const text = JSON.stringify(oldState);
          const t0 = process.hrtime.bigint();
          await writeFileDurable(oldPath, text);
          const t1 = process.hrtime.bigint();
          // The old state kept finished intents too; hold it at its size, as pruning would.
          delete oldState.intents[intent.clientOrderId];
          bytes.old = text.length;
          return ms(t1 - t0);
        };
        const writeNew = async () => {
          store.data.intents[intent.clientOrderId] = intent;
          const t0 = process.hrtime.bigint();
          await store.writeIntent(intent);
          const t1 = process.hrtime.bigint();
          delete store.data.intents[intent.clientOrderId];
          return ms(t1 - t0);
        };
        let a: number, b: number;
        if (i % 2 === 0) {
          a = await writeOld();
          b = await writeNew();
        } else {
          b = await writeNew();
          a = await writeOld();
        }
        if (i < 0) continue; // warm-up
        old.push(a);
        journal.push(b);
      }
    } finally {
      await store.close();
    }
    bytes.journal = readFileSync(join(newDir, 'state.json.intents')).length / (n + 20);
    const o = summarize(old);
    const j = summarize(journal);
    const report = {
      writes: n,
      stateFileBytes: bytes.old,
      journalRecordBytes: Math.round(bytes.journal),
      oldAtomicRewriteMs: o,
      journalAppendMs: j,
      ratios: { p50: j.p50 / o.p50, p99: j.p99 / o.p99 },
      /** Issue #9: the new p99 at most half the old. */
      targetP99Ratio: 0.5,
    };
    const f = (x: number) => x.toFixed(3).padStart(8);
    const row = (name: string, s: typeof o) =>
      `  ${name.padEnd(44)} ${f(s.p50)} ${f(s.p90)} ${f(s.p99)} ${f(s.max)}`;
    return {
      report,
      table: [
        `intent-write: durable intent before an order (ms)     p50      p90      p99      max`,
        row(`old: state rewrite, ${bytes.old} B (2 fsyncs + rename)`, o),
        row(`new: journal append, ${report.journalRecordBytes} B (1 fdatasync)`, j),
        `  ratio new / old                              ${f(report.ratios.p50)}          ${f(report.ratios.p99)}            (target p99 <= 0.5)`,
      ],
    };
  },
};
