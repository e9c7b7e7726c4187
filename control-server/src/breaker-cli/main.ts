#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { EXIT, exitWith } from '@appliance/runtime';
import {
  AdminCliError as BreakerCliError,
  adminToken,
  callApi,
  parseExpiry,
  type AdminTarget,
} from '../cli-admin.js';
import { renderStatus } from './admin.js';
import { registerReplay } from './replay.js';

/**
 * `npm run breaker -- <command>`: the circuit breaker from a terminal. `status` and `override`
 * talk to a running control server's API with the admin token; `replay` runs the breaker over
 * candle files offline. Documented in control-server/README.md (## Circuit breaker).
 */
const program = new Command('breaker')
  .description(
    "the adaptive circuit breaker: a control server's state and overrides, or a replay over candle files",
  )
  .exitOverride()
  .showHelpAfterError();

const urlOption = () =>
  new Option('--url <url>', "the control server's API").env('CONTROL_URL').default('http://127.0.0.1:8090');
const tokenOption = () =>
  new Option('--token-file <file>', 'a file holding the admin token (else CONTROL_ADMIN_TOKEN)');

function target(o: { url: string; tokenFile?: string }): AdminTarget {
  try {
    new URL(o.url);
  } catch {
    throw new BreakerCliError('E_USAGE', `--url ${o.url}: not a URL (e.g. http://127.0.0.1:8090)`);
  }
  return { url: o.url, token: adminToken(o.tokenFile) };
}

program
  .command('status')
  .description('what devices are told now (market and assets), the overrides and the latest changes')
  .addOption(urlOption())
  .addOption(tokenOption())
  .option('--json', 'print the API answer as JSON')
  .action(async (o: { url: string; tokenFile?: string; json?: boolean }) => {
    const view = await callApi(target(o), 'GET', '/api/breaker');
    process.stdout.write(o.json ? `${JSON.stringify(view, null, 2)}\n` : renderStatus(view as never));
  });

const override = program.command('override').description("an operator's level for the market or one asset");

override
  .command('set')
  .description('sets a level that the automatic breaker cannot lower, until cleared or expired')
  .requiredOption('--scope <scope>', 'market, or a symbol such as BTC/USDT')
  .addOption(
    new Option('--level <level>', 'the level').choices(['normal', 'caution', 'halt']).makeOptionMandatory(),
  )
  .requiredOption('--reason <text>', 'why, in words the people who see it understand')
  .option(
    '--expires <when>',
    'lapses after a duration (30m, 2h, 1d) or at an ISO time; absent: until cleared',
  )
  .option('--operator <name>', 'who sets it (shown with it)')
  .addOption(urlOption())
  .addOption(tokenOption())
  .action(
    async (o: {
      scope: string;
      level: string;
      reason: string;
      expires?: string;
      operator?: string;
      url: string;
      tokenFile?: string;
    }) => {
      const expiry = o.expires === undefined ? {} : parseExpiry(o.expires, Date.now());
      const res = await callApi(target(o), 'POST', '/api/breaker/overrides', {
        scope: o.scope,
        level: o.level,
        reason: o.reason,
        ...expiry,
        ...(o.operator && { operator: o.operator }),
      });
      process.stdout.write(`override set: ${JSON.stringify(res.override)}\n`);
    },
  );

override
  .command('clear')
  .description('removes the override of a scope; the automatic level applies again')
  .requiredOption('--scope <scope>', 'market, or a symbol such as BTC/USDT')
  .option('--operator <name>', 'who clears it')
  .addOption(urlOption())
  .addOption(tokenOption())
  .action(async (o: { scope: string; operator?: string; url: string; tokenFile?: string }) => {
    await callApi(target(o), 'POST', '/api/breaker/overrides/clear', {
      scope: o.scope,
      ...(o.operator && { operator: o.operator }),
    });
    process.stdout.write(`override cleared: ${o.scope}\n`);
  });

registerReplay(program);

const EXIT_OF = { E_USAGE: EXIT.config, E_UNREACHABLE: EXIT.unreachable, E_REFUSED: EXIT.refused } as const;

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.config);
  if (err instanceof BreakerCliError) exitWith(EXIT_OF[err.code], `breaker: ${err.message}`);
  throw err;
}
