#!/usr/bin/env node
import { Command } from 'commander';
import {
  AdminCliError,
  adminTarget,
  callApi,
  parseExpiry,
  runAdminCli,
  tokenOption,
  urlOption,
} from '../cli-admin.js';

/**
 * `npm run fleet -- <command>`: fleet commands from a terminal, in two steps. `halt`, `resume`
 * and `flat` issue a command and print what it will do; nothing happens until `confirm ID`
 * (within 5 minutes). `status [ID]` shows the commands, or one command per device. Documented in
 * control-server/README.md (## Fleet commands).
 */
const program = new Command('fleet')
  .description('halt buying, resume, or sell what the system bought (flat), per target, in two steps')
  .exitOverride()
  .showHelpAfterError();

interface Conn {
  url: string;
  tokenFile?: string;
}
const at = (ms: unknown) => (typeof ms === 'number' ? new Date(ms).toISOString().replace('.000Z', 'Z') : '—');

for (const action of ['halt', 'resume', 'flat'] as const) {
  program
    .command(action)
    .description(
      {
        halt: 'halts buying on the target (sells go on) until resumed',
        resume: 'lifts halts on the target and every narrower target',
        flat: 'sells what the system bought on each device of the target (never coins held before), then halts buying',
      }[action],
    )
    .requiredOption('--target <target>', 'all, profile:<profile> or device:<id>')
    .requiredOption('--reason <text>', 'why, in words the people who see it understand')
    .option(
      '--expires <duration>',
      'how long devices may still act on it once confirmed (30m, 2h, 1d; default 24h)',
    )
    .option('--operator <name>', 'who issues it')
    .addOption(urlOption())
    .addOption(tokenOption())
    .action(async (o: Conn & { target: string; reason: string; expires?: string; operator?: string }) => {
      let expiresInMs: number | undefined;
      if (o.expires !== undefined) {
        if (!/^[1-9]\d{0,5}[mhd]$/.test(o.expires))
          throw new AdminCliError('E_USAGE', `--expires ${o.expires}: give a duration such as 30m, 2h or 1d`);
        expiresInMs = parseExpiry(o.expires, 0).expiresAt;
      }
      const c = await callApi(adminTarget(o), 'POST', '/api/commands', {
        action,
        target: o.target,
        reason: o.reason,
        ...(expiresInMs !== undefined && { expiresInMs }),
        ...(o.operator && { operator: o.operator }),
      });
      process.stdout.write(
        `issued ${String(c.id)}: ${String(c.effect)}\n` +
          `nothing is sent until it is confirmed, by ${at(c.confirmBy)}:\n` +
          `  npm run fleet -- confirm ${String(c.id)}\n`,
      );
    });
}

program
  .command('confirm')
  .description('confirms an issued command: it is signed and sent to the devices of its target')
  .argument('<id>', 'the id `halt`, `resume` or `flat` printed')
  .option('--operator <name>', 'who confirms it')
  .addOption(urlOption())
  .addOption(tokenOption())
  .action(async (id: string, o: Conn & { operator?: string }) => {
    const r = await callApi(adminTarget(o), 'POST', `/api/commands/${encodeURIComponent(id)}/confirm`, {
      ...(o.operator && { operator: o.operator }),
    });
    const c = r.command as Record<string, unknown>;
    process.stdout.write(`confirmed ${String(c.id)}: ${String(c.effect)}; valid until ${at(c.expiresAt)}\n`);
    process.stdout.write(renderDevices(r.devices as DeviceRow[]));
  });

program
  .command('status')
  .description('the latest commands with counts per status, or one command device by device')
  .argument('[id]', 'a command id')
  .option('--json', 'print the API answer as JSON')
  .addOption(urlOption())
  .addOption(tokenOption())
  .action(async (id: string | undefined, o: Conn & { json?: boolean }) => {
    const path = id === undefined ? '/api/commands' : `/api/commands/${encodeURIComponent(id)}`;
    const r = await callApi(adminTarget(o), 'GET', path);
    if (o.json) return void process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    if (id !== undefined) {
      const c = r.command as Record<string, unknown>;
      process.stdout.write(`${String(c.id)} ${String(c.state)}: ${String(c.effect)} — ${String(c.reason)}\n`);
      return void process.stdout.write(renderDevices(r.devices as DeviceRow[]));
    }
    const commands = r.commands as (Record<string, unknown> & { counts: Record<string, number> })[];
    if (commands.length === 0) return void process.stdout.write('no commands\n');
    for (const c of commands) {
      const counts = Object.entries(c.counts)
        .filter(([, n]) => n > 0)
        .map(([s, n]) => `${n} ${s}`)
        .join(', ');
      process.stdout.write(
        `${String(c.id)} ${at(c.createdAt)} ${String(c.action)} ${String(c.target)} ${String(c.state)}: ${counts || 'no devices'}\n`,
      );
    }
  });

interface DeviceRow {
  deviceId: string;
  status: string;
  sold?: { symbol: string; amount: number }[];
  unsold?: { symbol: string; amount: number; reason: string }[];
  reason?: string;
}

function renderDevices(devices: DeviceRow[]): string {
  if (devices.length === 0) return 'no device is covered\n';
  return devices
    .map((d) => {
      const parts = [`  ${d.deviceId}: ${d.status}`];
      if (d.sold?.length) parts.push(`sold ${d.sold.map((s) => `${s.amount} ${s.symbol}`).join(', ')}`);
      if (d.unsold?.length)
        parts.push(`not sold ${d.unsold.map((s) => `${s.amount} ${s.symbol} (${s.reason})`).join(', ')}`);
      if (d.reason) parts.push(d.reason);
      return `${parts.join(' — ')}\n`;
    })
    .join('');
}

await runAdminCli(program, 'fleet');
