// The conformance suite over InfiniBand / RoCE (UCX's verbs transports). It
// runs only where `ucx_info -d` shows such a device; elsewhere it is reported
// as skipped, with the reason in the test name.
import { execFileSync } from 'node:child_process';

import { describe, it } from 'vitest';

import { backendConformance } from '../../testing/index.js';

function ibTransports(): string[] {
  let out = '';
  try {
    out = execFileSync('ucx_info', ['-d'], { encoding: 'utf8', timeout: 30_000 });
  } catch {
    return [];
  }
  const found = new Set<string>();
  for (const m of out.matchAll(/Transport:\s*((?:rc|dc|ud)_\w+)/g)) found.add(m[1]!);
  return [...found];
}

const transports = ibTransports();
if (transports.length > 0) {
  await backendConformance('UCX', { params: { profile: 'ib' } });
} else {
  describe('UCX over InfiniBand / RoCE', () => {
    it.skip('skipped: `ucx_info -d` shows no InfiniBand or RoCE transport (rc/dc/ud) on this machine', () => {});
  });
}
