// The simulator's keys and the approval settings are checked at start: a key file that is not a
// public key, or a KID that is not the key's own, exits 2 naming the option.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { exportPrivateKeyPem, exportPublicKey, generateSigner } from '@appliance/protocol';
import { goodSigningKeyFile, hasStackTrace, runCli } from '@appliance/test-kit';

const dir = mkdtempSync(join(tmpdir(), 'cs-sim-cli-'));
const node = generateSigner();
const pub = join(dir, 'sim.pub');
writeFileSync(pub, exportPublicKey(node.publicKey) + '\n');
const priv = join(dir, 'sim.pem');
writeFileSync(priv, exportPrivateKeyPem(node));
const junk = join(dir, 'junk.pub');
writeFileSync(junk, 'not a key\n');

const run = (args: string[]) =>
  runCli(
    'control-server/src/main.ts',
    ['--kafka', '127.0.0.1:1', '--signing-key-file', goodSigningKeyFile(dir), '--no-paper', ...args],
    { CONTROL_ADMIN_TOKEN: 'admin-token-0123456789' },
  );
const OPTION = 'simulatorKeys (--simulator-key, CONTROL_SIMULATOR_KEYS)';

t.test('a simulator key that is not usable stops the start with exit 2, naming the option', async (t) => {
  const cases: [string, string[], string][] = [
    [
      "a kid that is not the key's own",
      ['--simulator-key', `AAAAAAAAAAAAAAAA=${pub}`],
      `${OPTION}: ${pub}: its kid is ${node.kid}, not AAAAAAAAAAAAAAAA`,
    ],
    [
      'a private key',
      ['--simulator-key', `${node.kid}=${priv}`],
      `${OPTION}: ${priv}: a private key; give the simulator node's public key only`,
    ],
    [
      'not a key',
      ['--simulator-key', `${node.kid}=${junk}`],
      `${OPTION}: ${junk}: not an Ed25519 public key (base64url, 43 characters, or a PEM public key)`,
    ],
    [
      'no such file',
      ['--simulator-key', `${node.kid}=${dir}/nope`],
      `${OPTION}: ${dir}/nope: cannot be read (ENOENT)`,
    ],
    [
      'no KID=',
      ['--simulator-key', pub],
      `simulatorKeys.0 (--simulator-key, CONTROL_SIMULATOR_KEYS): simulator key: KID=FILE (the public key of a simulator node)`,
    ],
    [
      'an approval mode that does not exist',
      ['--eligibility-approval', 'ema.1h=later'],
      `eligibilityApproval.0 (--eligibility-approval, CONTROL_ELIGIBILITY_APPROVAL): eligibility approval: STREAM=auto or STREAM=manual (* for every other stream)`,
    ],
  ];
  for (const [name, args, line] of cases) {
    const r = run(args);
    t.equal(r.status, 2, `${name}: exit 2`);
    t.equal(r.stderr, `invalid control-server configuration:\n  - ${line}\n`, name);
    t.notOk(hasStackTrace(r.stderr));
  }
});
