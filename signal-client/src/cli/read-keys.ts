import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { KeystoreError } from '../keystore/index.js';

/** More than any key and secret with line breaks; a larger input is a mistake (a file piped in). */
const MAX_INPUT_BYTES = 4_096;

export interface KeyInput {
  apiKey: string;
  secret: string;
}

/**
 * Asks for the key and the secret on the terminal without echoing what is typed (a shoulder
 * or a screen recording must not see them); prompts go to stderr.
 */
async function askHidden(input: NodeJS.ReadStream, prompts: Writable): Promise<KeyInput> {
  let muted = false;
  // readline echoes keystrokes to its output; this output drops them while a value is typed.
  const echo = new Writable({
    write(chunk, _encoding, done) {
      if (!muted) prompts.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input, output: echo, terminal: true });
  // In raw mode Ctrl-C and Ctrl-D reach readline, not the process: without this a cancelled
  // prompt would leave the question pending and the process would end with status 0.
  const cancel = new AbortController();
  rl.once('SIGINT', () => cancel.abort());
  rl.once('close', () => cancel.abort());
  const ask = async (prompt: string): Promise<string> => {
    prompts.write(prompt);
    muted = true;
    try {
      return await rl.question('', { signal: cancel.signal });
    } finally {
      muted = false;
      prompts.write('\n');
    }
  };
  try {
    return { apiKey: (await ask('API key: ')).trim(), secret: (await ask('API secret: ')).trim() };
  } catch (err) {
    if (!cancel.signal.aborted) throw err;
    throw new KeystoreError('E_KEYS_INVALID', 'cancelled: nothing was stored');
  } finally {
    rl.close();
  }
}

/** Not a terminal (a pipe, a provisioning script): the key on the first line, the secret on the second. */
async function readLines(input: NodeJS.ReadableStream): Promise<KeyInput> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += b.length;
    if (size > MAX_INPUT_BYTES) {
      throw new KeystoreError(
        'E_KEYS_INVALID',
        `standard input is larger than ${MAX_INPUT_BYTES} bytes: give the API key and the secret on two lines`,
      );
    }
    chunks.push(b);
  }
  const lines = Buffer.concat(chunks)
    .toString('utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (lines.length !== 2) {
    throw new KeystoreError(
      'E_KEYS_INVALID',
      `expected the API key and the secret on two lines of standard input, got ${lines.length} non-empty line(s)`,
    );
  }
  return { apiKey: lines[0]!, secret: lines[1]! };
}

export function readKeys(
  input: NodeJS.ReadStream = process.stdin,
  prompts: Writable = process.stderr,
): Promise<KeyInput> {
  return input.isTTY ? askHidden(input, prompts) : readLines(input);
}
