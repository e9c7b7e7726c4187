import { appendFile, open } from 'node:fs/promises';
import { isIP, connect } from 'node:net';
import { HaproxyError } from './errors.js';

/** Where a running HAProxy's deny list lives: its file (read at start) and its admin socket. */
export interface DenyListTarget {
  /** `denyList.file` of the cluster description, exactly as haproxy.cfg names it. */
  file: string;
  /** `stats.socket`: HAProxy's admin socket (level admin). */
  socket: string;
}

/** Creates the deny-list file if it is missing: HAProxy refuses to start on a missing `-f` file. */
export async function ensureDenyListFile(file: string): Promise<void> {
  const handle = await open(file, 'a', 0o644);
  await handle.close();
}

/** One command on HAProxy's admin socket; resolves with its answer. */
function adminCommand(socket: string, command: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let out = '';
    const timer = setTimeout(() => s.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    s.on('connect', () => s.write(`${command}\n`));
    s.on('data', (d) => (out += d.toString()));
    s.on('end', () => {
      clearTimeout(timer);
      resolve(out.trim());
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * Denies a (revoked device's) tunnel address: appended to the file, fsynced, so a restarted HAProxy
 * still refuses it, then added to the running one with `add acl`, which takes effect for the next
 * connection without a reload. Only a plain IP address is taken: the value goes into a file
 * HAProxy parses and onto its admin socket.
 */
export async function denyAddress(target: DenyListTarget, address: string): Promise<void> {
  if (isIP(address) === 0)
    throw new HaproxyError('E_HAPROXY_INVALID', `not an IP address: ${JSON.stringify(address)}`);
  await appendFile(target.file, `${address}\n`, { mode: 0o644, flush: true });
  let answer: string;
  try {
    answer = await adminCommand(target.socket, `add acl ${target.file} ${address}`);
  } catch (err) {
    throw new HaproxyError(
      'E_HAPROXY_ADMIN',
      `HAProxy's admin socket ${target.socket} did not take ${address} (it is in ${target.file} for the next start): ${(err as Error).message}`,
      '',
      { cause: err },
    );
  }
  // Success is an empty answer; anything else is HAProxy saying why not.
  if (answer !== '')
    throw new HaproxyError('E_HAPROXY_ADMIN', `HAProxy refused to deny ${address}: ${answer}`);
}
