import t from 'tap';
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MARKETS, createPaperExchange } from '@appliance/paper-exchange';
import { EXIT } from '@appliance/runtime';
import { REPO_ROOT, requireTool, spawnNode } from '@appliance/test-kit';
import { DEFAULT_FILL_COSTS } from '@appliance/trading-core';
import { buildNotifyAddon } from '../src/systemd/native/build.js';

const MAIN = 'signal-client/src/main.ts';
const TRADER = { apiKey: 'trader-key-0123456789abcdef', secret: 'trader-secret-0123456789abcdef' };
const WITHDRAWER = { apiKey: 'withdrawer-key-0123456789', secret: 'withdrawer-secret-0123456789' };
const PUBLIC_KEY = 'A'.repeat(43);

function skipReason(): string | false {
  if (!requireTool('systemd-creds', 'systemd'))
    return 'systemd-creds is not installed (apt-get install systemd)';
  if (process.getuid?.() === 0) return false;
  if (process.env.CI === 'true')
    throw new Error('CI runs as root, and these tests need root for the host key');
  return 'systemd-creds needs root to use the host key';
}
const skip = skipReason();
// `run` disables core dumps through the sd_notify addon and warns on stdout without it: a test of
// what `run` prints must not depend on another test having built it first.
if (!skip) buildNotifyAddon();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `signal-client ARGS` as its own process, `stdin` piped in; no key in its environment unless given. */
function cli(args: string[], stdin = '', env: Record<string, string> = {}): Promise<Run> {
  const base: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
  delete base.EXCHANGE_API_KEY;
  delete base.EXCHANGE_API_SECRET;
  delete base.CREDENTIALS_DIRECTORY;
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...base, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** A paper exchange with a trading-only key and a key that may withdraw, and a device config for it. */
async function setup(t: Test, backend: 'systemd-creds' | 'env' = 'systemd-creds') {
  const paper = createPaperExchange({
    markets: DEFAULT_MARKETS,
    costs: DEFAULT_FILL_COSTS,
    accounts: [
      { ...TRADER, balances: { USDT: 1_000 } },
      { ...WITHDRAWER, balances: { USDT: 1_000 }, canWithdraw: true },
    ],
  });
  const paperUrl = await paper.listen();
  t.teardown(() => paper.close());
  const home = mkdtempSync(join(tmpdir(), 'keys-cli-'));
  const dir = join(home, 'credstore.encrypted');
  const config = join(home, 'device.json');
  writeFileSync(
    config,
    JSON.stringify({
      deviceId: 'dev-keys',
      // Nothing listens there: `run` gets as far as connecting, which is all these tests need.
      gatewayUrl: 'ws://127.0.0.1:9',
      token: 'device-token-for-tests',
      signalKeys: [PUBLIC_KEY],
      controlKeys: [PUBLIC_KEY],
      stateFile: join(home, 'state.json'),
      exchange: { paperUrl, timeoutMs: 5_000 },
      keystore: backend === 'env' ? { backend } : { backend, dir },
      statusPort: 0,
    }),
  );
  const cred = join(dir, 'exchange-api.cred');
  return { paper, paperUrl, home, dir, cred, config };
}

const lines = (...l: string[]) => l.map((x) => `${x}\n`).join('');

t.test('keys set, test and remove with systemd-creds, the secret piped on stdin', { skip }, async (t) => {
  const s = await setup(t);
  const empty = `E_KEYSTORE_EMPTY: no exchange API keys in the systemd credential ${s.cred}: store them with \`signal-client keys set --config FILE\`\n`;
  t.same(await cli(['keys', 'test', '--config', s.config]), {
    code: EXIT.keystore,
    stdout: '',
    stderr: empty,
  });

  const set = await cli(['keys', 'set', '--config', s.config], lines(TRADER.apiKey, TRADER.secret));
  t.same(set, {
    code: 0,
    stdout: `stored key trad… in the systemd credential ${s.cred}; check it with: signal-client keys test --config ${s.config}\n`,
    stderr: '',
  });
  t.equal((statSync(s.cred).mode & 0o777).toString(8), '600');

  t.same(await cli(['keys', 'test', '--config', s.config]), {
    code: 0,
    stdout: `key trad… from the systemd credential ${s.cred} works: it reads balances and trades spot, and cannot withdraw\n`,
    stderr: '',
  });

  t.same(await cli(['keys', 'remove', '--config', s.config]), {
    code: 0,
    stdout: `removed the exchange keys from the systemd credential ${s.cred}\n`,
    stderr: '',
  });
  t.same(await cli(['keys', 'test', '--config', s.config]), {
    code: EXIT.keystore,
    stdout: '',
    stderr: empty,
  });
});

t.test('keys test refuses a key that may withdraw, and a wrong secret', { skip }, async (t) => {
  const s = await setup(t);
  t.equal(
    (await cli(['keys', 'set', '--config', s.config], lines(WITHDRAWER.apiKey, WITHDRAWER.secret))).code,
    0,
  );
  t.same(await cli(['keys', 'test', '--config', s.config]), {
    code: EXIT.refused,
    stdout: '',
    stderr:
      'E_KEYS_CAN_WITHDRAW: key with… is allowed to withdraw funds; refusing it: create an API key with withdrawals disabled (reading and spot trading only) and store it with `signal-client keys set`\n',
  });

  const wrong = 'not-the-trader-secret-0123';
  t.equal((await cli(['keys', 'set', '--config', s.config], lines(TRADER.apiKey, wrong))).code, 0);
  const run = await cli(['keys', 'test', '--config', s.config]);
  t.same(run, {
    code: EXIT.refused,
    stdout: '',
    stderr:
      'E_AUTH: the exchange refused key trad… (fetchBalance: {"code":-1022,"msg":"Signature for this request is not valid."})\n',
  });
  t.notOk(run.stderr.includes(wrong), 'the secret is not printed');
});

t.test('keys set refuses input that is not a key and a secret, and stores nothing', { skip }, async (t) => {
  const s = await setup(t);
  t.same(await cli(['keys', 'set', '--config', s.config], lines(TRADER.apiKey)), {
    code: 2,
    stdout: '',
    stderr:
      'E_KEYS_INVALID: expected the API key and the secret on two lines of standard input, got 1 non-empty line(s)\n',
  });
  t.same(await cli(['keys', 'set', '--config', s.config], lines(TRADER.apiKey, 'short')), {
    code: 2,
    stdout: '',
    stderr: 'E_KEYS_INVALID: the API secret must be 16 to 128 printable characters without spaces\n',
  });
  t.throws(() => statSync(s.cred), { code: 'ENOENT' });
});

const noScript = requireTool('script', 'bsdutils')
  ? false
  : 'script is not installed (apt-get install bsdutils)';

/** `signal-client keys set` on a pseudo-terminal (script(1)): `screen` is what a person would see. */
function onTerminal(config: string) {
  const command = `${process.execPath} --import tsx ${MAIN} keys set --config ${config}`;
  const child = spawn('script', ['-qefc', command, '/dev/null'], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const term = { screen: '' };
  child.stdout.setEncoding('utf8').on('data', (c: string) => (term.screen += c));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  /** Waits for `text` on the screen, then types `keys`. */
  const type = (text: string, keys: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no "${text}" on the terminal:\n${term.screen}`)),
        30_000,
      );
      const check = () => {
        if (!term.screen.includes(text)) return;
        clearTimeout(timer);
        child.stdout.off('data', check);
        child.stdin.write(keys);
        resolve();
      };
      child.stdout.on('data', check);
      check();
    });
  return { term, type, exited, done: () => child.stdin.end() };
}

t.test(
  'on a terminal keys set asks for both values and echoes neither',
  { skip: skip || noScript },
  async (t) => {
    const s = await setup(t);
    const tty = onTerminal(s.config);
    await tty.type('API key: ', `${TRADER.apiKey}\r`);
    await tty.type('API secret: ', `${TRADER.secret}\r`);
    await tty.type('stored key trad…', '');
    tty.done();
    t.equal(await tty.exited, 0);
    t.equal(
      tty.term.screen,
      `API key: \r\nAPI secret: \r\nstored key trad… in the systemd credential ${s.cred}; check it with: signal-client keys test --config ${s.config}\r\n`,
      'neither the key nor the secret is echoed',
    );
    t.equal(
      (await cli(['keys', 'test', '--config', s.config])).stdout,
      `key trad… from the systemd credential ${s.cred} works: it reads balances and trades spot, and cannot withdraw\n`,
    );

    // Ctrl-C at a prompt: nothing is stored and the status says so.
    await cli(['keys', 'remove', '--config', s.config]);
    const cancelled = onTerminal(s.config);
    await cancelled.type('API key: ', `${TRADER.apiKey}\u0003`);
    t.equal(await cancelled.exited, 2);
    t.equal(cancelled.term.screen, 'API key: \r\nE_KEYS_INVALID: cancelled: nothing was stored\r\n');
    t.throws(() => statSync(s.cred), { code: 'ENOENT' });
  },
);

t.test('with the env backend keys set is refused and keys test reads the environment', async (t) => {
  const s = await setup(t, 'env');
  t.same(await cli(['keys', 'set', '--config', s.config], lines(TRADER.apiKey, TRADER.secret)), {
    code: EXIT.keystore,
    stdout: '',
    stderr:
      'E_KEYSTORE_READONLY: the env keystore cannot store or remove keys: set EXCHANGE_API_KEY and EXCHANGE_API_SECRET in the environment, or set keystore.backend to systemd-creds (appliance) or keytar (desktop)\n',
  });
  t.same(await cli(['keys', 'test', '--config', s.config]), {
    code: EXIT.keystore,
    stdout: '',
    stderr:
      'E_KEYSTORE_EMPTY: EXCHANGE_API_KEY and EXCHANGE_API_SECRET must be set (the keys stay on this device)\n',
  });
  const ok = await cli(['keys', 'test', '--config', s.config], '', {
    EXCHANGE_API_KEY: TRADER.apiKey,
    EXCHANGE_API_SECRET: TRADER.secret,
  });
  t.equal(ok.code, 0);
  t.equal(
    ok.stdout,
    'key trad… from EXCHANGE_API_KEY / EXCHANGE_API_SECRET works: it reads balances and trades spot, and cannot withdraw\n',
  );
  const logged = ok.stderr
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  t.same(
    logged.map((l) => [l.level, l.backend, l.msg]),
    [
      [
        40,
        'env',
        'exchange keys come from the environment: for development only; use keystore.backend systemd-creds or keytar on a device',
      ],
    ],
  );
});

t.test('keys test says when the exchange does not answer', async (t) => {
  const s = await setup(t, 'env');
  await s.paper.close();
  const r = await cli(['keys', 'test', '--config', s.config], '', {
    EXCHANGE_API_KEY: TRADER.apiKey,
    EXCHANGE_API_SECRET: TRADER.secret,
  });
  t.equal(r.code, EXIT.unreachable);
  const port = new URL(s.paperUrl).port;
  t.equal(
    r.stderr.trim().split('\n').at(-1),
    `E_UNREACHABLE: the exchange did not answer (fetchBalance: GET ${s.paperUrl}/api/v3/exchangeInfo fetch failed: connect ECONNREFUSED 127.0.0.1:${port})`,
  );
});

t.test('run takes its keys from the keystore and logs only their fingerprint', { skip }, async (t) => {
  const s = await setup(t);
  const refused = await cli(['run', '--config', s.config]);
  t.same(refused, {
    code: EXIT.keystore,
    stdout: '',
    stderr: `E_KEYSTORE_EMPTY: no exchange API keys in the systemd credential ${s.cred}: store them with \`signal-client keys set --config FILE\`\n`,
  });
  t.equal((await cli(['keys', 'set', '--config', s.config], lines(TRADER.apiKey, TRADER.secret))).code, 0);
  const device = spawnNode('signal-client', MAIN, ['run', '--config', s.config], {
    EXCHANGE_API_KEY: '',
    EXCHANGE_API_SECRET: '',
  });
  t.teardown(() => device.kill('SIGKILL'));
  const loaded = await device.waitForLog((l) => l.msg === 'exchange keys loaded', 'the keys to load');
  t.equal(loaded.backend, 'systemd-creds');
  t.equal(loaded.key, 'trad…');
  await device.kill();
  const everything = JSON.stringify(device.lines) + device.text.join('\n');
  t.notOk(everything.includes(TRADER.secret), 'the secret is in no log line');
  t.notOk(everything.includes(TRADER.apiKey), 'nor the API key');
});
