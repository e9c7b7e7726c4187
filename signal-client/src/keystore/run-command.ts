import { spawn } from 'node:child_process';

export interface CommandResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs a program with `args` and feeds `stdin` to it. Secrets go through stdin only: a
 * process's argv is readable by every user in /proc/PID/cmdline.
 */
export type RunCommand = (file: string, args: readonly string[], stdin?: string) => Promise<CommandResult>;

/** Rejects with the spawn error (code ENOENT when the program is not installed). */
export const runCommand: RunCommand = (file, args, stdin) =>
  new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.once('error', reject);
    // A program that exits without reading all of stdin closes the pipe: not our error.
    child.stdin.on('error', () => undefined);
    child.once('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }),
    );
    child.stdin.end(stdin ?? '');
  });
