// Prints the plain "N passed, N failed" line CI reads, from vitest's JSON report.
// Before it, each failure: its file, test and duration, and the head of its
// message (the assertion), so that a test that fails once under load leaves
// what it asserted in the CI log.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const MESSAGE_LINES = 12;

const file = process.argv[2] ?? 'test-results.json';
let r;
try {
  r = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.log('0 passed, 1 failed');
  console.error(`no test report at ${file}: ${err.message}`);
  process.exit(1);
}

/** The first lines of a failure message, indented, without the test runner's own frames. */
const head = (text) =>
  String(text)
    .split('\n')
    .filter((l) => !/\/node_modules\/|\(<anonymous>\)$/.test(l))
    .slice(0, MESSAGE_LINES)
    .map((l) => `    ${l}`)
    .join('\n');

for (const f of r.testResults ?? []) {
  const name = relative(process.cwd(), f.name);
  const failed = (f.assertionResults ?? []).filter((a) => a.status === 'failed');
  // A file that failed outside its tests (an import, a hook) carries its own message.
  if (f.status === 'failed' && f.message) console.log(`FAIL ${name}\n${head(f.message)}`);
  for (const a of failed) {
    const ms = a.duration === undefined ? '' : ` (${Math.round(a.duration)} ms)`;
    console.log(`FAIL ${name} > ${a.fullName}${ms}`);
    for (const m of a.failureMessages ?? []) console.log(head(m));
  }
}

const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
process.exit(r.numFailedTests > 0 || r.numPassedTests === 0 ? 1 : 0);
