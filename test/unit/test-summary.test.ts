/**
 * scripts/test-summary.mjs, the line CI reads, on a real vitest JSON report:
 * a failed test is named with its assertion before the summary line, so a
 * test that fails once under load leaves what it asserted in the CI log.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, expect, it } from 'vitest';

const SUMMARY = fileURLToPath(new URL('../../scripts/test-summary.mjs', import.meta.url));
const VITEST = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'nixl-test-summary-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('prints each failed test with its assertion, then the summary line', () => {
  writeFileSync(
    join(dir, 'sums.test.mjs'),
    "test('adds', () => {\n  expect(1 + 1, 'the sum').toBe(3);\n});\ntest('passes', () => {});\n",
  );
  const report = join(dir, 'report.json');
  const run = spawnSync(
    process.execPath,
    [VITEST, 'run', '--root', dir, '--globals', '--reporter=json', `--outputFile.json=${report}`],
    { cwd: dir, encoding: 'utf8', timeout: 60_000 },
  );
  expect(run.status, run.stderr).toBe(1);

  const summary = spawnSync(process.execPath, [SUMMARY, report], { cwd: dir, encoding: 'utf8' });
  expect(summary.status).toBe(1);
  const lines = summary.stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^FAIL sums\.test\.mjs > adds \(\d+ ms\)$/);
  expect(lines[1]).toContain('AssertionError: the sum: expected 2 to be 3');
  expect(summary.stdout).toContain('sums.test.mjs:2:');
  expect(summary.stdout).not.toContain('node_modules');
  expect(lines.at(-1)).toBe('1 passed, 1 failed, 0 skipped');
});

it('a passing report prints the summary line alone and exits 0', () => {
  writeFileSync(join(dir, 'sums.test.mjs'), "test('passes', () => {});\n");
  const report = join(dir, 'report-ok.json');
  spawnSync(
    process.execPath,
    [VITEST, 'run', '--root', dir, '--globals', '--reporter=json', `--outputFile.json=${report}`],
    { cwd: dir, encoding: 'utf8', timeout: 60_000 },
  );
  const summary = spawnSync(process.execPath, [SUMMARY, report], { cwd: dir, encoding: 'utf8' });
  expect(summary.status).toBe(0);
  expect(summary.stdout).toBe('1 passed, 0 failed, 0 skipped\n');
});
