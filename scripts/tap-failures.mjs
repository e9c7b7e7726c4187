// tap's reporter for `npm test` (set in .taprc): passes the TAP stream through untouched and, at
// the end, repeats every failure with the names of the tests around it and its diagnostics. A CI
// log is often read from its tail; without this a failure sits minutes of output above the summary.
import { Transform } from 'node:stream';

const INDENT = 4;
const MAX_LINES = 400;

const depthOf = (line) => Math.floor((line.length - line.trimStart().length) / INDENT);

/** Collects failing test points from TAP lines, with their enclosing subtests and YAML diagnostics. */
function failureCollector() {
  const open = [];
  const failures = [];
  let reading;
  return {
    failures,
    line(line) {
      if (reading) {
        if (line.startsWith(reading.indent) && line.trim() !== '' && !/^\s*(not )?ok /.test(line)) {
          reading.lines.push(line.slice(reading.indent.length));
          if (line.trim() === '...') reading = undefined;
          return;
        }
        reading = undefined;
      }
      const depth = depthOf(line);
      const subtest = line.match(/^\s*# Subtest: (.*)$/);
      if (subtest) {
        open.length = depth;
        open[depth] = subtest[1];
        return;
      }
      if (/^\s*not ok /.test(line) && !/# (TODO|SKIP)/i.test(line)) {
        // A test that failed because a subtest did is named in that subtest's path already.
        const name = line.replace(/^\s*not ok \d+ - /, '').replace(/ # time=.*$/, '');
        const path = open.slice(0, depth).filter(Boolean);
        if (failures.some((f) => f.path.length > depth && f.path[depth] === name)) {
          reading = { indent: ' '.repeat(depth * INDENT + 2), lines: [] };
          return;
        }
        const failure = { path, line: line.trim(), lines: [] };
        failures.push(failure);
        reading = { indent: ' '.repeat(depth * INDENT + 2), lines: failure.lines };
      }
    },
  };
}

/** The summary printed after the run: nothing when everything passed. */
function failureSummary(failures) {
  if (failures.length === 0) return '';
  const out = [`# ---- ${failures.length} failing test point(s), repeated from above ----`];
  for (const f of failures)
    out.push(
      `# in: ${f.path.join(' > ') || '(top level)'}`,
      `  ${f.line}`,
      ...f.lines.map((l) => `    ${l}`),
    );
  const shown = out.slice(0, MAX_LINES);
  if (out.length > MAX_LINES) shown.push(`# ... and ${out.length - MAX_LINES} more lines (see above)`);
  return `${shown.join('\n')}\n`;
}

/** tap pipes raw TAP in and this out to the terminal: a Transform, the summary at its end. */
export default class FailureSummaryReporter extends Transform {
  #collector = failureCollector();
  #partial = '';

  _transform(chunk, _encoding, done) {
    const lines = (this.#partial + chunk.toString()).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) this.#collector.line(line);
    done(null, chunk);
  }

  _flush(done) {
    if (this.#partial) this.#collector.line(this.#partial);
    done(null, failureSummary(this.#collector.failures));
  }
}
