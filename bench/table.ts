/** A plain-text table: first column left-aligned, the others right-aligned (they are numbers). */
export function formatTable(headers: string[], rows: (string | number | null)[][]): string[] {
  const cells = [headers, ...rows.map((r) => r.map((v) => (v === null ? '-' : String(v))))];
  const widths = headers.map((_, col) => Math.max(...cells.map((r) => (r[col] ?? '').length)));
  const line = (r: string[]): string =>
    r.map((v, col) => (col === 0 ? v.padEnd(widths[col]!) : v.padStart(widths[col]!))).join('  ');
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)];
}

/** A number for a table cell, with fixed decimals; '-' when missing. */
export function fmt(v: number | null | undefined, digits = 2): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits);
}
