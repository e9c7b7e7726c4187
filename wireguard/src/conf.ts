/**
 * A minimal reader of wg-quick's INI-like format: sections and `Key = value` lines, comments
 * dropped. Pure. Used to check what wg itself does not (wg-quick's Address lines) and by tests to
 * look at rendered configs as settings rather than text.
 */
import { parseAddressWithPrefix } from './cidr.js';

export interface WgConfSection {
  /** `Interface` or `Peer`. */
  name: string;
  /** Keys as written, in order; a key may repeat (AllowedIPs, Address). */
  entries: Array<[key: string, value: string]>;
}

export function parseWgConf(text: string): WgConfSection[] {
  const sections: WgConfSection[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const section = /^\[(\w+)\]$/.exec(line);
    if (section) {
      sections.push({ name: section[1]!, entries: [] });
      continue;
    }
    const eq = line.indexOf('=');
    const current = sections.at(-1);
    // Outside a section or without '=': left for wg to refuse, with its own message.
    if (eq < 0 || !current) continue;
    current.entries.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return sections;
}

/** Every value of `key` (case-insensitive, as wg reads keys) in a section, comma lists split. */
function values(section: WgConfSection, key: string): string[] {
  return section.entries
    .filter(([k]) => k.toLowerCase() === key.toLowerCase())
    .flatMap(([, v]) => v.split(',').map((s) => s.trim()))
    .filter(Boolean);
}

/**
 * Problems wg cannot see because wg-quick strips these lines before wg reads the rest: an
 * [Interface] Address that `ip address add` would refuse. IPv4 only here, like the pool.
 */
export function wgQuickIssues(text: string): string[] {
  const issues: string[] = [];
  for (const s of parseWgConf(text)) {
    if (s.name !== 'Interface') continue;
    for (const a of values(s, 'Address'))
      if (!parseAddressWithPrefix(a) && !/^[0-9a-fA-F:]+\/\d{1,3}$/.test(a))
        issues.push(`Address ${a}: not an address with a prefix (a.b.c.d/n)`);
  }
  return issues;
}
