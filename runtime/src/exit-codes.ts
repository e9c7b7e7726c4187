/**
 * Exit codes of every process and CLI in the repository, one meaning each, so that systemd, a
 * supervisor or a person can tell what to do from the number alone (docs/errors.md, "Exit codes").
 * Ordered by who must act: 2 the operator's configuration, 3 and 4 the device's own files, 5 and
 * 6 something outside the machine. 3 stays "corrupt state" because device images and runbooks
 * already key on it; the keystore moved from 3 to 4 so that the two never share a number.
 */
export const EXIT = {
  /** Done, or stopped cleanly by a signal. */
  ok: 0,
  /** A failure while running: a feed that ended in error, a shutdown that hung, a bug. */
  failure: 1,
  /** Bad usage or configuration: a flag, environment variable, config file or key file. */
  config: 2,
  /** The device's state file is unusable: it refuses to trade until someone looks. */
  stateCorrupt: 3,
  /** The keystore is unavailable, empty or unreadable. */
  keystore: 4,
  /** A peer refused what we gave it: the exchange refused the key, `haproxy -c` the config. */
  refused: 5,
  /** A peer did not answer: the exchange was unreachable. */
  unreachable: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Prints one line (no stack) to stderr and exits with `code`: the only way a CLI stops itself. */
export function exitWith(code: ExitCode, message?: string): never {
  if (message !== undefined) process.stderr.write(message.endsWith('\n') ? message : `${message}\n`);
  process.exit(code);
}
