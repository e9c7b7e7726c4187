/** Kafka offsets are decimal strings of up to 19 digits; compare them without precision loss. */
export function offsetGreater(a: string, b: string): boolean {
  return a.length !== b.length ? a.length > b.length : a > b;
}
