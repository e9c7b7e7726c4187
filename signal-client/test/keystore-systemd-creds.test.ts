import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rejectionOf, requireTool } from '@appliance/test-kit';
import {
  createSystemdCredsKeystore,
  credentialFile,
  runCommand,
  type RunCommand,
} from '../src/keystore/index.js';

const KEYS = { apiKey: 'pk-test-0123456789abcdef', secret: 'sk-test-never-on-argv-0123456789' };
const BLOB = JSON.stringify(KEYS);

function skipReason(): string | false {
  if (!requireTool('systemd-creds', 'systemd'))
    return 'systemd-creds is not installed (apt-get install systemd)';
  // Only root can read the host key systemd-creds encrypts with (/var/lib/systemd/credential.secret).
  if (process.getuid?.() === 0) return false;
  if (process.env.CI === 'true')
    throw new Error('CI runs as root, and these tests need root for the host key');
  return 'systemd-creds needs root to use the host key';
}
const skip = skipReason();

/** The real runner, recording every program, argv and stdin it was given. */
function recorded(run: RunCommand = runCommand) {
  const calls: { file: string; args: string[]; stdin: string | undefined }[] = [];
  const recording: RunCommand = (file, args, stdin) => {
    calls.push({ file, args: [...args], stdin });
    return run(file, args, stdin);
  };
  return { calls, run: recording };
}

const tempDir = () => mkdtempSync(join(tmpdir(), 'keystore-creds-'));
const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

t.test(
  'set encrypts both keys into one 0600 credential in a 0700 folder, get reads them back',
  { skip },
  async (t) => {
    const dir = join(tempDir(), 'credstore.encrypted');
    const { calls, run } = recorded();
    const keystore = createSystemdCredsKeystore({ dir, env: {}, run });
    t.equal(keystore.backend, 'systemd-creds');
    t.equal(await keystore.get(), null, 'nothing stored yet');

    await keystore.set(KEYS);
    const file = join(dir, 'exchange-api.cred');
    t.equal(credentialFile(dir), file);
    t.equal(mode(dir), '700');
    t.equal(mode(file), '600');
    const stored = readFileSync(file, 'utf8');
    t.notOk(stored.includes(KEYS.secret) || stored.includes(KEYS.apiKey), 'the file holds no key in clear');
    t.same(await keystore.get(), KEYS);

    // A standard credential: what systemd's LoadCredentialEncrypted=exchange-api:FILE decrypts.
    t.equal(
      execFileSync('systemd-creds', ['decrypt', '--name=exchange-api', file, '-'], { encoding: 'utf8' }),
      BLOB,
    );

    t.same(
      calls.map((c) => [c.file, ...c.args]),
      [
        ['systemd-creds', 'encrypt', '--name=exchange-api', '-', '-'],
        ['systemd-creds', 'decrypt', '--name=exchange-api', file, '-'],
      ],
    );
    t.equal(calls[0]?.stdin, BLOB, 'the keys go in on stdin');
    const argv = calls.flatMap((c) => [c.file, ...c.args]).join(' ');
    t.notOk(argv.includes(KEYS.secret), 'the secret is never on argv (/proc/PID/cmdline is world-readable)');
    t.notOk(argv.includes(KEYS.apiKey), 'nor the API key');
  },
);

t.test(
  'set replaces the stored keys, remove deletes them, and removing twice is fine',
  { skip },
  async (t) => {
    const dir = tempDir();
    const keystore = createSystemdCredsKeystore({ dir, env: {} });
    await keystore.set(KEYS);
    const next = { apiKey: 'pk-test-replacement-000', secret: 'sk-test-replacement-0000' };
    await keystore.set(next);
    t.same(await keystore.get(), next);
    t.equal(mode(join(dir, 'exchange-api.cred')), '600');
    await keystore.remove();
    t.notOk(existsSync(join(dir, 'exchange-api.cred')));
    t.equal(await keystore.get(), null);
    await keystore.remove();
  },
);

t.test(
  'under systemd the keys come from $CREDENTIALS_DIRECTORY, with no systemd-creds run',
  { skip },
  async (t) => {
    const dir = tempDir();
    await createSystemdCredsKeystore({ dir, env: {} }).set(KEYS);
    // What systemd does for LoadCredentialEncrypted=exchange-api:FILE before starting the service.
    const credentials = join(tempDir(), 'credentials');
    mkdirSync(credentials, { mode: 0o700 });
    execFileSync('systemd-creds', [
      'decrypt',
      '--name=exchange-api',
      credentialFile(dir),
      join(credentials, 'exchange-api'),
    ]);
    const { calls, run } = recorded();
    const service = createSystemdCredsKeystore({
      dir: join(tempDir(), 'not-there'),
      env: { CREDENTIALS_DIRECTORY: credentials },
      run,
    });
    t.same(await service.get(), KEYS);
    t.same(calls, []);

    // A service with other credentials but not this one falls back to the file.
    const other = createSystemdCredsKeystore({ dir, env: { CREDENTIALS_DIRECTORY: tempDir() } });
    t.same(await other.get(), KEYS);
  },
);

t.test(
  'a damaged or foreign credential is E_KEYSTORE_CORRUPT and says to store the keys again',
  { skip },
  async (t) => {
    const dir = tempDir();
    const file = credentialFile(dir);
    const keystore = createSystemdCredsKeystore({ dir, env: {} });

    writeFileSync(file, Buffer.alloc(96, 7).toString('base64'), { mode: 0o600 });
    t.equal(
      await rejectionOf(keystore.get()),
      `E_KEYSTORE_CORRUPT: systemd-creds cannot decrypt ${file} (Unknown encryption format, or corrupted data: Operation not supported): it was made with another machine's key or is damaged; store the keys again with \`signal-client keys set\``,
    );

    execFileSync('systemd-creds', ['encrypt', '--name=something-else', '-', file], { input: BLOB });
    t.equal(
      await rejectionOf(keystore.get()),
      `E_KEYSTORE_CORRUPT: systemd-creds cannot decrypt ${file} (Embedded credential name 'something-else' does not match filename 'exchange-api', refusing.): it was made with another machine's key or is damaged; store the keys again with \`signal-client keys set\``,
    );

    execFileSync('systemd-creds', ['encrypt', '--name=exchange-api', '-', file], { input: 'hello' });
    t.equal(
      await rejectionOf(keystore.get()),
      `E_KEYSTORE_CORRUPT: ${file} does not hold the keys as JSON: store them again with \`signal-client keys set\``,
    );

    execFileSync('systemd-creds', ['encrypt', '--name=exchange-api', '-', file], {
      input: JSON.stringify({ apiKey: 'short', secret: KEYS.secret }),
    });
    t.equal(
      await rejectionOf(keystore.get()),
      `E_KEYSTORE_CORRUPT: ${file} holds malformed keys (the API key must be 16 to 128 printable characters without spaces): store them again with \`signal-client keys set\``,
    );
  },
);

t.test('without systemd-creds the backend is E_KEYSTORE_UNAVAILABLE and names the package', async (t) => {
  const dir = tempDir();
  const keystore = createSystemdCredsKeystore({ dir, env: {}, bin: '/nonexistent/systemd-creds' });
  const expected =
    'E_KEYSTORE_UNAVAILABLE: systemd-creds is not installed (/nonexistent/systemd-creds): install systemd 250 or later (apt-get install systemd), or set keystore.backend to keytar on a desktop';
  t.equal(await rejectionOf(keystore.set(KEYS)), expected);
  writeFileSync(credentialFile(dir), 'x', { mode: 0o600 });
  t.equal(await rejectionOf(keystore.get()), expected);
});

const noSetpriv = requireTool('setpriv', 'util-linux')
  ? false
  : 'setpriv is not installed (apt-get install util-linux)';
t.test(
  'as a user who cannot read the host key, it says to run as root',
  { skip: skip || noSetpriv },
  async (t) => {
    const dir = tempDir();
    // The real systemd-creds, run as nobody.
    const asNobody: RunCommand = (file, args, stdin) =>
      runCommand('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', file, ...args], stdin);
    const keystore = createSystemdCredsKeystore({ dir, env: {}, run: asNobody });
    t.equal(
      await rejectionOf(keystore.set(KEYS)),
      `E_KEYSTORE_UNAVAILABLE: systemd-creds cannot use the host key /var/lib/systemd/credential.secret as this user (Failed to determine local credential host secret: Permission denied): run as root (sudo), or run the service with LoadCredentialEncrypted=exchange-api:${dir}/exchange-api.cred`,
    );
    t.notOk(existsSync(credentialFile(dir)), 'nothing was written');
  },
);

t.test('set refuses malformed keys before running anything', async (t) => {
  const { calls, run } = recorded();
  const keystore = createSystemdCredsKeystore({ dir: tempDir(), env: {}, run });
  t.equal(
    await rejectionOf(keystore.set({ apiKey: KEYS.apiKey, secret: 'has a space in it 0123' })),
    'E_KEYS_INVALID: the API secret must be 16 to 128 printable characters without spaces',
  );
  t.equal(
    await rejectionOf(keystore.set({ apiKey: KEYS.secret, secret: KEYS.secret })),
    'E_KEYS_INVALID: the API key and the secret are the same: paste each once',
  );
  t.same(calls, []);
});
