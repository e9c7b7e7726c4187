/**
 * Issue #9's process figures: for each process, cold start (spawn to its ready line) and idle
 * memory once ready, with nothing to do (a gateway with no devices, a datafeed between two
 * candles, a device connected with no signal); and what the device's bundle is made of.
 *
 * Memory is read from /proc/PID/status (VmRSS, VmHWM). Processes run under node also load a
 * probe (`--import` of a data: URL) that writes `process.memoryUsage()` and V8's heap spaces
 * when sent SIGUSR2, so RSS can be split into V8's heap, its code and everything else.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TOPICS, exportPublicKey, issueDeviceToken } from '@appliance/protocol';
import { createKafkaBus } from '@appliance/protocol/kafka';
import { signerWithKeyFile, startKafkaMock } from '@appliance/test-kit';
import { buildClient, type BuildResult } from '../images/build-client.js';
import { buildGateway } from '../gateway/scripts/build.js';
import { READY_MESSAGE } from '@appliance/signal-client';
import { REPO_ROOT } from './ipc.js';
import { PROBE_ARGS, Proc, READY_TIMEOUT_MS, type Sample } from './proc-memory.js';
import type { Suite, SuiteContext } from './suite.js';

/** After ready, how long a process is left alone before its memory is read, in ms. */
const DEFAULT_SETTLE_MS = 3_000;
const DEFAULT_ROUNDS = 3;
const MiB = 2 ** 20;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const r1 = (x: number) => Math.round(x * 10) / 10;

/** Bytes per npm package (or per workspace folder for our own code) in the bundle, largest first. */
function byPackage(build: BuildResult): { name: string; bytes: number }[] {
  const totals = new Map<string, number>();
  for (const { path, bytes } of build.inputs) {
    const name =
      /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1] ??
      (/^([a-z-]+)\/src\//.exec(path)?.[1] ? `(ours) ${/^([a-z-]+)\//.exec(path)![1]}` : path);
    totals.set(name, (totals.get(name) ?? 0) + bytes);
  }
  return [...totals].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}

/** The gateway as `npm run build:gateway` compiles it (gateway/scripts/build.ts), run by plain `node`. */
const compileGateway = (): Promise<string> =>
  buildGateway(join(REPO_ROOT, 'node_modules', '.cache', 'bench-processes', 'gateway.mjs'));

async function oneRound(
  ctx: SuiteContext,
  dir: string,
  brokers: string,
  build: BuildResult,
  compiledGateway: string,
  firstCandleAfter: (t: number) => Promise<number>,
  settleMs: number,
): Promise<Record<string, Sample>> {
  const cpu = ctx.pinning.used ? ctx.pinning.serverCpu : undefined;
  const { signer: control, file: controlPem } = signerWithKeyFile(dir, 'control.pem');
  const { signer: feed, file: feedPem } = signerWithKeyFile(dir, 'feed.pem');
  const tsx = (entry: string, args: string[]) => [...PROBE_ARGS, '--import', 'tsx', entry, ...args];
  const running: Proc[] = [];
  const start = (cmd: string, args: string[], env: Record<string, string> = {}) => {
    const p = new Proc(cmd, args, env, dir, cpu);
    running.push(p);
    return p;
  };
  const out: Record<string, Sample> = {};
  try {
    const node = start(process.execPath, [
      ...PROBE_ARGS,
      '-e',
      'console.log(JSON.stringify({ msg: "ready" })); setInterval(() => {}, 1e9)',
    ]);
    await node.log('ready');
    out['node (empty script)'] = {
      readyMs: performance.now() - node.started,
      ...(await node.memory(settleMs, true)),
    };
    await node.stop();
    const idle = join(dir, 'idle.ts');
    writeFileSync(idle, 'console.log(JSON.stringify({ msg: "ready" }));\nsetInterval(() => {}, 1e9);\n');
    const tsxOnly = start(process.execPath, tsx(idle, []));
    await tsxOnly.log('ready');
    out['node + tsx (empty script)'] = {
      readyMs: performance.now() - tsxOnly.started,
      ...(await tsxOnly.memory(settleMs, true)),
    };
    await tsxOnly.stop();

    const cs = start(
      process.execPath,
      tsx('control-server/src/main.ts', [
        ...['--port', '0', '--paper-port', '0', '--kafka', brokers],
        ...['--signing-key-file', controlPem, '--feed-key', exportPublicKey(feed.publicKey)],
        ...['--data-dir', mkdtempSync(join(dir, 'control-'))],
      ]),
      { CONTROL_ADMIN_TOKEN: randomBytes(16).toString('hex') },
    );
    await cs.log('listening');
    out['control server'] = { readyMs: performance.now() - cs.started, ...(await cs.memory(settleMs, true)) };

    const gw = start(
      process.execPath,
      tsx('gateway/src/main.ts', [
        ...['--port', '0', '--kafka', brokers],
        ...[
          '--token-key',
          exportPublicKey(control.publicKey),
          '--signal-key',
          exportPublicKey(feed.publicKey),
        ],
      ]),
    );
    const gatewayUrl = String((await gw.log('listening')).url);
    out['gateway (no devices)'] = {
      readyMs: performance.now() - gw.started,
      ...(await gw.memory(settleMs, true)),
    };

    const compiled = start(process.execPath, [
      ...PROBE_ARGS,
      compiledGateway,
      ...['--port', '0', '--kafka', brokers],
      ...['--token-key', exportPublicKey(control.publicKey), '--signal-key', exportPublicKey(feed.publicKey)],
    ]);
    await compiled.log('listening');
    out['gateway, compiled (no tsx)'] = {
      readyMs: performance.now() - compiled.started,
      ...(await compiled.memory(settleMs, true)),
    };
    await compiled.stop();

    // One candle, then an hour's wait (speed 1): the datafeed's idle. Ready: its first candle on the bus.
    const csv = join(dir, 'binance_BTC-USDT_1h.csv');
    writeFileSync(csv, 'time,open,high,low,close,volume\n1617566400000,1,1,1,1,1\n1617570000000,1,1,1,1,1\n');
    const df = start(
      process.execPath,
      tsx('datafeed-node/src/main.ts', [
        ...[
          '--kafka',
          brokers,
          '--signing-key-file',
          feedPem,
          '--origin',
          `bench-${randomBytes(3).toString('hex')}`,
        ],
        ...['--replay', csv, '--speed', '1'],
      ]),
    );
    const candleAt = await firstCandleAfter(df.started);
    out['datafeed (between candles)'] = {
      readyMs: candleAt - df.started,
      ...(await df.memory(settleMs, true)),
    };
    await df.stop();

    const apiKey = randomBytes(24).toString('base64url');
    const secret = randomBytes(32).toString('base64url');
    const paper = start(process.execPath, ['--import', 'tsx', 'bench/paper-proc.ts', apiKey, secret]);
    const paperUrl = await paper.until(
      () => paper.lines.find((l) => l.startsWith('http')),
      'paper exchange URL',
    );
    const device = (name: string, cmd: string, args: string[]) => {
      const config = join(mkdtempSync(join(dir, 'device-')), 'config.json');
      writeFileSync(
        config,
        JSON.stringify({
          deviceId: name,
          gatewayUrl,
          token: issueDeviceToken({ sub: name, scope: 'family', iat: Date.now(), ttlMs: 3_600_000 }, control),
          signalKeys: [exportPublicKey(feed.publicKey)],
          controlKeys: [exportPublicKey(control.publicKey)],
          stateFile: join(config, '..', 'state.json'),
          exchange: { paperUrl },
          statusPort: 0,
          keystore: { backend: 'env' },
        }),
      );
      return start(cmd, [...args, 'run', '--config', config], {
        EXCHANGE_API_KEY: apiKey,
        EXCHANGE_API_SECRET: secret,
      });
    };
    const bundled = device('bench-bundle', process.execPath, [...PROBE_ARGS, build.bundle]);
    await bundled.log(READY_MESSAGE);
    out['device (bundle under node)'] = {
      readyMs: performance.now() - bundled.started,
      ...(await bundled.memory(settleMs, true)),
    };
    await bundled.stop();
    const sea = device('bench-sea', build.executable, []);
    await sea.log(READY_MESSAGE);
    out['device (single executable)'] = {
      readyMs: performance.now() - sea.started,
      ...(await sea.memory(settleMs, false)),
    };
    return out;
  } finally {
    for (const p of running.reverse()) await p.stop();
  }
}

export const processesSuite: Suite = {
  name: 'processes',
  description: 'cold start and idle memory of each process; what the device bundle holds',
  options: { 'processes-rounds': { type: 'string' }, 'processes-settle-ms': { type: 'string' } },
  async run(ctx) {
    const rounds = Number(ctx.options['processes-rounds'] ?? DEFAULT_ROUNDS);
    const settleMs = Number(ctx.options['processes-settle-ms'] ?? DEFAULT_SETTLE_MS);
    const dir = mkdtempSync(join(tmpdir(), 'bench-processes-'));
    const kafka = await startKafkaMock();
    const bus = createKafkaBus({ brokers: kafka.brokers, clientId: 'bench-processes' });
    try {
      ctx.log('processes: building the device bundle and executable');
      const build = await buildClient({ outDir: join(dir, 'dist') });
      const compiledGateway = await compileGateway();
      const candles: number[] = [];
      const sub = await bus.subscribe({
        topic: TOPICS.candles,
        from: 'latest',
        onMessage: () => void candles.push(performance.now()),
      });
      await sub.ready;
      const firstCandleAfter = async (t: number) => {
        const deadline = performance.now() + READY_TIMEOUT_MS;
        for (;;) {
          const at = candles.find((c) => c > t);
          if (at !== undefined) return at;
          if (performance.now() > deadline) throw new Error('the datafeed published no candle');
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      const samples: Record<string, Sample[]> = {};
      for (let i = 0; i < rounds; i++) {
        ctx.log(`processes: round ${i + 1} of ${rounds}`);
        for (const [name, s] of Object.entries(
          await oneRound(ctx, dir, kafka.bootstrap, build, compiledGateway, firstCandleAfter, settleMs),
        ))
          (samples[name] ??= []).push(s);
      }
      await sub.close();
      const results = Object.fromEntries(
        Object.entries(samples).map(([name, ss]) => {
          const last = ss.at(-1)!.probe;
          return [
            name,
            {
              readyMs: Math.round(median(ss.map((s) => s.readyMs))),
              rssMiB: r1(median(ss.map((s) => s.rssMiB))),
              fileMiB: r1(median(ss.map((s) => s.fileMiB))),
              anonMiB: r1(median(ss.map((s) => s.anonMiB))),
              hwmMiB: r1(median(ss.map((s) => s.hwmMiB))),
              rssMiBEach: ss.map((s) => r1(s.rssMiB)),
              ...(last
                ? {
                    heapUsedMiB: r1(last.memory.heapUsed / MiB),
                    heapTotalMiB: r1(last.memory.heapTotal / MiB),
                    externalMiB: r1(last.memory.external / MiB),
                    codeSpaceMiB: r1(
                      ((last.spaces.code_space ?? 0) + (last.spaces.code_large_object_space ?? 0)) / MiB,
                    ),
                  }
                : {}),
            },
          ];
        }),
      );
      const packages = byPackage(build).slice(0, 12);
      const report = {
        config: { rounds, settleMs },
        results,
        device: {
          bundleBytes: build.bundleBytes,
          executableBytes: build.executableBytes,
          topPackages: packages.map((p) => ({ ...p, kiB: Math.round(p.bytes / 1024) })),
          topInputs: build.inputs
            .slice(0, 12)
            .map((i) => ({ path: i.path, kiB: Math.round(i.bytes / 1024) })),
        },
      };
      const pad = (s: string, n: number) => s.padEnd(n);
      const table = [
        `processes (${rounds} rounds, memory ${settleMs / 1000} s after ready; medians; MiB)`,
        `${pad('process', 28)} ${pad('ready ms', 9)} ${pad('RSS', 8)} ${pad('file', 6)} ${pad('anon', 6)} ${pad('heap used', 10)} ${pad('code', 6)} external`,
        ...Object.entries(results).map(
          ([name, r]) =>
            `${pad(name, 28)} ${pad(String(r.readyMs), 9)} ${pad(String(r.rssMiB), 8)} ${pad(String(r.fileMiB), 6)} ${pad(String(r.anonMiB), 6)} ${pad(String(r.heapUsedMiB ?? '-'), 10)} ${pad(String(r.codeSpaceMiB ?? '-'), 6)} ${r.externalMiB ?? '-'}`,
        ),
        `device bundle ${r1(build.bundleBytes / MiB)} MiB, executable ${r1(build.executableBytes / MiB)} MiB; largest parts:`,
        ...packages.map((p) => `  ${pad(p.name, 30)} ${Math.round(p.bytes / 1024)} KiB`),
      ];
      return { report, table };
    } finally {
      await bus.close();
      await kafka.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
