/**
 * Each backend's parameters are written once, in its table (params.ts): the
 * parser reads them from there, and the README's table must be the one the
 * table renders (`npx tsx scripts/param-tables.ts` rewrites it).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { paramDefaults, renderParamTable } from '../../backends/common/param-table.js';
import { DEFAULT_PARAMS as TCP_DEFAULTS, TCP_PARAM_TABLE } from '../../backends/tcp/params.js';
import { DEFAULT_PARAMS as UCX_DEFAULTS, UCX_PARAM_TABLE } from '../../backends/ucx/params.js';
import { InvalidParamError } from '../../src/errors.js';
import { rows, TABLES, tableBlock } from '../../scripts/param-tables.js';
import { parseParams as parseTcp } from '../../backends/tcp/params.js';
import { parseParams as parseUcx } from '../../backends/ucx/params.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('backend parameter tables', () => {
  it.each(TABLES)('%s shows the table its params.ts defines', (readme, table) => {
    const block = tableBlock(readFileSync(root + readme, 'utf8'));
    expect(block, `${readme} has no params markers`).toBeDefined();
    expect(rows(block!)).toEqual(rows(renderParamTable(table)));
  });

  it('the defaults NIXL reports (getPluginParams) are the tables’ defaults, one casing', () => {
    expect(TCP_DEFAULTS).toEqual(paramDefaults(TCP_PARAM_TABLE));
    expect(UCX_DEFAULTS).toEqual(paramDefaults(UCX_PARAM_TABLE));
    for (const name of [...Object.keys(TCP_DEFAULTS), ...Object.keys(UCX_DEFAULTS)]) {
      expect(name).toMatch(/^[a-z][a-z0-9_]*$/);
    }
  });

  it('aliases parse to the same field; a parameter given twice with two values is refused', () => {
    expect(parseUcx({ numWorkers: '3' }).numWorkers).toBe(3);
    expect(parseUcx({ num_workers: '3' }).numWorkers).toBe(3);
    expect(() => parseUcx({ num_workers: '3', numWorkers: '4' })).toThrow(InvalidParamError);
    expect(() => parseTcp({ streams: '0' })).toThrow(/parameter streams must be an integer/);
    expect(() => parseTcp({ no_such_param: '1' })).toThrow(/unknown parameter 'no_such_param'/);
  });
});
