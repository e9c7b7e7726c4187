import { Option } from 'commander';
import { ConfigError, exitOnConfigError, parseConfig, readConfigFile } from '@appliance/runtime';
import { ClientConfig } from '../config.js';

/** The device's one option: its configuration file, as a flag or SIGNAL_CLIENT_CONFIG (systemd units set it). */
const CONFIG_ENV = 'SIGNAL_CLIENT_CONFIG';

export function configOption(): Option {
  return new Option('-c, --config <file>', 'device configuration (JSON; comments allowed)')
    .env(CONFIG_ENV)
    .makeOptionMandatory();
}

/** Reads and validates the device configuration; prints the reason and exits 2 when it cannot. */
export function readClientConfig(file: string): ClientConfig {
  try {
    let json: unknown;
    try {
      json = readConfigFile(file);
    } catch (err) {
      throw problem((err as Error).message);
    }
    return parseConfig('signal-client', ClientConfig, json);
  } catch (err) {
    return exitOnConfigError(err);
  }
}

function problem(text: string): ConfigError {
  const issue = `config (--config, ${CONFIG_ENV}): ${text}`;
  return new ConfigError(`invalid signal-client configuration:\n  - ${issue}`, [issue]);
}
