/**
 * Fail points, for crash testing the execution path (the FreeBSD fail(9) / fail-rs idea):
 * `SIGNAL_CLIENT_FAILPOINTS=after-send:3` makes the process kill itself with SIGKILL the third
 * time it reaches `failpoint('after-send')`. Unset (always, in production) they cost one
 * property read. The names mark the gaps a crash can fall into: see FAILPOINTS.
 */
export const FAILPOINTS = [
  'after-intent', // intent durable, order not yet sent
  'after-send', // exchange accepted the order, the answer not yet recorded
  'after-settle', // outcome recorded in memory, not yet durable
  'after-persist', // outcome durable, decision not yet reported
  'after-command-received', // a fleet command recorded and durable, not yet acted on
  'after-command-order', // one symbol of a flat sold and durable, the next not yet started
] as const;
export type Failpoint = (typeof FAILPOINTS)[number];

function parse(spec: string | undefined): Map<string, number> | undefined {
  if (!spec) return undefined;
  const out = new Map<string, number>();
  for (const part of spec.split(',')) {
    const [name, n] = part.split(':');
    if (!FAILPOINTS.includes(name as Failpoint) || !(Number(n) >= 1))
      throw new Error(`bad SIGNAL_CLIENT_FAILPOINTS entry: ${part}`);
    out.set(name!, Number(n));
  }
  return out;
}

const armed = parse(process.env.SIGNAL_CLIENT_FAILPOINTS);
const hits = new Map<string, number>();

export function failpoint(name: Failpoint): void {
  if (!armed) return;
  const n = (hits.get(name) ?? 0) + 1;
  hits.set(name, n);
  if (armed.get(name) === n) process.kill(process.pid, 'SIGKILL');
}
