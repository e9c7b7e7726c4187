import { timingSafeEqual, createHash } from 'node:crypto';

/** Compares bearer tokens in constant time (hashing first makes lengths equal). */
export function bearerMatches(header: string | undefined, expected: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const a = createHash('sha256').update(header.slice(7)).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
