import { Option } from 'commander';
import { ConfigError, exitOnConfigError, readConfigFile } from '@appliance/runtime';
import { DeviceConfigFile } from '../config.js';

/** The device's one option: its configuration file, as a flag or SIGNAL_CLIENT_CONFIG (systemd units set it). */
const CONFIG_ENV = 'SIGNAL_CLIENT_CONFIG';

export function configOption(): Option {
  return new Option('-c, --config <file>', 'device configuration (JSON; comments allowed)')
    .env(CONFIG_ENV)
    .makeOptionMandatory();
}

/**
 * Reads and validates the device configuration file (inline or enrolled: an enrolled device's
 * connection is filled in by `resolveEnrolment`); prints the reason and exits 2 when it cannot. */
export function readClientConfig(file: string): DeviceConfigFile {
  try {
    let json: unknown;
    try {
      json = readConfigFile(file);
    } catch (err) {
      throw problem((err as Error).message);
    }
    return parseClientConfig(json);
  } catch (err) {
    return exitOnConfigError(err);
  }
}

/**
 * Validates the configuration; the problems are listed in the order of the fields (a rule that
 * spans fields, e.g. gatewayUrl required without enrolment, is found last but named in place).
 */
export function parseClientConfig(json: unknown): DeviceConfigFile {
  const result = DeviceConfigFile.safeParse(json);
  if (result.success) return result.data;
  const order = Object.keys(DeviceConfigFile.shape);
  const rank = (path: PropertyKey[]) => {
    const i = order.indexOf(String(path[0]));
    return i < 0 ? order.length : i;
  };
  const issues = [...result.error.issues]
    .sort((a, b) => rank(a.path) - rank(b.path))
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
  throw new ConfigError(`invalid signal-client configuration:\n  - ${issues.join('\n  - ')}`, issues);
}

function problem(text: string): ConfigError {
  const issue = `config (--config, ${CONFIG_ENV}): ${text}`;
  return new ConfigError(`invalid signal-client configuration:\n  - ${issue}`, [issue]);
}
