/**
 * Kafka offsets travel as decimal strings of up to 19 digits (beyond what a JS number holds
 * exactly); compare them without precision loss. Used by gateways (rings, cursors) and devices
 * (resume points).
 */
export function offsetGreater(a: string, b: string): boolean {
  return a.length !== b.length ? a.length > b.length : a > b;
}
