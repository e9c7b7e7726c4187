#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { createLogger, exitOnConfigError, handleShutdown, parseConfig } from '@appliance/runtime';
import { ClientConfig } from './config.js';
import { createBinanceExecutor } from './exchange.js';
import { createSignalClient } from './signal-client.js';
import { openStateStore, StateError } from './state-store.js';

const program = new Command('signal-client').description(
  'The device: verifies signals, decides locally, trades with its own keys',
);

program
  .command('run')
  .description(
    'connect to the gateway and act on signals (API keys from EXCHANGE_API_KEY / EXCHANGE_API_SECRET)',
  )
  .requiredOption('-c, --config <file>', 'device configuration (JSON)')
  .action(async (opts: { config: string }) => {
    let config: ClientConfig;
    try {
      config = parseConfig('signal-client', ClientConfig, JSON.parse(readFileSync(opts.config, 'utf8')));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (err instanceof SyntaxError || code === 'ENOENT' || code === 'EACCES') {
        const why =
          err instanceof SyntaxError ? `is not valid JSON: ${err.message}` : `cannot be read (${code})`;
        process.stderr.write(`config file ${opts.config} ${why}\n`);
        process.exit(2);
      }
      exitOnConfigError(err);
    }
    const apiKey = process.env.EXCHANGE_API_KEY;
    const secret = process.env.EXCHANGE_API_SECRET;
    if (!apiKey || !secret) {
      process.stderr.write(
        'EXCHANGE_API_KEY and EXCHANGE_API_SECRET must be set (the keys stay on this device)\n',
      );
      process.exit(2);
    }
    const logger = createLogger({ name: `device:${config.deviceId}` });
    let store;
    try {
      store = await openStateStore(config.stateFile, config.deviceId);
    } catch (err) {
      if (err instanceof StateError) {
        logger.fatal({ code: err.code }, err.message);
        process.exit(3);
      }
      throw err;
    }
    const exchange = createBinanceExecutor({
      apiKey,
      secret,
      paperUrl: config.exchange.paperUrl,
      timeoutMs: config.exchange.timeoutMs,
    });
    const client = createSignalClient({ config, store, exchange, logger });
    await client.start();
    logger.info({ gateway: config.gatewayUrl }, 'ready');
    handleShutdown(logger, [() => client.stop()]);
  });

await program.parseAsync();
