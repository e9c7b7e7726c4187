import { execFile } from 'node:child_process';
import t from 'tap';
import { requireTool } from '@appliance/test-kit';
import { findTool, generateWgKeyPair, isWgKey, wgPublicKeyOf } from '../src/index.js';

const skip = requireTool('wg', 'wireguard-tools')
  ? false
  : 'wg is not installed (apt-get install wireguard-tools)';

/** The real tool, the key on stdin (as wg pubkey takes it). */
function wg(args: string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(findTool('wg') ?? 'wg', args, { timeout: 10_000 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout.trim()),
    );
    child.stdin!.on('error', () => undefined); // genkey exits without reading it
    child.stdin!.end(input);
  });
}

t.test('our public key of a private key is what `wg pubkey` says', { skip }, async (t) => {
  for (let i = 0; i < 5; i++) {
    const pair = generateWgKeyPair();
    t.ok(isWgKey(pair.privateKey) && isWgKey(pair.publicKey), 'both keys look like wg keys');
    t.equal(await wg(['pubkey'], `${pair.privateKey}\n`), pair.publicKey, 'generated pair');
    t.equal(wgPublicKeyOf(pair.privateKey), pair.publicKey, 'wgPublicKeyOf of a generated key');
  }
  // And the other way: keys made by `wg genkey`.
  for (let i = 0; i < 5; i++) {
    const privateKey = await wg(['genkey']);
    t.equal(wgPublicKeyOf(privateKey), await wg(['pubkey'], `${privateKey}\n`), 'wg genkey key');
  }
});

t.test('generated private keys are clamped, as wg genkey makes them', async (t) => {
  const raw = Buffer.from(generateWgKeyPair().privateKey, 'base64');
  t.equal(raw.length, 32);
  t.equal(raw[0]! & 7, 0);
  t.equal(raw[31]! & 0xc0, 0x40);
});

t.test('isWgKey accepts exactly base64 of 32 bytes', async (t) => {
  const good = generateWgKeyPair().publicKey;
  t.ok(isWgKey(good));
  for (const bad of [
    '',
    good.slice(0, -1), // no '='
    `${good.slice(0, -1)}==`,
    `A${good}`,
    good.replace(/.=$/, 'B='), // non-canonical: the last character's low bits set
    good.replace(/^./, '-'), // base64url is not what wg writes
    Buffer.alloc(31).toString('base64'),
    Buffer.alloc(33).toString('base64'),
    42,
    null,
  ])
    t.notOk(isWgKey(bad), `refuses ${JSON.stringify(bad)}`);
  t.throws(() => wgPublicKeyOf('nope'), { code: 'E_INVALID' });
});
