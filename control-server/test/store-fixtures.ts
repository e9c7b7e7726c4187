// The data folder as the control server kept it before the database (issue 14): the four files
// written byte for byte as registry.ts, eligibility-history.ts, breaker-overrides.ts and
// admin-auth.ts wrote them (JSON.stringify, two spaces; one JSON line per history entry), with
// the content a server produced through its API before the change: three devices (one revoked,
// one with two tokens and a paper account), a pin and a block, two breaker overrides, and a
// rotated admin token.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** CONTROL_ADMIN_TOKEN when the files were written (helpers.ts's ADMIN). */
export const OLD_ENV_TOKEN = 'admin-token-0123456789';
/** The token the rotation returned; only its SHA-256 is in admin-token.json. */
export const OLD_ROTATED_TOKEN = 'pX55O8OTIB2DHoJ0YTbLfRN2axYCA-9gZnRm23hAPiQ';

const from = { remote: '127.0.0.1', userAgent: 'fixture/1.0' };

export const OLD_DEVICES = [
  {
    id: 'evil-1',
    scope: 'family',
    label: '',
    createdAt: 1750000002000,
    createdFrom: from,
    tokens: [{ issuedAt: 1750000002000, expiresAt: 1752592002000, fingerprint: 'd4b714efbea55281', from }],
    paperAccounts: [],
    revokedAt: 1750000005000,
    revokedFrom: from,
  },
  {
    id: 'home-1',
    scope: 'family',
    label: 'Grandma',
    createdAt: 1750000000000,
    createdFrom: from,
    tokens: [
      { issuedAt: 1750000000000, expiresAt: 1752592000000, fingerprint: '7a333bce5cb572bc', from },
      { issuedAt: 1750000003000, expiresAt: 1752592003000, fingerprint: '60f6c0359e5a05db', from },
    ],
    paperAccounts: [{ createdAt: 1750000004000, apiKeyPrefix: 'G8ZL', from }],
  },
  {
    id: 'home-2',
    scope: 'mandate:alice',
    label: '',
    createdAt: 1750000001000,
    createdFrom: from,
    tokens: [{ issuedAt: 1750000001000, expiresAt: 1752592001000, fingerprint: '083f982b81d4fc2c', from }],
    paperAccounts: [],
  },
];

export const OLD_HISTORY = [
  {
    type: 'override',
    seq: 1,
    at: 1750000006000,
    stream: 'ema.1h',
    symbol: 'ETH/USDT',
    mode: 'pin',
    by: { operator: 'ana', origin: from },
    reason: 'operator pin',
  },
  {
    type: 'override',
    seq: 2,
    at: 1750000007000,
    stream: 'ema.1h',
    symbol: 'BTC/USDT',
    mode: 'block',
    by: { origin: from },
    reason: 'incident',
  },
];

export const OLD_OVERRIDES = [
  {
    scope: 'market',
    level: 'halt',
    reason: 'exchange incident',
    by: 'ana',
    setAt: 1750000008000,
    expiresAt: 4000000000000,
  },
  {
    scope: 'ETH/USDT',
    level: 'caution',
    reason: 'thin book',
    by: 'operator at 127.0.0.1',
    setAt: 1750000009000,
    expiresAt: null,
  },
];

export const OLD_ADMIN_TOKEN = {
  v: 1,
  sha256: 'b12d1ff03a367d1ce8f825dc3e38da1bc3d776886a9b91fe747348c901c29e8a',
  rotatedAt: 1750000010000,
  rotatedFrom: from,
  envSha256: 'ca8d40e6ce4716b552f1c69863335b502f2afb57ffae171d6675fd56d91ca5b2',
};

/** Writes the four files into `dir` as the control server did before the database. */
export function writeOldDataFiles(dir: string): void {
  writeFileSync(join(dir, 'devices.json'), JSON.stringify({ v: 1, devices: OLD_DEVICES }, null, 2));
  writeFileSync(
    join(dir, 'eligibility-history.jsonl'),
    OLD_HISTORY.map((e) => JSON.stringify(e) + '\n').join(''),
  );
  writeFileSync(
    join(dir, 'breaker-overrides.json'),
    `${JSON.stringify({ v: 1, overrides: OLD_OVERRIDES }, null, 2)}\n`,
  );
  writeFileSync(join(dir, 'admin-token.json'), JSON.stringify(OLD_ADMIN_TOKEN, null, 2));
}
