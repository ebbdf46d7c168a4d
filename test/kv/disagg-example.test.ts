// The disaggregated example end to end (two processes over TCP on loopback), small.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { expect, it } from 'vitest';

it('examples/disagg: every request pulled, verified and released', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '--import',
      'tsx',
      'examples/disagg/run.ts',
      '--requests',
      '24',
      '--concurrency',
      '3',
      '--decode-arrangement',
      'layer',
    ],
    { timeout: 240_000 },
  );
  expect(stdout).toMatch(/compatible/);
  expect(stdout).toMatch(/decode: 24 requests pulled and verified byte for byte, 0 failed/);
  expect(stdout).toMatch(
    /prefill: 24 requests released after decode's notification, 0 by timeout; 512\/512 blocks free/,
  );
}, 300_000);
