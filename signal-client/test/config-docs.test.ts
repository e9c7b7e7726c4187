/**
 * The device's configuration is documented field by field (docs/device-config.md) and has a
 * complete commented example (signal-client/config.example.jsonc). This walks the zod schema:
 * a field added without a line in the doc fails here, and the example must parse as it is.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { z } from 'zod';
import { EXIT, readConfigFile } from '@appliance/runtime';
import { WEEKDAYS } from '@appliance/trading-core';
import { REPO_ROOT, hasStackTrace, runCli } from '@appliance/test-kit';
import { ClientConfig } from '../src/index.js';

const DOC = join(REPO_ROOT, 'docs/device-config.md');
const EXAMPLE = join(REPO_ROOT, 'signal-client/config.example.jsonc');

/** Every key path of a schema, objects walked into (`exchange.timeoutMs`), array items as `[]`. */
function keyPaths(schema: z.core.$ZodType, prefix = ''): string[] {
  const def = schema._zod.def as z.core.$ZodTypeDef & {
    shape?: Record<string, z.core.$ZodType>;
    innerType?: z.core.$ZodType;
    in?: z.core.$ZodType;
    element?: z.core.$ZodType;
    options?: z.core.$ZodType[];
  };
  switch (def.type) {
    case 'object':
      return Object.entries(def.shape!).flatMap(([key, field]) => {
        const path = prefix ? `${prefix}.${key}` : key;
        const inner = keyPaths(field, path);
        return [path, ...inner];
      });
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
      return keyPaths(def.innerType!, prefix);
    case 'pipe':
      return keyPaths(def.in!, prefix);
    case 'array':
      return keyPaths(def.element!, `${prefix}[]`).filter((p) => p !== `${prefix}[]`);
    case 'union':
      return [...new Set(def.options!.flatMap((o) => keyPaths(o, prefix)))];
    default:
      return [];
  }
}

const paths = keyPaths(ClientConfig);
/** The seven weekdays of a schedule share one schema: the doc writes them once, as `<day>`. */
const documented = (p: string) =>
  p.replace(new RegExp(`^settings\\.schedule\\.(${WEEKDAYS.join('|')})\\b`), 'settings.schedule.<day>');

t.test('the walk sees the whole schema (a broken walk must not pass vacuously)', async (t) => {
  for (const p of [
    'deviceId',
    'gatewayTls.caFile',
    'gatewayTls.certSha256',
    'exchange.timeoutMs',
    'settings.maxSpendPerDay',
    'settings.schedule.fri[].maxSpend',
    'keystore.backend',
    'keystore.dir',
    'keystore.service',
    'statusAllowedHosts',
  ])
    t.ok(paths.includes(p), p);
  t.ok(paths.length > 50, `${paths.length} key paths`);
});

t.test('every field of the device configuration is in docs/device-config.md', async (t) => {
  const doc = readFileSync(DOC, 'utf8');
  const missing = [...new Set(paths.map(documented))].filter((p) => !doc.includes(`\`${p}\``));
  t.same(missing, [], 'documented as `path` (add a row for a new field)');
  t.match(doc, /^## gatewayTls$/m, 'the heading the TLS errors link to (#gatewaytls)');
});

t.test('the example file parses as it is, and names every field', async (t) => {
  const parsed = ClientConfig.safeParse(readConfigFile(EXAMPLE));
  t.ok(parsed.success, parsed.error?.message ?? 'parses');
  const text = readFileSync(EXAMPLE, 'utf8');
  // Each key appears, set or commented out (a keystore has one backend's fields at a time).
  const keys = [...new Set(paths.map((p) => p.split('.').at(-1)!.replace('[]', '')))];
  t.same(
    keys.filter((k) => !text.includes(`"${k}"`)),
    [],
    'every key is in the example',
  );
});

t.test('the example as the device reads it: a bad value in it still exits 2 naming the field', async (t) => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'config-docs-'));
  const file = join(dir, 'device.jsonc');
  writeFileSync(
    file,
    readFileSync(EXAMPLE, 'utf8').replace('"telemetryIntervalMs": 5000', '"telemetryIntervalMs": 5'),
  );
  const r = runCli('signal-client/src/main.ts', ['run', '--config', file], {
    SIGNAL_CLIENT_CONFIG: undefined,
    NOTIFY_SOCKET: undefined,
    LOG_LEVEL: 'fatal',
  });
  t.equal(r.status, EXIT.config);
  t.match(r.stderr, /^invalid signal-client configuration:\n {2}- telemetryIntervalMs: /);
  t.notOk(hasStackTrace(r.stderr));
});
