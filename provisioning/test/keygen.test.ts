// `npm run keygen`: a signing key written once with a private mode, and its public key printed in
// the form every pin takes: what the key signs verifies against exactly what was printed.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { KeyRing, signMessage, signerFromPem, verifySignature } from '@appliance/protocol';
import { EXIT } from '@appliance/runtime';
import { badSigningKeyFiles, hasStackTrace, runCli } from '@appliance/test-kit';

const ENTRY = 'provisioning/src/main.ts';
const dir = mkdtempSync(join(tmpdir(), 'keygen-'));
const keygen = (...args: string[]) => runCli(ENTRY, ['keygen', ...args]);

t.test('a new key: mode 0600, and what it signs verifies against the printed public key', async (t) => {
  const out = join(dir, 'datafeed.pem');
  const r = keygen('--out', out, '--role', 'datafeed');
  t.equal(r.status, EXIT.ok, r.stderr);
  t.equal(statSync(out).mode & 0o777, 0o600);
  const publicKey = /^public key: ([A-Za-z0-9_-]{43})$/m.exec(r.stdout)?.[1];
  const keyId = /^key id: +([A-Za-z0-9_-]{16})$/m.exec(r.stdout)?.[1];
  t.ok(publicKey && keyId, r.stdout);
  const signer = signerFromPem(readFileSync(out, 'utf8'));
  t.equal(signer.kid, keyId, 'the key id is the one messages carry');
  const signed = signMessage('signal', { kid: signer.kid, n: 1 }, signer);
  const { sig, ...unsigned } = signed;
  t.doesNotThrow(() => verifySignature('signal', unsigned, sig, KeyRing.of(publicKey!)));
  t.match(r.stdout, /gateways: --signal-key \(GATEWAY_SIGNAL_KEYS/);
  t.match(r.stdout, /control server: --feed-key/);
  t.notMatch(r.stdout + r.stderr, /PRIVATE KEY/, 'the private key is never printed');

  const again = keygen('--public', out, '--json');
  t.equal(again.status, EXIT.ok, again.stderr);
  t.same(JSON.parse(again.stdout), {
    publicKey,
    keyId,
    file: out,
    written: false,
    role: null,
    pinnedBy: null,
  });
});

t.test('a control-server key names the pins a control key needs', async (t) => {
  const r = keygen('--out', join(dir, 'control.pem'), '--role', 'control-server', '--json');
  t.equal(r.status, EXIT.ok, r.stderr);
  const info = JSON.parse(r.stdout) as { pinnedBy: string[]; written: boolean };
  t.ok(info.written);
  t.match(info.pinnedBy.join('\n'), /--token-key \(GATEWAY_TOKEN_KEYS/);
  t.match(info.pinnedBy.join('\n'), /"controlKeys"/);
});

t.test('an existing key is kept unless --force, which leaves it private again', async (t) => {
  const out = join(dir, 'kept.pem');
  writeFileSync(out, 'in use\n', { mode: 0o644 });
  const r = keygen('--out', out);
  t.equal(r.status, EXIT.config);
  t.match(r.stderr, /--out .*kept\.pem: exists; a key in use is not overwritten/);
  t.equal(readFileSync(out, 'utf8'), 'in use\n', 'untouched');
  const forced = keygen('--out', out, '--force');
  t.equal(forced.status, EXIT.ok, forced.stderr);
  t.equal(statSync(out).mode & 0o777, 0o600);
  t.doesNotThrow(() => signerFromPem(readFileSync(out, 'utf8')));
});

t.test('bad usage and files that are not a signing key exit 2 with one line, never a stack', async (t) => {
  const cases: [string, string[], RegExp][] = [
    ['neither', [], /give exactly one of --out FILE .* or --public FILE/],
    ['both', ['--out', join(dir, 'x.pem'), '--public', join(dir, 'x.pem')], /give exactly one/],
    ['a folder to write', ['--out', join(dir, 'no/such/dir.pem')], /cannot be written \(ENOENT\)/],
    [
      'an unknown role',
      ['--out', join(dir, 'y.pem'), '--role', 'gateway'],
      /Allowed choices are datafeed, control-server/,
    ],
    ...badSigningKeyFiles(dir).map((b): [string, string[], RegExp] => [
      `--public ${b.name}`,
      ['--public', b.file],
      new RegExp(`${b.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ${b.problem.replace(/[()]/g, '\\$&')}`),
    ]),
  ];
  for (const [name, args, message] of cases) {
    const r = keygen(...args);
    t.equal(r.status, EXIT.config, `${name}: exit 2`);
    t.match(r.stderr, message, name);
    t.notOk(hasStackTrace(r.stderr), `${name}: no stack`);
  }
});

t.test('--help shows both forms with examples', async (t) => {
  const r = keygen('--help');
  t.equal(r.status, EXIT.ok);
  for (const option of ['--out', '--public', '--role', '--force', '--json']) t.match(r.stdout, option);
  t.match(r.stdout, /npm run keygen -- --out/);
});
