import { readFileSync } from 'node:fs';
import t from 'tap';
import { z } from 'zod';
import { strategyNames, strategySpec } from '../src/strategies/registry.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The README's "## Strategies" section, up to the next second-level heading. */
function strategiesSection(): string {
  const start = README.indexOf('\n## Strategies\n');
  if (start < 0) return '';
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

/** The subsection of one strategy: from its `### \`name\`` heading to the next heading. */
function subsection(section: string, name: string): string | undefined {
  const start = section.indexOf(`\n### \`${name}\`\n`);
  if (start < 0) return undefined;
  const end = section.indexOf('\n#', start + 1);
  return section.slice(start, end < 0 ? undefined : end);
}

/** The cells of the table row of a parameter, or undefined when it has none. */
function row(text: string, param: string): string[] | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`| \`${param}\``));
  return line?.split(/(?<!\\)\|/).map((c) => c.trim());
}

/** What the docs must say a field's range is: its bounds, or its options. */
function rangeWords(field: z.ZodType): string[] {
  const inner = field instanceof z.ZodDefault ? (field.unwrap() as z.ZodType) : field;
  if (inner instanceof z.ZodNumber) return [String(inner.minValue), String(inner.maxValue)];
  if (inner instanceof z.ZodEnum) return inner.options.map((o) => `\`${String(o)}\``);
  return [];
}

t.test('the README has a Strategies section', async (t) => {
  t.ok(strategiesSection().length > 0);
});

t.test('every registered strategy and each of its parameters is documented', async (t) => {
  const section = strategiesSection();
  for (const name of strategyNames()) {
    const text = subsection(section, name);
    if (text === undefined) {
      t.fail(`README Strategies has no "### \`${name}\`"`);
      continue;
    }
    const spec = strategySpec(name);
    const defaults = spec.params.parse({}) as Record<string, unknown>;
    for (const [param, field] of Object.entries(spec.params.shape)) {
      const cells = row(text, param);
      if (cells === undefined) {
        t.fail(`${name}: no table row for \`${param}\``);
        continue;
      }
      // | `param` | default | range | meaning |
      const [, , documentedDefault, range] = cells;
      const value = defaults[param];
      t.ok(
        documentedDefault === String(value) || documentedDefault === `\`${String(value)}\``,
        `${name}.${param}: default ${String(value)} (README: ${documentedDefault})`,
      );
      for (const word of rangeWords(field as z.ZodType))
        t.ok(range?.includes(word), `${name}.${param}: range mentions ${word} (README: ${range})`);
    }
  }
});

t.test('the docs check can fail: a name or a parameter missing is noticed', async (t) => {
  const section = strategiesSection();
  t.equal(subsection(section, 'no-such-strategy'), undefined);
  t.equal(row(subsection(section, 'turtle')!, 'noSuchParam'), undefined);
  t.ok(row(subsection(section, 'turtle')!, 'stopAtr'));
});
