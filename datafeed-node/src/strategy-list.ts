import { z } from 'zod';
import { strategyNames, strategySpec } from '@appliance/trading-core';

/** The part of a parameter's JSON Schema the listing shows. */
interface ParamSchema {
  type?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  default?: unknown;
  description?: string;
}

/** `integer 1..100000`, `number 0..1`, `one of a, b`: what a parameter takes. */
function takes(p: ParamSchema): string {
  if (p.enum) return `one of ${p.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  const range =
    p.minimum !== undefined || p.maximum !== undefined
      ? ` ${p.minimum ?? '-inf'}..${p.maximum ?? 'inf'}`
      : '';
  return `${p.type ?? 'any'}${range}`;
}

/** Rows as columns padded to their widest cell, each line indented by `indent`. */
function table(rows: string[][], indent: string): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map(
    (r) =>
      indent +
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
  );
}

function describeStrategy(name: string): string[] {
  const spec = strategySpec(name);
  // The registry's zod schema is the one source of defaults, ranges and meanings: read it, never restate it.
  const schema = z.toJSONSchema(spec.params, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, ParamSchema>;
  };
  const params = Object.entries(schema.properties ?? {});
  return [
    name,
    `  ${spec.description}`,
    ...(params.length === 0
      ? ['  no parameters']
      : table(
          [
            ['parameter', 'default', 'takes', 'meaning'],
            ...params.map(([key, p]) => [
              key,
              p.default === undefined ? '(required)' : JSON.stringify(p.default),
              takes(p),
              p.description ?? '',
            ]),
          ],
          '  ',
        )),
  ];
}

/**
 * What `--list-strategies` prints: every strategy the registry knows, in its order, with what it
 * does and each parameter's default, range and meaning.
 */
export function describeStrategies(): string {
  const blocks = strategyNames().map((name) => describeStrategy(name).join('\n'));
  return `${blocks.join('\n\n')}\n\nRun one with --strategy NAME --params '{"parameter": value}' (unset parameters take their defaults).\n`;
}
