import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NotifyError } from './errors.js';

/** What the native addon exports (see native/sd_notify.c). */
export interface NotifyTransport {
  /** Sends one datagram; returns bytes sent or -errno. Never throws for a send failure. */
  send(address: Buffer, message: Buffer): number;
  close(): void;
  /** Makes the process non-dumpable (no core dump holding the keys); 0 or -errno. */
  protect(): number;
}

/** The addon's file name, beside the executable on the device. */
const NOTIFY_ADDON_FILE = 'sd_notify.node';

/** Where `native/build.ts` puts the addon in a development checkout (git-ignored). */
function devAddonPath(): string | undefined {
  try {
    return fileURLToPath(new URL(`./native/build/${NOTIFY_ADDON_FILE}`, import.meta.url));
  } catch {
    return undefined; // bundled without a usable import.meta.url
  }
}

/**
 * Where the addon is looked for, first found wins:
 * 1. beside the running executable: the single executable on the device ships it in
 *    /opt/signal-client/ (Node's SEA `require` loads built-in modules only, so addons are
 *    loaded by absolute path with process.dlopen);
 * 2. the development build under native/build/ (running from source with tsx).
 * For a plain `node`, (1) is /usr/bin/sd_notify.node, which does not exist.
 */
function addonCandidates(): string[] {
  const dev = devAddonPath();
  return [join(dirname(process.execPath), NOTIFY_ADDON_FILE), ...(dev ? [dev] : [])];
}

let loaded: NotifyTransport | undefined;

/** Loads the addon once per process. Throws NotifyError E_NOTIFY_ADDON naming where it looked. */
export function loadNotifyAddon(candidates: string[] = addonCandidates()): NotifyTransport {
  if (loaded) return loaded;
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new NotifyError(
      'E_NOTIFY_ADDON',
      `${NOTIFY_ADDON_FILE} not found (looked in ${candidates.join(', ')}): ship it beside the executable, ` +
        'or build it for a checkout with `node --import tsx signal-client/src/systemd/native/build.ts`',
    );
  }
  const mod = { exports: {} as Partial<NotifyTransport> };
  try {
    process.dlopen(mod, path);
  } catch (err) {
    throw new NotifyError('E_NOTIFY_ADDON', `${path} cannot be loaded: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (typeof mod.exports.send !== 'function' || typeof mod.exports.close !== 'function') {
    throw new NotifyError('E_NOTIFY_ADDON', `${path} is not the sd_notify addon (no send/close)`);
  }
  loaded = mod.exports as NotifyTransport;
  return loaded;
}

/**
 * Makes this process non-dumpable before any key is loaded: a crash then leaves no core file
 * with the keys in it. Returns why it could not, or null. Never throws: on a checkout without
 * the addon built the device still runs, and says so.
 */
export function protectProcess(candidates?: string[]): string | null {
  try {
    const r = loadNotifyAddon(candidates).protect();
    return r === 0 ? null : `prctl(PR_SET_DUMPABLE) failed: errno ${-r}`;
  } catch (err) {
    return (err as Error).message;
  }
}
