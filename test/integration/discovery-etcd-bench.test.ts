/**
 * nixl-ts-bench --etcd-endpoints (nixlbench's etcd runtime): the same command
 * started twice against a real etcd on 127.0.0.1; each process claims a rank
 * there (the first the initiator, the second the target), and the run's
 * control messages go through etcd. The run must complete with every byte
 * verified (--check_consistency), a corrupted byte must fail it (so the check
 * runs through this path), and a third process of the same group is refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { BenchReport } from '../../bench/cli/results.js';
import { runCli, TINY, type CliRun } from '../bench/cli-run.js';
import { EtcdServer, skipWithoutEtcd } from '../etcd/etcd-server.js';

let server: EtcdServer;
const dirs: string[] = [];
function outDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'nixl-ts-bench-etcd-'));
  dirs.push(d);
  return d;
}
beforeEach(async () => {
  server = await EtcdServer.start();
});
afterEach(async () => {
  await server.stop();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Both ranks with the same arguments (nixlbench's way); returns [initiator, target] by their output. */
async function runPair(args: string[]): Promise<{ initiator: CliRun; target: CliRun }> {
  const cmd = (out: string) => [
    ...TINY,
    '--etcd_endpoints',
    server.endpoint,
    '--backend',
    'TCP',
    '--path',
    'socket',
    '--json',
    '--out',
    out,
    ...args,
  ];
  const [a, b] = await Promise.all([runCli(cmd(outDir())), runCli(cmd(outDir()))]);
  const isInitiator = (r: CliRun) => /rank 0 of 2 \(initiator\)/.test(r.stderr);
  expect([a, b].filter(isInitiator).length, a.stderr + b.stderr).toBe(1);
  return isInitiator(a) ? { initiator: a, target: b } : { initiator: b, target: a };
}

describe.skipIf(skipWithoutEtcd)('nixl-ts-bench --etcd-endpoints', { timeout: 240_000 }, () => {
  it('two processes pair up through etcd and run a checked sweep; etcd is left empty', async () => {
    const { initiator, target } = await runPair([
      '--op_type',
      'READ,WRITE',
      '--check_consistency',
      '--benchmark_group',
      'pair-1',
    ]);
    expect(initiator.code, initiator.stderr).toBe(0);
    expect(target.code, target.stderr).toBe(0);
    expect(target.stderr).toMatch(/rank 1 of 2 \(target\)/);
    expect(target.stderr).toContain('target: TCP backend open');
    const report = JSON.parse(initiator.stdout) as BenchReport;
    expect(report.target.address).toMatch(/through etcd at http:\/\/127\.0\.0\.1:\d+/);
    expect(report.cells.length).toBe(6); // READ and WRITE x 4K, 8K, 16K
    for (const c of report.cells) {
      expect(c.check).toBe('passed');
      expect(c.iterations).toBeGreaterThan(0);
    }
    // Both leases revoked: nothing of the run stays in etcd.
    const c = new Etcd3({ hosts: server.endpoint });
    try {
      expect(await c.getAll().prefix('/nixl-ts-bench/').keys()).toEqual([]);
    } finally {
      c.close();
    }
  });

  it('a corrupted byte on the target fails the check through etcd (exit 3)', async () => {
    const { initiator, target } = await runPair([
      '--max-block',
      '4K',
      '--op',
      'WRITE',
      '--check',
      '--corrupt-target-byte',
      '100',
    ]);
    expect(initiator.code, initiator.stderr).toBe(3);
    expect(initiator.stderr).toContain('consistency check FAILED');
    expect(target.code, target.stderr).toBe(0);
  });

  it('a third process of a group that has two ranks is refused with a clear error', async () => {
    // Two ranks held by leases of this test (as two running processes would hold them).
    const c = new Etcd3({ hosts: server.endpoint });
    try {
      const lease = c.lease(30);
      await lease.put('/nixl-ts-bench/full/rank/0').value('127.0.0.1');
      await lease.put('/nixl-ts-bench/full/rank/1').value('127.0.0.1');
      const r = await runCli([
        ...TINY,
        '--etcd-endpoints',
        server.endpoint,
        '--benchmark-group',
        'full',
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/already has 2 ranks/);
      await lease.revoke();
    } finally {
      c.close();
    }
  });
});
