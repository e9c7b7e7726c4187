/**
 * Canonical JSON: object keys sorted by UTF-16 code unit, no whitespace, numbers in the
 * ECMAScript shortest form (as RFC 8785). Signatures are made over these bytes so that any
 * re-serialisation on the way (a gateway, Kafka, a log) cannot change what was signed.
 */
export function canonicalize(value: unknown): string {
  return encode(value, '$');
}

function encode(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalize: non-finite number at ${path}`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v, i) => encode(v, `${path}[${i}]`)).join(',')}]`;
      const keys = Object.keys(value as object)
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .sort();
      const body = keys.map(
        (k) => `${JSON.stringify(k)}:${encode((value as Record<string, unknown>)[k], `${path}.${k}`)}`,
      );
      return `{${body.join(',')}}`;
    }
    default:
      throw new TypeError(`canonicalize: cannot encode ${typeof value} at ${path}`);
  }
}

export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), 'utf8');
}
