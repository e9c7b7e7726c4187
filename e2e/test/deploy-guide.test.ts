/**
 * docs/deploy.md, followed to the letter: every `sh` block of the guide is run in order with bash,
 * as an operator would paste it, from Kafka to a device with a fill. Only the settings block is
 * replaced (a temporary folder, the mock cluster's address, free loopback ports); the variables it
 * sets must be the ones the guide's settings block sets. Blocks tagged `service=NAME` are started
 * and left running, `check` blocks are retried until they pass, `real-kafka` blocks (commands for
 * a real cluster's own tools) are only syntax-checked with `bash -n`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { REPO_ROOT, freePort, requireTool, startKafkaMock } from '@appliance/test-kit';

const GUIDE = join(REPO_ROOT, 'docs/deploy.md');
const DATA = new URL('../../../shared/data/ohlcv/', import.meta.url).pathname;
/** A check may wait this long for what it checks (the last one waits for a replay to trade). */
const CHECK_TIMEOUT_MS = 180_000;
const CHECK_INTERVAL_MS = 500;

type Kind = 'settings' | 'run' | 'service' | 'check' | 'real-kafka';
interface Block {
  kind: Kind;
  name: string;
  code: string;
  line: number;
}

/** The guide's `sh` blocks in order, by their info string: `sh`, `sh settings`, `sh service=NAME`, ... */
function guideBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  for (const m of text.matchAll(/^```sh(?: ([^\n]*))?\n([\s\S]*?)^```$/gm)) {
    const info = (m[1] ?? '').trim();
    const line = text.slice(0, m.index).split('\n').length;
    const service = /^service=([a-z0-9-]+)$/.exec(info);
    const kind: Kind | undefined = service
      ? 'service'
      : info === ''
        ? 'run'
        : (['settings', 'check', 'real-kafka'] as const).find((k) => k === info);
    if (!kind) throw new Error(`docs/deploy.md:${line}: unknown block tag "sh ${info}"`);
    blocks.push({ kind, name: service?.[1] ?? `${kind} at line ${line}`, code: m[2]!, line });
  }
  return blocks;
}

/** The variables an `export A=1 B=2` block sets. */
function exportedNames(code: string): string[] {
  return code
    .split('\n')
    .filter((l) => l.startsWith('export '))
    .flatMap((l) => [...l.replace(/#.*$/, '').matchAll(/\b([A-Z][A-Z0-9_]*)=/g)].map((m) => m[1]!))
    .sort();
}

interface Output {
  status: number | null;
  out: string;
}

/** Runs bash on `script` from the repository root, as the guide's reader runs it from the checkout. */
function bash(script: string, args: string[] = []): Promise<Output> {
  return new Promise((resolve) => {
    const child = spawn('bash', [...args, '-c', script], { cwd: REPO_ROOT, env: process.env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (status) => resolve({ status, out }));
  });
}

const tail = (text: string, lines = 25) => text.trimEnd().split('\n').slice(-lines).join('\n');

const tools: [string, string][] = [
  ['kcat', 'kcat'],
  ['haproxy', 'haproxy'],
  ['openssl', 'openssl'],
  ['curl', 'curl'],
  ['jq', 'jq'],
  ['systemd-creds', 'systemd'],
];

t.test('docs/deploy.md, run as written, ends with a device that has a fill', async (t) => {
  for (const [tool, pkg] of tools)
    if (!requireTool(tool, pkg)) return t.comment(`${tool} is not installed: apt-get install ${pkg}`);

  const blocks = guideBlocks(readFileSync(GUIDE, 'utf8'));
  const settings = blocks.filter((b) => b.kind === 'settings');
  t.equal(settings.length, 1, 'one settings block, first');
  t.equal(blocks[0]?.kind, 'settings');
  for (const kind of ['run', 'service', 'check', 'real-kafka'] as const)
    t.ok(
      blocks.some((b) => b.kind === kind),
      `the guide has ${kind} blocks`,
    );

  const kafka = await startKafkaMock();
  t.teardown(() => kafka.stop());
  const root = mkdtempSync(join(tmpdir(), 'deploy-guide-'));
  const ports = {
    CONTROL_PORT: await freePort(),
    PAPER_PORT: await freePort(),
    GW_A_PORT: await freePort(),
    GW_A_ADMIN_PORT: await freePort(),
    GW_B_PORT: await freePort(),
    GW_B_ADMIN_PORT: await freePort(),
    HAPROXY_PORT: await freePort(),
    DEVICE_STATUS_PORT: await freePort(),
  };
  const ours: Record<string, string> = {
    ETC: join(root, 'etc'),
    STATE: join(root, 'state'),
    KAFKA_BROKERS: kafka.bootstrap,
    KAFKA_REPLICATION: '1',
    HAPROXY_HOST: '127.0.0.1',
    CANDLES: join(DATA, 'binance_BTC-USDT_1h.csv'),
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
  };
  t.same(Object.keys(ours).sort(), exportedNames(settings[0]!.code), 'the same settings as the guide');

  // The shell state the guide's blocks build up (`export CONTROL_KEY=...`), carried from block to block.
  const envFile = join(root, 'guide.env');
  writeFileSync(
    envFile,
    Object.entries(ours)
      .map(([k, v]) => `export ${k}='${v}'\n`)
      .join(''),
  );
  const inGuideShell = (code: string) => `set -euo pipefail\nsource '${envFile}'\n${code}`;

  const services: { name: string; child: ChildProcess; log: string[]; exit?: number | null }[] = [];
  t.teardown(async () => {
    for (const s of services.reverse()) {
      if (s.exit !== undefined) continue;
      const gone = new Promise((resolve) => s.child.once('exit', resolve));
      try {
        process.kill(-s.child.pid!, 'SIGTERM');
      } catch {
        continue;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-s.child.pid!, 'SIGKILL');
        } catch {
          // gone already
        }
      }, 10_000);
      await gone;
      clearTimeout(timer);
    }
  });
  const serviceLogs = () =>
    services.map((s) => `--- ${s.name} (exit ${s.exit ?? 'running'}):\n${tail(s.log.join(''))}`).join('\n');

  for (const block of blocks) {
    const where = `docs/deploy.md:${block.line} (${block.name})`;
    switch (block.kind) {
      case 'settings':
        break;
      case 'real-kafka': {
        const r = await bash(block.code, ['-n']);
        t.equal(r.status, 0, `${where}: valid bash\n${r.out}`);
        break;
      }
      case 'run': {
        const r = await bash(`${inGuideShell(block.code)}\nexport -p > '${envFile}'`);
        t.equal(r.status, 0, `${where} ran${r.status === 0 ? '' : `\n${tail(r.out)}\n${serviceLogs()}`}`);
        if (r.status !== 0) return;
        break;
      }
      case 'service': {
        const log: string[] = [];
        const child = spawn('bash', ['-c', inGuideShell(block.code)], {
          cwd: REPO_ROOT,
          env: { ...process.env, LOG_LEVEL: 'info' },
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const entry: (typeof services)[number] = { name: block.name, child, log };
        child.stdout!.on('data', (d: Buffer) => log.push(d.toString()));
        child.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
        child.on('exit', (code) => (entry.exit = code));
        services.push(entry);
        t.comment(`started ${block.name}`);
        break;
      }
      case 'check': {
        const deadline = Date.now() + CHECK_TIMEOUT_MS;
        let r: Output;
        for (;;) {
          r = await bash(inGuideShell(block.code));
          const died = services.find((s) => s.exit !== undefined && s.exit !== 0);
          if (r.status === 0 || died || Date.now() > deadline) break;
          await new Promise((resolve) => setTimeout(resolve, CHECK_INTERVAL_MS));
        }
        const died = services.filter((s) => s.exit !== undefined && s.exit !== 0).map((s) => s.name);
        t.same(died, [], `${where}: no service failed${died.length ? `\n${serviceLogs()}` : ''}`);
        t.equal(r.status, 0, `${where} passed${r.status === 0 ? '' : `\n${tail(r.out)}\n${serviceLogs()}`}`);
        if (r.status !== 0 || died.length) return;
        break;
      }
    }
  }
  t.notOk(
    services.some((s) => s.exit !== undefined && s.exit !== 0),
    `no service failed\n${serviceLogs()}`,
  );
});
