import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import t from 'tap';
import ts from 'typescript';
import { REPO_ROOT } from '@appliance/test-kit';

/**
 * Issue #9: docs/errors.md lists every code, and this test fails when a code the code base
 * writes in a workspace's src/ is missing from it.
 *
 * The code families, as the sources write them:
 * - `E_*` error codes (protocol, exchange, keystore, ledger, bus, datafeed, haproxy, ...);
 * - `R_*` reject codes of the device's decisions;
 * - `PAPER_ERR_*` codes of the paper exchange's `PaperExchangeError`.
 * WebSocket close codes, HTTP statuses, exit codes and the paper exchange's Binance error codes
 * are numbers and are left out, and so are other libraries' codes (`ENOENT`, `FST_ERR_*`,
 * `WS_ERR_*`): they do not match these patterns.
 */
const CODE = /(?<![A-Za-z0-9_])(?:[ER]_[A-Z0-9_]{2,}|PAPER_ERR_[A-Z0-9_]{2,})(?![A-Za-z0-9_])/g;
const SOURCE = /\.(?:ts|mts|cts|tsx|js|mjs|cjs)$/;

/** Where one code was first seen, as a path relative to the repository root. */
type CodeSites = Map<string, string>;

function workspaces(root: string): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] };
  return pkg.workspaces;
}

function sourceFiles(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...sourceFiles(path));
    else if (entry.isFile() && SOURCE.test(entry.name)) files.push(path);
  }
  return files.sort();
}

/**
 * The codes in one source file: in string literals and template text (`'E_FOO'`,
 * `` `E_FOO: ...` ``) and as property names (`{ E_FOO: 'meaning' }`, the code tables). Comments
 * are not read: a code only mentioned in a comment is not one the code base throws.
 */
function codesInSource(text: string, fileName = 'source.ts'): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false);
  const found: string[] = [];
  const take = (s: string) => {
    for (const m of s.matchAll(CODE)) found.push(m[0]);
  };
  const visit = (node: ts.Node): void => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node)
    ) {
      take(node.text);
    } else if (
      (ts.isPropertyAssignment(node) || ts.isPropertySignature(node)) &&
      ts.isIdentifier(node.name)
    ) {
      take(node.name.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Every code written in every workspace's src/, with the first file it was seen in. */
function scanCodes(root: string): CodeSites {
  const sites: CodeSites = new Map();
  for (const workspace of workspaces(root)) {
    for (const file of sourceFiles(join(root, workspace, 'src'))) {
      for (const code of codesInSource(readFileSync(file, 'utf8'), file)) {
        if (!sites.has(code)) sites.set(code, relative(root, file));
      }
    }
  }
  return sites;
}

/** The codes not named in the document as a whole word, sorted, each with where it was found. */
function undocumented(sites: CodeSites, doc: string): { code: string; file: string }[] {
  const documented = new Set(Array.from(doc.matchAll(CODE), (m) => m[0]));
  return [...sites]
    .filter(([code]) => !documented.has(code))
    .map(([code, file]) => ({ code, file }))
    .sort((a, b) => a.code.localeCompare(b.code));
}

const report = (missing: { code: string; file: string }[]) =>
  missing.map(({ code, file }) => `${code} (${file})`);

t.test('every error and reject code written in src/ is documented in docs/errors.md', (t) => {
  const sites = scanCodes(REPO_ROOT);
  const doc = readFileSync(join(REPO_ROOT, 'docs/errors.md'), 'utf8');
  t.ok(sites.size > 40, `the scan found ${sites.size} codes, expected more than 40`);
  for (const code of ['E_MALFORMED', 'R_NOT_FOLLOWED', 'E_BAD_FILL', 'PAPER_ERR_BAD_CANDLE']) {
    t.ok(sites.has(code), `the scan finds ${code}`);
  }
  const missing = undocumented(sites, doc);
  t.same(
    report(missing),
    [],
    missing.length === 0
      ? 'docs/errors.md names every code'
      : `docs/errors.md does not name ${missing.length} code(s): ${report(missing).join('; ')}`,
  );
  t.end();
});

t.test('the checker reports a code missing from the document', (t) => {
  const doc = readFileSync(join(REPO_ROOT, 'docs/errors.md'), 'utf8');
  const sites: CodeSites = new Map([
    ['E_MALFORMED', 'protocol/src/errors.ts'],
    ['E_NOT_A_REAL_CODE', 'somewhere/src/made-up.ts'],
    ['R_NOT_FOLLOWED', 'trading-core/src/decide/index.ts'],
  ]);
  t.same(undocumented(sites, doc), [{ code: 'E_NOT_A_REAL_CODE', file: 'somewhere/src/made-up.ts' }]);
  t.end();
});

t.test('codes are read from strings, templates and table keys, as whole words, not comments', (t) => {
  const source = [
    `// E_IN_A_COMMENT is not read`,
    `/* nor R_IN_A_BLOCK_COMMENT */`,
    `throw new Err('E_THROWN', "R_REJECTED");`,
    'const m = `E_TEMPLATE: ${x} then R_TAIL`;',
    `export const CODES = { E_TABLE_KEY: 'meaning', PAPER_ERR_FAMILY: 'x' };`,
    `const n = 'NOT_E_PREFIXED FST_ERR_BAD_URL ENOENT E_X 1008';`,
  ].join('\n');
  t.same(codesInSource(source).sort(), [
    'E_TABLE_KEY',
    'E_TEMPLATE',
    'E_THROWN',
    'PAPER_ERR_FAMILY',
    'R_REJECTED',
    'R_TAIL',
  ]);
  // Whole words: a longer code does not document a shorter one it contains.
  const sites: CodeSites = new Map([
    ['E_NO_MARK', 'a.ts'],
    ['R_NO_MARK', 'b.ts'],
  ]);
  t.same(undocumented(sites, 'only `R_NO_MARKET_PRICE` and `E_NO_MARKS` here, and R_NO_MARK'), [
    { code: 'E_NO_MARK', file: 'a.ts' },
  ]);
  t.end();
});
