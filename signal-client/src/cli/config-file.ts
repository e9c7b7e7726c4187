import { readFileSync } from 'node:fs';
import { exitOnConfigError, parseConfig } from '@appliance/runtime';
import { ClientConfig } from '../config.js';

/** Reads and validates the device configuration; prints the reason and exits 2 when it cannot. */
export function readClientConfig(file: string): ClientConfig {
  try {
    return parseConfig('signal-client', ClientConfig, JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof SyntaxError || code === 'ENOENT' || code === 'EACCES') {
      const why =
        err instanceof SyntaxError ? `is not valid JSON: ${err.message}` : `cannot be read (${code})`;
      process.stderr.write(`config file ${file} ${why}\n`);
      process.exit(2);
    }
    exitOnConfigError(err);
  }
}
