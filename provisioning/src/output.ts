/** Plain output: aligned columns, times in UTC to the minute, JSON on one line per answer. */

export const out = (text: string) => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);

export const json = (value: unknown) => out(JSON.stringify(value, null, 2));

/** An epoch-ms time as 2026-12-04T06:10Z; `—` when there is none. */
export const at = (ms: unknown): string =>
  typeof ms === 'number' ? new Date(ms).toISOString().replace(/:\d\d\.\d{3}Z$/, 'Z') : '—';

/** Rows under an upper-case header, each column as wide as its widest cell, two spaces apart. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `label   value` lines, the labels padded to the widest. */
export function fields(pairs: [string, string][]): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}
