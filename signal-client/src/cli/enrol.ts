import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { EXIT, exitWith } from '@appliance/runtime';
import { EnrolError, EnrolmentClientError, enrol, readTicket, STATE_FILES } from '../enrolment/index.js';
import { readClientConfig } from './config-file.js';

interface EnrolFlags {
  token: string;
  stateDir?: string;
  config?: string;
}

/** `--token @FILE`: the token read from a file (one trailing newline and spaces ignored). */
function tokenText(value: string): string {
  if (!value.startsWith('@')) return value;
  const file = value.slice(1);
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    return exitWith(
      EXIT.config,
      `E_BAD_ENROLMENT_TOKEN: --token @${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}

async function enrolAction(flags: EnrolFlags): Promise<void> {
  const config = flags.config !== undefined ? readClientConfig(flags.config) : undefined;
  const fromConfig = config?.enrolment?.stateDir;
  if (flags.stateDir === undefined && fromConfig === undefined)
    exitWith(
      EXIT.config,
      'name the state folder: --state-dir DIR, or a --config whose enrolment.stateDir names it',
    );
  const stateDir = resolve(flags.stateDir ?? fromConfig!);
  if (fromConfig !== undefined && flags.stateDir !== undefined && resolve(fromConfig) !== stateDir)
    exitWith(
      EXIT.config,
      `--state-dir ${flags.stateDir} is not the config's enrolment.stateDir ${fromConfig}: give one of them`,
    );
  if (config && config.enrolment === undefined)
    process.stderr.write(
      `note: ${flags.config} has no enrolment section: add "enrolment": {"stateDir": "${stateDir}"} (and remove gatewayUrl, token, signalKeys, controlKeys) for the device to use this enrolment\n`,
    );
  const token = tokenText(flags.token);
  try {
    // Refuse a token for another device or another profile before any key is made. (The
    // server's records decide the profile; this only catches the wrong token in the wrong box.)
    const ticket = readTicket(token, Date.now());
    if (config?.deviceId !== undefined && ticket.device !== config.deviceId)
      exitWith(
        EXIT.config,
        `E_BAD_ENROLMENT_TOKEN: the token enrols ${ticket.device} but ${flags.config} is for ${config.deviceId}`,
      );
    if (config?.profile !== undefined && ticket.profile !== config.profile)
      exitWith(
        EXIT.config,
        `E_BAD_ENROLMENT_TOKEN: the token enrols a ${ticket.profile} device but ${flags.config} is for profile ${config.profile}`,
      );
    const { record, reusedKeys } = await enrol({ token, stateDir });
    const g = record.grant;
    process.stdout.write(
      [
        `enrolled ${g.deviceId} (profile ${g.profile})${reusedKeys ? ', with the keys already in the folder' : ''}`,
        `  tunnel address  ${g.tunnel.address}/32 (concentrator ${g.tunnel.endpoint})`,
        `  gateway         ${g.gatewayUrl}`,
        `  credential      valid until ${new Date(g.credentialExpiresAt).toISOString()} (renewed by the running device)`,
        `  state folder    ${stateDir}: ${STATE_FILES.deviceKey}, ${STATE_FILES.wgKey}, ${STATE_FILES.enrolment}, ${STATE_FILES.wgConf} (mode 0600)`,
        `next: bring the tunnel up from ${stateDir}/${STATE_FILES.wgConf} (wg-quick), then start the device (signal-client run) with "enrolment": {"stateDir": "${stateDir}"} in its config`,
        '',
      ].join('\n'),
    );
  } catch (err) {
    if (err instanceof EnrolError)
      exitWith(err.code === 'E_BAD_GRANT' ? EXIT.failure : EXIT.config, `${err.code}: ${err.message}`);
    if (err instanceof EnrolmentClientError) {
      const code = err.serverCode ?? err.code;
      const message = err.message;
      exitWith(
        err.code === 'E_ENROL_UNREACHABLE' ? EXIT.unreachable : EXIT.failure,
        `${code}: ${message}${err.code === 'E_ENROL_PIN' ? '' : `\n(the keys in ${stateDir} are kept: running enrol again reuses them)`}`,
      );
    }
    throw err;
  }
}

/** `signal-client enrol --token <sa-enrol-1…|@FILE> [--state-dir DIR] [--config FILE]`: first boot. */
export function registerEnrolCommand(program: Command): void {
  program
    .command('enrol')
    .description(
      "first boot: make this device's keys, enrol it with the token from `device add`, write its credential and tunnel config",
    )
    .requiredOption('--token <token>', 'the enrolment token (sa-enrol-1.…), or @FILE to read it from a file')
    .option(
      '--state-dir <dir>',
      "the device's state folder (keys, enrolment.json, wg0.conf), made 0700; default: the config's enrolment.stateDir",
    )
    .addOption(
      new Option(
        '-c, --config <file>',
        'device configuration (JSON): its enrolment.stateDir and deviceId are used',
      ).env('SIGNAL_CLIENT_CONFIG'),
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 enrolled; 1 the server refused (its code and message are printed) or its answer was unusable;\n2 bad usage, a damaged or expired token, or a folder already enrolled; 6 the enrolment endpoint did not answer.',
    )
    .action((flags: EnrolFlags) => enrolAction(flags));
}
