/**
 * Writes each backend's parameter table into its README, between the markers
 * `<!-- params:begin -->` and `<!-- params:end -->`, from the backend's table
 * (backends/<name>/params.ts). `--check` only reports a README that differs
 * (test/backends/param-tables.test.ts runs the same check).
 *
 *   npx tsx scripts/param-tables.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { renderParamTable, type ParamTable } from '../backends/common/param-table.js';
import { FILE_PARAM_TABLE } from '../backends/file/params.js';
import { TCP_PARAM_TABLE } from '../backends/tcp/params.js';
import { UCX_PARAM_TABLE } from '../backends/ucx/params.js';

export const TABLES: [readme: string, table: ParamTable][] = [
  ['backends/tcp/README.md', TCP_PARAM_TABLE],
  ['backends/ucx/README.md', UCX_PARAM_TABLE],
  ['backends/file/README.md', FILE_PARAM_TABLE],
];

const BEGIN = '<!-- params:begin -->';
const END = '<!-- params:end -->';

/** The table block of a README (between the markers), or undefined. */
export function tableBlock(readme: string): string | undefined {
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  return a < 0 || b < a ? undefined : readme.slice(a + BEGIN.length, b);
}

/** Table rows as trimmed cells, without the separator row: formatting does not count. */
export function rows(markdown: string): string[][] {
  return markdown
    .split('\n')
    .filter((l) => l.trim().startsWith('|') && !/^\|[\s|:-]+\|$/.test(l.trim()))
    .map((l) =>
      l
        .trim()
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  const root = fileURLToPath(new URL('../', import.meta.url));
  let stale = 0;
  for (const [file, table] of TABLES) {
    const path = root + file;
    const text = readFileSync(path, 'utf8');
    const block = tableBlock(text);
    if (block === undefined) throw new Error(`${file}: no ${BEGIN} ... ${END} markers`);
    const want = renderParamTable(table);
    if (JSON.stringify(rows(block)) === JSON.stringify(rows(want))) continue;
    stale++;
    if (check) {
      console.error(`${file}: the parameter table differs from its source (params.ts)`);
      continue;
    }
    writeFileSync(path, text.replace(block, `\n${want}\n`));
    console.log(`${file}: parameter table written (run prettier on it)`);
  }
  if (check && stale > 0) process.exit(1);
}
