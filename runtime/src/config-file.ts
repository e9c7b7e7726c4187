import { readFileSync } from 'node:fs';
import { parse, printParseErrorCode, type ParseError } from 'jsonc-parser';

/**
 * Reads a configuration file: JSON, where `//` and `/* *\/` comments and trailing commas are
 * allowed, so an operator can keep the commented examples from the docs as they are. Every
 * process reads its `--config` file (and the device its configuration) through this one reader.
 * Throws a plain Error whose message starts with the file name and says what is wrong; the
 * caller names the option.
 */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(
      `${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      { cause: err },
    );
  }
  const errors: ParseError[] = [];
  const value: unknown = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length) {
    const e = errors[0]!;
    const before = text.slice(0, e.offset).split('\n');
    throw new Error(
      `${file}: not valid JSON at line ${before.length} column ${before.at(-1)!.length + 1}: ${printParseErrorCode(e.error)}`,
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new Error(`${file}: not a JSON object`);
  return value as Record<string, unknown>;
}
