/**
 * Which `Host` headers a loopback server answers (the control server's API and dashboard, the
 * device's status page). A page on an attacker's domain can make a
 * browser resolve that domain to 127.0.0.1 (DNS rebinding) and then read this server as if it
 * were its own origin; the one thing it cannot change is the `Host` header, which still names
 * the attacker's domain. So every request must name a host on this list.
 */

/** Always allowed, with any port: names that only ever mean this machine. */
export const DEFAULT_ALLOWED_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/** A name as it is compared: lower case, no trailing dot, IPv6 literals in brackets. */
export function normaliseHostName(name: string): string {
  let n = name.trim().toLowerCase();
  if (n.endsWith('.')) n = n.slice(0, -1);
  if (n.includes(':') && !n.startsWith('[')) n = `[${n}]`; // a bare IPv6 literal such as ::1
  return n;
}

const HOST_HEADER = /^(\[[0-9a-f:.]+(?:%[0-9a-z._~-]+)?\]|[^:[\]/\\@\s]+)(?::\d{1,5})?$/i;

/** The host name of a `Host` header (`name`, `name:port`, `[v6]:port`), or undefined if it is not one. */
export function hostNameOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = HOST_HEADER.exec(header);
  return m ? normaliseHostName(m[1]!) : undefined;
}

export class HostAllowList {
  readonly #names = new Set<string>();

  constructor(names: Iterable<string> = []) {
    for (const n of DEFAULT_ALLOWED_HOSTS) this.add(n);
    for (const n of names) this.add(n);
  }

  add(name: string): void {
    const n = normaliseHostName(name);
    if (n) this.#names.add(n);
  }

  /** True when the `Host` header names an allowed host (any port); a missing header is refused. */
  allows(header: string | undefined): boolean {
    const name = hostNameOf(header);
    return name !== undefined && this.#names.has(name);
  }

  names(): string[] {
    return [...this.#names];
  }
}
