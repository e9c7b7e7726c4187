import { hostname } from 'node:os';
import { chmodSync, lstatSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import {
  EnrolmentGrant,
  exportPrivateKeyPem,
  exportPublicKey,
  generateSigner,
  grantWgConf,
} from '@appliance/protocol';
import { AdminCliError, type AdminTarget } from '@appliance/control-server/cli-admin';
import { generateWgKeyPair } from '@appliance/wireguard';
import { api, seg, target, usage, withConn, type ConnOptions } from './api.js';
import * as check from './args.js';
import { at, fields, json, out } from './output.js';

/**
 * `device bundle`: the offline path (docs/enrolment.md section 7), less private than a token. The
 * device's keys are made here, in memory; the public ones are registered (POST
 * /api/devices/:id/keys); only once the server has answered a grant is anything written: a
 * temporary folder (0700) inside --out, its files 0600, renamed to DIR/<name> at the end.
 */

/** The files of a device's enrolment state folder, as signal-client reads them. */
const FILES = {
  deviceKey: 'device-key.pem',
  wgKey: 'wg-private.key',
  enrolment: 'enrolment.json',
  wgConf: 'wg0.conf',
  readme: 'README.txt',
} as const;

interface BundleFlags extends ConnOptions {
  name: string;
  profile: string;
  label?: string;
  out: string;
  enrolUrl?: string;
  enrolPin?: string;
  enrolServerName?: string;
}

/** wg0.conf as signal-client enrol writes it (the same function, from the protocol). */
const wgConf = (grant: EnrolmentGrant, privateKey: string) =>
  grantWgConf(grant, privateKey, 'provision device bundle');

function readme(name: string, grant: EnrolmentGrant, made: number): string {
  return `Offline enrolment bundle for device ${name} (profile ${grant.profile}),
made ${at(made)} on ${hostname()} by \`npm run provision -- device bundle\`.

Where each file goes: all of them into the device's enrolment state folder on the image (the
folder its configuration names in "enrolment": {"stateDir": "..."}), owned by the user
signal-client runs as, each file mode 0600, the folder mode 0700:

  ${FILES.deviceKey}   its Ed25519 device key: its identity for renewals and connection proofs
  ${FILES.wgKey}   its WireGuard private key
  ${FILES.wgConf}         its WireGuard configuration (tunnel address ${grant.tunnel.address}, the same
                   private key): bring the tunnel up from it (wg-quick)
  ${FILES.enrolment}   what the control server granted (tunnel, gateway, pinned keys, the
                   credential, valid until ${at(grant.credentialExpiresAt)}) and where to renew it

The device is enrolled already: do not run \`signal-client enrol\` on it. It renews its
credential itself, with its device key.

PRIVACY: these private keys were generated on the admin's machine, not on the device, and were
written here. Anybody who copied this folder can pass for the device until its keys are rotated
(\`npm run provision -- device rotate-keys ${name}\`) or it is revoked. Delete this folder once
the image is written. Prefer \`device add\` (an enrolment token; the device makes its own keys)
whenever the device can reach the enrolment endpoint at its first boot.
`;
}

function checkFolder(dir: string, final: string): void {
  let s;
  try {
    s = statSync(dir);
  } catch {
    throw usage(`--out ${dir}: no such folder`);
  }
  if (!s.isDirectory()) throw usage(`--out ${dir}: not a folder`);
  let exists = true;
  try {
    lstatSync(final);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') exists = false;
  }
  if (exists) throw usage(`--out ${dir}: ${final} exists; a bundle is never written over another`);
}

/** The device as the server has it, or undefined when it has none of that id (E_DEVICE_UNKNOWN). */
async function existingDevice(t: AdminTarget, name: string): Promise<{ scope: string } | undefined> {
  try {
    return (await api<{ device: { scope: string } }>(t, 'GET', `/api/devices/${seg(name)}`)).device;
  } catch (err) {
    if (err instanceof AdminCliError && err.message.startsWith('E_DEVICE_UNKNOWN:')) return undefined;
    throw err;
  }
}

export function registerBundleCommand(device: Command): void {
  withConn(
    device
      .command('bundle')
      .description(
        "OFFLINE, less private: make the device's keys on this machine, register the public ones, write DIR/<name>/ to put on the image",
      )
      .requiredOption('--name <name>', 'the device id: 3-64 lowercase letters, digits and -')
      .requiredOption('--profile <profile>', 'family, beta or mandate:<id>')
      .option('--label <text>', 'a note for people (at most 100 characters)')
      .requiredOption(
        '--out <dir>',
        'an existing folder: the bundle is written to DIR/<name>/ (0700, files 0600)',
      )
      .addOption(
        new Option(
          '--enrol-url <url>',
          "the enrolment endpoint the device renews at: the control server's --enrol-url (https://host[:port])",
        ).env('CONTROL_ENROL_URL'),
      )
      .addOption(
        new Option(
          '--enrol-pin <sha256>',
          "SHA-256 of that endpoint's certificate: the control server's --enrol-cert (64 hex digits)",
        ).env('CONTROL_ENROL_PIN'),
      )
      .option(
        '--enrol-server-name <name>',
        "the name that endpoint's certificate is checked against, if not the URL's host",
      ),
    'print {device, profile, folder, files, tunnelAddress, wgPublicKey, devicePublicKey, deviceKeyId, credentialExpiresAt} as JSON',
  )
    .addHelpText(
      'after',
      `
The private keys exist on this machine: prefer \`device add\` (an enrolment token, the device
makes its own keys) unless the devices are flashed in one place without network.
Examples:
  npm run provision -- device bundle --name shop-07 --profile beta --out /secure/bundles \\
    --enrol-url https://enrol.example.net --enrol-pin <64 hex>
Exit codes: 0 written; 2 bad usage or DIR/<name> exists (nothing sent); 5 the control server refused
(CODE: message printed; nothing written); 6 it did not answer (nothing written); 1 the server
registered the keys but the bundle could not be written (the device must be given new keys).`,
    )
    .action(async (o: BundleFlags) => {
      const name = check.deviceName(o.name);
      const scope = check.profile(o.profile);
      const label = check.label(o.label);
      if (
        o.enrolUrl === undefined ||
        !/^https:\/\/[^/?#@]+\/?$/.test(o.enrolUrl) ||
        !URL.canParse(o.enrolUrl)
      )
        throw usage(
          `--enrol-url${o.enrolUrl === undefined ? '' : ` ${o.enrolUrl}`}: the enrolment endpoint, https://host[:port] (the control server's --enrol-url; or CONTROL_ENROL_URL)`,
        );
      if (o.enrolPin === undefined || !/^[0-9a-f]{64}$/.test(o.enrolPin))
        throw usage(
          "--enrol-pin: the SHA-256 of the enrolment endpoint's certificate, 64 lowercase hex digits (the control server's --enrol-cert; or CONTROL_ENROL_PIN)",
        );
      if (o.enrolServerName !== undefined && !/^[A-Za-z0-9.-]{1,253}$/.test(o.enrolServerName))
        throw usage(`--enrol-server-name ${o.enrolServerName}: a DNS name`);
      const dir = resolve(o.out);
      const final = join(dir, name);
      checkFolder(dir, final);
      const t = target(o);

      // In memory only until the server has answered.
      const wg = generateWgKeyPair();
      const signer = generateSigner();
      const devicePublicKey = exportPublicKey(signer.publicKey);
      // An existing device (`device add` made it, or a bundle before): its public keys only, and
      // it must have the profile asked for. A new one: the route creates it with scope and label.
      const existing = await existingDevice(t, name);
      if (existing && existing.scope !== scope)
        throw new AdminCliError(
          'E_REFUSED',
          `E_PROFILE_MISMATCH: device ${name} exists with profile ${existing.scope}, not ${scope}; nothing sent, nothing written`,
        );
      const keysPath = `/api/devices/${seg(name)}/keys`;
      const answer = await api(
        t,
        'POST',
        keysPath,
        existing
          ? { wgPublicKey: wg.publicKey, devicePublicKey }
          : { scope, ...(label !== undefined && { label }), wgPublicKey: wg.publicKey, devicePublicKey },
      ).catch((err: unknown) => {
        if (err instanceof AdminCliError && err.message.startsWith('E_DEVICE_UNKNOWN:'))
          throw new AdminCliError(
            'E_REFUSED',
            `${err.message}; this control server registers keys only for an existing device: \`device add --name ${name} --profile ${scope}\` first (then revoke its token with \`token revoke\`)`,
          );
        throw err;
      });
      const parsed = EnrolmentGrant.safeParse(answer);
      if (!parsed.success || parsed.data.deviceId !== name)
        throw new AdminCliError(
          'E_REFUSED',
          `E_BAD_ANSWER: POST /api/devices/${name}/keys did not answer an enrolment grant for ${name}; nothing written`,
        );
      const grant = parsed.data;
      const made = Date.now();
      const record = {
        v: 1,
        enrolUrl: o.enrolUrl,
        pin: o.enrolPin,
        ...(o.enrolServerName !== undefined && { serverName: o.enrolServerName }),
        grant,
        enrolledAt: made,
      };

      let tmp: string | undefined;
      try {
        tmp = mkdtempSync(join(dir, `.${name}.partial-`));
        chmodSync(tmp, 0o700);
        const write = (file: string, data: string) => {
          const path = join(tmp!, file);
          writeFileSync(path, data, { mode: 0o600, flag: 'wx' });
          chmodSync(path, 0o600);
        };
        write(FILES.deviceKey, exportPrivateKeyPem(signer));
        write(FILES.wgKey, `${wg.privateKey}\n`);
        write(FILES.wgConf, wgConf(grant, wg.privateKey));
        write(FILES.enrolment, `${JSON.stringify(record, null, 2)}\n`);
        write(FILES.readme, readme(name, grant, made));
        renameSync(tmp, final);
        tmp = undefined;
      } catch (err) {
        if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
        process.stderr.write(
          `provision: ${final}: cannot be written (${(err as NodeJS.ErrnoException).code ?? String(err)}); ` +
            `the server registered keys that now exist nowhere: run \`device bundle\` again with --out elsewhere (it registers new keys), or revoke ${name}\n`,
        );
        process.exit(1);
      }

      const summary = {
        device: name,
        profile: grant.profile,
        folder: final,
        files: Object.values(FILES),
        tunnelAddress: grant.tunnel.address,
        wgPublicKey: wg.publicKey,
        devicePublicKey,
        deviceKeyId: signer.kid,
        credentialExpiresAt: grant.credentialExpiresAt,
      };
      if (o.json) return json(summary);
      out(
        `wrote ${final}/ (mode 0700, files 0600): ${Object.values(FILES).join(', ')}\n` +
          fields([
            ['device', `${name} (profile ${grant.profile})`],
            ['tunnel address', grant.tunnel.address],
            ['wireguard public key', wg.publicKey],
            ['device key id', signer.kid],
            ['credential expires', at(grant.credentialExpiresAt)],
          ]) +
          `\nits private keys exist on this machine: put the folder on the image (README.txt says where), then delete it`,
      );
    });
}
