/** Numbers in words for reasons: percentages, durations, latencies; and the 500-character cap. */

/** The longest reason kept; longer ones end in `…`. */
const MAX_REASON_CHARS = 500;

export function truncate(text: string, max = MAX_REASON_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A fraction as a percentage with one decimal: 0.0981 → `9.8 %`. */
export function pct(fraction: number, digits = 1): string {
  return `${(fraction * 100).toFixed(digits)} %`;
}

/** A duration in the largest apt unit: `45 s`, `30 min`, `2 h`, `1.5 h`, `3 d`. */
export function duration(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  for (const [size, name] of units) {
    if (ms >= size * 2 || (ms >= size && ms % size === 0)) return `${round1(ms / size)} ${name}`;
  }
  return `${Math.round(ms)} ms`;
}

/** A latency: `850 ms`, `8.2 s`. */
export function latency(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** A ratio with one decimal below 10, whole above: `2.3×`, `12×`. */
export function times(ratio: number): string {
  return ratio < 10 ? `${ratio.toFixed(1)}×` : `${Math.round(ratio)}×`;
}

/** 0.99 → `99th`, 0.5 → `50th`, 0.01 → `1st`. */
export function percentile(q: number): string {
  const n = Math.round(q * 100);
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

function round1(x: number): string {
  const r = Math.round(x * 10) / 10;
  return Number.isInteger(r) ? String(r) : r.toFixed(1);
}
