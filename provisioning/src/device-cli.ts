import { chmodSync, lstatSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Command } from 'commander';
import type { EnrolmentSummary, EnrolmentTokenView } from '@appliance/control-server/enrolment-model';
import { EXIT, exitWith } from '@appliance/runtime';
import { api, seg, target, usage, withConn, type ConnOptions } from './api.js';
import * as check from './args.js';
import { at, fields, json, out, table } from './output.js';

/**
 * `device add|token|list|show|revoke|rotate-keys` and `token list|revoke`: the admin's side of
 * docs/enrolment.md. Every argument is checked before anything is sent.
 */

/** What the control server answers (control-server/src/enrolment-model.ts): one definition for both sides. */
type TokenView = EnrolmentTokenView;
type Summary = EnrolmentSummary;

interface DeviceView {
  id: string;
  scope: string;
  label?: string;
  createdAt: number;
  revokedAt?: number;
  tokens?: { issuedAt: number; expiresAt: number; fingerprint: string }[];
  enrolment: Summary | null;
}

interface Issued {
  token: string;
  enrolmentToken: TokenView;
  device?: DeviceView;
}

type TokenFlags = { tokenTtl?: string; tokenUses?: string; out?: string };

const EXAMPLES = (lines: string[]) =>
  `\nExamples:\n${lines.map((l) => `  npm run provision -- ${l}`).join('\n')}`;
const EXIT_CODES =
  '\nExit codes: 0 done; 2 bad usage (nothing sent); 5 the control server refused (CODE: message printed); 6 it did not answer.';

/** `--out FILE` for a token: refused before anything is sent if it exists or its folder does not. */
function checkOutFile(file: string | undefined): void {
  if (file === undefined) return;
  let exists = true;
  try {
    lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') exists = false;
  }
  if (exists) throw usage(`--out ${file}: exists; an enrolment token is never written over a file`);
  let isFolder = false;
  try {
    isFolder = statSync(dirname(file)).isDirectory();
  } catch {
    // said below
  }
  if (!isFolder) throw usage(`--out ${file}: its folder ${dirname(file)} does not exist`);
}

/** Writes the token (mode 0600, never over a file); a failure now says how to withdraw the token. */
function writeToken(file: string, issued: Issued): void {
  try {
    writeFileSync(file, `${issued.token}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  } catch (err) {
    exitWith(
      EXIT.failure,
      `provision: --out ${file}: cannot be written (${(err as NodeJS.ErrnoException).code ?? String(err)}); ` +
        `token ${issued.enrolmentToken.id} was made: withdraw it with \`npm run provision -- token revoke ${issued.enrolmentToken.id}\``,
    );
  }
}

function printIssued(issued: Issued, o: TokenFlags & ConnOptions): void {
  const v = issued.enrolmentToken;
  if (o.out !== undefined) writeToken(o.out, issued);
  if (o.json) {
    const { token, ...rest } = issued;
    return json({ ...rest, ...(o.out === undefined ? { token } : { tokenFile: o.out }) });
  }
  const lines = [
    ...(issued.device ? [`registered ${issued.device.id} (profile ${issued.device.scope})`] : []),
    `enrolment token ${v.id} for ${v.deviceId}: ${v.maxUses} use${v.maxUses === 1 ? '' : 's'}, expires ${at(v.expiresAt)}`,
    o.out === undefined
      ? `${issued.token}\nthis token is a secret until it is used or expires: hand it to the device's first boot, \`signal-client enrol --token <token|@FILE>\``
      : `wrote the token to ${o.out} (mode 0600): hand it to the device's first boot, \`signal-client enrol --token @FILE\``,
  ];
  out(lines.join('\n'));
}

const tokenFlagOptions = (c: Command) =>
  c
    .option(
      '--token-ttl <duration>',
      'how long the token works: 30d, 12h, 90m or milliseconds (default 7d, at most 90d)',
    )
    .option('--token-uses <n>', 'how many enrolments it allows, 1 to 100 (default 1)')
    .option('--out <file>', 'write the token to this new file (mode 0600) instead of printing it');

const enrolled = (s: Summary | null) => (s?.enrolledAt != null ? at(s.enrolledAt) : s ? 'no' : '—');

export function registerDeviceCommands(program: Command): void {
  const device = program
    .command('device')
    .description(
      'register devices and hand out enrolment tokens, list, show, revoke, rotate keys, offline bundles',
    );

  withConn(
    tokenFlagOptions(
      device
        .command('add')
        .description(
          'register a device and make its enrolment token (POST /api/enrolments); the device makes its own keys',
        )
        .requiredOption('--name <name>', 'the device id: 3-64 lowercase letters, digits and -')
        .requiredOption('--profile <profile>', 'family, beta or mandate:<id>')
        .option('--label <text>', 'a note for people (at most 100 characters)'),
    ),
  )
    .addHelpText(
      'after',
      EXAMPLES([
        'device add --name kitchen-01 --profile family',
        'device add --name lab-02 --profile mandate:acme --token-ttl 12h --out lab-02.token',
      ]) + EXIT_CODES,
    )
    .action(async (o: ConnOptions & TokenFlags & { name: string; profile: string; label?: string }) => {
      const body = {
        id: check.deviceName(o.name),
        scope: check.profile(o.profile),
        ...(check.label(o.label) !== undefined && { label: o.label }),
        ...check.tokenOptions(o),
      };
      checkOutFile(o.out);
      const issued = await api<Issued>(target(o), 'POST', '/api/enrolments', body);
      printIssued(issued, o);
    });

  withConn(
    tokenFlagOptions(
      device
        .command('token')
        .description('a new enrolment token for an existing, unrevoked device, e.g. a re-flashed one')
        .argument('<id>', 'the device id'),
    ),
  )
    .addHelpText(
      'after',
      EXAMPLES(['device token kitchen-01 --token-ttl 2d --out kitchen-01.token']) + EXIT_CODES,
    )
    .action(async (id: string, o: ConnOptions & TokenFlags) => {
      const body = check.tokenOptions(o);
      check.deviceName(id, 'device');
      checkOutFile(o.out);
      printIssued(await api<Issued>(target(o), 'POST', `/api/devices/${seg(id)}/enrolment-tokens`, body), o);
    });

  withConn(
    device
      .command('list')
      .description(
        'every device: profile, tunnel address, enrolment, credential expiry, renewal status, revocation',
      ),
    'print {devices: [...]} as JSON (times in epoch ms)',
  )
    .addHelpText(
      'after',
      '\nColumns: ID, PROFILE, TUNNEL (its /32), ENROLLED (when, or no), CREDENTIAL EXPIRES,\nRENEWAL (ok, due, overdue, expired, never-enrolled), REVOKED (when, or no).' +
        EXAMPLES(['device list', 'device list --json']) +
        EXIT_CODES,
    )
    .action(async (o: ConnOptions) => {
      const r = await api<{ devices: DeviceView[] }>(target(o), 'GET', '/api/devices');
      const rows = r.devices.map((d) => ({
        id: d.id,
        profile: d.scope,
        label: d.label ?? '',
        tunnelAddress: d.enrolment?.tunnelAddress ?? null,
        enrolled: d.enrolment?.enrolled ?? false,
        enrolledAt: d.enrolment?.enrolledAt ?? null,
        credentialExpiresAt: d.enrolment?.credentialExpiresAt ?? null,
        renewal: d.enrolment?.renewal ?? null,
        revoked: d.revokedAt !== undefined,
        revokedAt: d.revokedAt ?? null,
        enrolment: d.enrolment,
      }));
      if (o.json) return json({ devices: rows.map(({ enrolment: _e, ...row }) => row) });
      if (rows.length === 0) return out('no devices');
      out(
        table(
          ['ID', 'PROFILE', 'TUNNEL', 'ENROLLED', 'CREDENTIAL EXPIRES', 'RENEWAL', 'REVOKED'],
          rows.map((d) => [
            d.id,
            d.profile,
            d.tunnelAddress ?? '—',
            enrolled(d.enrolment),
            at(d.credentialExpiresAt),
            d.renewal ?? '—',
            d.revokedAt === null ? 'no' : at(d.revokedAt),
          ]),
        ),
      );
    });

  withConn(
    device
      .command('show')
      .description(
        'everything about one device: keys, tunnel address, credentials, enrolment tokens, renewals, rotation (never a secret)',
      )
      .argument('<id>', 'the device id'),
    'print {device, enrolmentTokens} as JSON (times in epoch ms)',
  )
    .addHelpText('after', EXAMPLES(['device show kitchen-01']) + EXIT_CODES)
    .action(async (id: string, o: ConnOptions) => {
      check.deviceName(id, 'device');
      const t = target(o);
      const { device: d } = await api<{ device: DeviceView }>(t, 'GET', `/api/devices/${seg(id)}`);
      const { tokens } = await api<{ tokens: TokenView[] }>(t, 'GET', '/api/enrolment-tokens');
      const mine = tokens.filter((tk) => tk.deviceId === d.id);
      if (o.json) return json({ device: d, enrolmentTokens: mine });
      const e = d.enrolment;
      const credentials = d.tokens ?? [];
      const last = credentials.at(-1);
      const pairs: [string, string][] = [
        ['device', d.id],
        ['profile', d.scope],
        ['label', d.label || '—'],
        ['created', at(d.createdAt)],
        ['revoked', d.revokedAt === undefined ? 'no' : at(d.revokedAt)],
        ['tunnel address', e?.tunnelAddress ?? '—'],
        ['wireguard public key', e?.wgPublicKey ?? '—'],
        ['device key id', e?.deviceKid ?? '—'],
        ['enrolled', enrolled(e)],
        ['credential expires', at(e?.credentialExpiresAt)],
        [
          'renewal',
          e
            ? `${e.renewal}; ${e.renewals} renewal${e.renewals === 1 ? '' : 's'}, last ${at(e.lastRenewedAt)}`
            : '—',
        ],
        [
          'key rotation',
          e
            ? e.rotation.state === 'requested'
              ? `requested ${at(e.rotation.requestedAt)}: at its next renewal`
              : e.rotation.state === 'completed'
                ? `completed ${at(e.rotation.completedAt)}`
                : 'none'
            : '—',
        ],
        ...(e?.rotation.retiredKeys ?? []).map((k): [string, string] => [
          'retired device key',
          `${k.kid}, renews until ${at(k.validUntil)}`,
        ]),
        [
          'credentials issued',
          `${credentials.length}${last ? ` (last ${at(last.issuedAt)}, fingerprint ${last.fingerprint})` : ''}`,
        ],
      ];
      const tokenTable = mine.length
        ? `enrolment tokens:\n${table(
            ['ID', 'STATE', 'USES', 'CREATED', 'EXPIRES'],
            mine.map((tk) => [
              tk.id,
              tk.state,
              `${tk.uses}/${tk.maxUses}`,
              at(tk.createdAt),
              at(tk.expiresAt),
            ]),
          )}`
        : 'enrolment tokens: none';
      out(`${fields(pairs)}\n${tokenTable}`);
    });

  withConn(
    device
      .command('revoke')
      .description(
        'revoke a device for good: its tunnel peer is removed, gateways drop it, its tokens and renewals are refused',
      )
      .argument('<id>', 'the device id')
      .option('--yes', 'confirm: a revoked device never comes back (enrol it again as a new device)', false),
  )
    .addHelpText('after', EXAMPLES(['device revoke kitchen-01 --yes']) + EXIT_CODES)
    .action(async (id: string, o: ConnOptions & { yes: boolean }) => {
      check.deviceName(id, 'device');
      if (!o.yes)
        throw usage(
          `device revoke ${id}: revoking is permanent (the device must be enrolled again as a new device): add --yes`,
        );
      const { device: d } = await api<{ device: DeviceView }>(
        target(o),
        'POST',
        `/api/devices/${seg(id)}/revoke`,
      );
      if (o.json) return json({ device: d });
      out(
        `revoked ${d.id} at ${at(d.revokedAt)}: its tunnel peer is removed, gateways drop it, its enrolment tokens and renewals are refused`,
      );
    });

  withConn(
    device
      .command('rotate-keys')
      .description('order a key rotation: the device makes new WireGuard and device keys at its next renewal')
      .argument('<id>', 'the device id'),
  )
    .addHelpText('after', EXAMPLES(['device rotate-keys kitchen-01']) + EXIT_CODES)
    .action(async (id: string, o: ConnOptions) => {
      check.deviceName(id, 'device');
      const r = await api<{ device: DeviceView; enrolment: Summary }>(
        target(o),
        'POST',
        `/api/devices/${seg(id)}/rotate-keys`,
      );
      if (o.json) return json(r);
      out(
        `${r.device.id} will rotate its keys at its next renewal (its credential expires ${at(r.enrolment.credentialExpiresAt)}; renewal status ${r.enrolment.renewal}); \`device show ${r.device.id}\` says when it is done`,
      );
    });
}

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('enrolment tokens: list them, withdraw one');

  withConn(
    token
      .command('list')
      .description('every enrolment token (never its secret): device, state, uses, expiry')
      .option('--device <id>', "only this device's tokens"),
    'print {tokens: [...]} as JSON (times in epoch ms)',
  )
    .addHelpText(
      'after',
      '\nColumns: ID, DEVICE, STATE (active, used, expired, revoked), USES (used/allowed), CREATED, EXPIRES.' +
        EXAMPLES(['token list', 'token list --device kitchen-01 --json']) +
        EXIT_CODES,
    )
    .action(async (o: ConnOptions & { device?: string }) => {
      if (o.device !== undefined) check.deviceName(o.device, '--device');
      const r = await api<{ tokens: TokenView[] }>(target(o), 'GET', '/api/enrolment-tokens');
      const tokens = r.tokens.filter((tk) => o.device === undefined || tk.deviceId === o.device);
      if (o.json) return json({ tokens });
      if (tokens.length === 0) return out('no enrolment tokens');
      out(
        table(
          ['ID', 'DEVICE', 'STATE', 'USES', 'CREATED', 'EXPIRES'],
          tokens.map((tk) => [
            tk.id,
            tk.deviceId,
            tk.state,
            `${tk.uses}/${tk.maxUses}`,
            at(tk.createdAt),
            at(tk.expiresAt),
          ]),
        ),
      );
    });

  withConn(
    token
      .command('revoke')
      .description(
        'withdraw an enrolment token: nobody enrols with it any more (an enrolled device is not affected)',
      )
      .argument('<id>', 'the token id (et-…)'),
  )
    .addHelpText('after', EXAMPLES(['token revoke et-0123456789abcdef']) + EXIT_CODES)
    .action(async (id: string, o: ConnOptions) => {
      check.tokenId(id);
      const r = await api<{ token: TokenView }>(target(o), 'POST', `/api/enrolment-tokens/${seg(id)}/revoke`);
      if (o.json) return json(r);
      out(
        `revoked ${r.token.id} (device ${r.token.deviceId}): used ${r.token.uses} of ${r.token.maxUses}; it enrols nothing from now on`,
      );
    });
}
