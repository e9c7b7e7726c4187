import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './process.js';

/**
 * A module loader hook, as a data: URL, that appends every URL the process resolves to the file
 * named by LOADED_MODULES_FILE. It is registered after tsx's, so it runs first and sees the
 * URL tsx resolves to (a .ts source for our workspaces, a file in node_modules otherwise).
 */
const HOOKS = `
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.LOADED_MODULES_FILE, result.url + '\\n');
  return result;
}`;
/** Registers HOOKS; CommonJS `require()` does not pass through them on Node 20, so it is wrapped too. */
const REGISTER = `
import Module, { register } from 'node:module';
import { appendFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)});
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (...args) {
  const file = resolveFilename.apply(this, args);
  if (isAbsolute(file)) appendFileSync(process.env.LOADED_MODULES_FILE, pathToFileURL(file).href + '\\n');
  return file;
};`;

export interface LoadedModules {
  /** Every module URL resolved (import and require alike), in order, duplicates removed. */
  urls: string[];
  /** The npm packages among them, by name (`@scope/name` or `name`). */
  packages: Set<string>;
  exitCode: number | null;
  /** What the process printed, for failure messages. */
  output: string;
}

/** The npm package a resolved URL belongs to, or undefined for our own files and built-ins. */
export function packageOf(url: string): string | undefined {
  const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  return m?.[1];
}

/**
 * Runs a TypeScript entry point of this repository with `args` until it exits, and says which
 * modules it loaded. Static imports are all loaded before the entry's own code runs, so an
 * entry started with arguments that make it stop at once (a config error, `--help`) still
 * shows everything it imports; dynamic imports show only when reached.
 */
export async function loadedModules(
  entry: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<LoadedModules> {
  const dir = mkdtempSync(join(tmpdir(), 'loaded-modules-'));
  const file = join(dir, 'urls.txt');
  try {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, entry, ...args],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, ...env, LOADED_MODULES_FILE: file },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      proc.on('error', reject);
      proc.on('exit', (code) => resolve(code));
    });
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      // Nothing resolved: the caller's assertions say so.
    }
    const urls = [...new Set(text.split('\n').filter((l) => l !== ''))];
    const packages = new Set(urls.map(packageOf).filter((p): p is string => p !== undefined));
    return { urls, packages, exitCode, output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
