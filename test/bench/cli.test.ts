import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { hasTool } from '../../bench/cli/tools.js';
import { UCX_AVAILABLE } from '../backends/ucx-gate.js';

import type { BenchReport } from '../../bench/cli/results.js';
import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';
import { LAUNCHER, runCli, TINY } from './cli-run.js';

const dirs: string[] = [];
function outDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'nixl-ts-bench-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Runs the CLI over TINY plus `args`, with --json into a fresh --out; expects exit 0. */
async function runReport(args: string[]): Promise<{ report: BenchReport; stderr: string }> {
  const r = await runCli([...TINY, ...args, '--json', '--out', outDir()]);
  expect(r.code, r.stderr).toBe(0);
  return { report: JSON.parse(r.stdout) as BenchReport, stderr: r.stderr };
}

/** A --target-listen --once process of the CLI, and the port it reports in its `listening` event. */
function startTarget(): { target: JsonLineChild<JsonLineReply>; port: Promise<number> } {
  const target = new JsonLineChild<JsonLineReply>(
    LAUNCHER,
    'target',
    {},
    {
      args: ['--target-listen', '127.0.0.1:0', '--once'],
    },
  );
  return { target, port: target.nextEvent('listening', 60_000).then((e) => Number(e.port)) };
}

describe('nixl-ts-bench CLI (two local processes over TCP)', () => {
  it('runs a tiny sweep over both TCP paths with --check, each path beside its own floor, and writes JSON and SVG', async () => {
    const out = outDir();
    const r = await runCli([
      ...TINY,
      '--op',
      'READ,WRITE',
      '--check',
      '--baselines',
      'memcpy,net',
      '--json',
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);

    // --json: stdout is the report alone; the tables went to stderr.
    const report = JSON.parse(r.stdout) as BenchReport;
    expect(report.tool).toBe('nixl-ts-bench');
    // One run per path: socket (same_host=off), then same-host; each READ then WRITE. The
    // same-host target's memory comes from the TCP backend, so its cells take shared memory
    // ('shm'; 'shm+same-host' when the mapping came after the first timed posts).
    const sameHostPath = (p: string): string => (p.startsWith('shm') ? 'same-host' : p);
    expect(report.cells.map((c) => `${sameHostPath(c.path)} ${c.op} ${c.blockSize}`)).toEqual(
      ['socket', 'same-host'].flatMap((path) =>
        ['READ', 'WRITE'].flatMap((op) => [4096, 8192, 16384].map((b) => `${path} ${op} ${b}`)),
      ),
    );
    for (const c of report.cells.slice(6)) expect(c.path).toMatch(/^shm(\+same-host)?$/);
    for (const c of report.cells) {
      expect(c.backend).toBe('TCP');
      // Timed as nixlbench times: posts, then getXferStatus polled until DONE.
      expect(c.wait).toBe('poll');
      expect(c.iterations).toBe(20);
      expect(c.bytes).toBe(20 * c.blockSize);
      expect(c.gbps).toBeGreaterThan(0);
      expect(c.tx.avg).toBeGreaterThan(0);
      expect(c.tx.p99).toBeGreaterThanOrEqual(c.tx.avg * 0.999);
      // Every polled DONE moved the right bytes.
      expect(c.check).toBe('passed');
      expect(c.targetElu).toBeGreaterThanOrEqual(0);
      expect(c.targetElu).toBeLessThanOrEqual(1);
      // A cell gets its own path's floor only, and its ratio is the cell over it.
      const own = c.path === 'socket' ? 'net' : 'memcpy';
      const other = c.path === 'socket' ? 'memcpy' : 'net';
      expect(Object.keys(c.baselines)).toEqual([own]);
      expect(c.baselines[other]).toBeUndefined();
      const ref = c.baselines[own]!;
      expect(ref.gbps).toBeGreaterThan(0);
      expect(ref.ratio).toBeCloseTo(c.gbps / ref.gbps, 9);
    }
    expect(r.stderr).toContain('Block Size (B)');
    expect(r.stderr).toContain('P99 Tx (us)');
    expect(r.stderr).toContain('TCP READ, socket path');
    expect(r.stderr).toMatch(/TCP WRITE, shared memory|TCP WRITE, same-host path/);
    expect(r.stderr).toContain('vs cold memcpy');
    expect(r.stderr).toContain('vs Node net');
    // One table row per cell, each naming its path and with one ratio ("…x").
    const rows = r.stderr.split('\n').filter((l) => /^(4096|8192|16384)\s/.test(l));
    expect(rows).toHaveLength(12);
    expect(rows.filter((row) => /\ssocket\s/.test(row))).toHaveLength(6);
    expect(rows.filter((row) => /\sshm(\+same-host)?\s/.test(row))).toHaveLength(6);
    for (const row of rows) expect(row.match(/\d\.?\d*x/g)).toHaveLength(1);

    const json = JSON.parse(readFileSync(join(out, 'nixl-ts-bench.json'), 'utf8')) as BenchReport;
    expect(json.cells).toHaveLength(12);
    const svg = readFileSync(join(out, 'nixl-ts-bench.svg'), 'utf8');
    expect(svg.startsWith('<?xml')).toBe(true);
    expect(svg).toContain('<svg');
    expect(svg).toContain('TCP socket READ');
    expect(svg).toMatch(/TCP shm(\+same-host)? WRITE/);
    expect(svg).toContain('memcpy');
    expect(svg.match(/<path /g)!.length).toBeGreaterThanOrEqual(4);
  });

  it('--wait await times the same cells by awaiting each request; the data is verified as well', async () => {
    const { report, stderr } = await runReport([
      '--max-block',
      '8K',
      '--op',
      'READ,WRITE',
      '--wait',
      'await',
      '--check',
    ]);
    expect(report.cells).toHaveLength(8);
    for (const c of report.cells) {
      expect(c.wait).toBe('await');
      expect(c.yields).toBe(0);
      expect(c.iterations).toBe(20);
      expect(c.check).toBe('passed');
    }
    expect(stderr).toContain('post then await req.wait()');
  });

  it('--path and a same_host param pick one path; the path column is what the kernel shows', async () => {
    const socket = await runReport(['--max-block', '4K', '--path', 'socket']);
    expect(socket.report.cells.map((c) => c.path)).toEqual(['socket']);
    const forced = await runReport(['--max-block', '4K', '--param', 'same_host=off']);
    expect(forced.report.cells.map((c) => c.path)).toEqual(['socket']);
    const sameHost = await runReport(['--max-block', '4K', '--path', 'same-host']);
    expect(sameHost.report.cells.map((c) => c.path)).toEqual([
      expect.stringMatching(/^shm(\+same-host)?$/),
    ]);
    // Without shared memory the same-host path is the Unix socket and process_vm copies.
    const noShm = await runReport([
      '--max-block',
      '4K',
      '--path',
      'same-host',
      '--param',
      'same_host_shm=off',
    ]);
    expect(noShm.report.cells.map((c) => c.path)).toEqual(['same-host']);
    expect(noShm.stderr).toMatch(/^4096\s+1\s.*\ssame-host\s/m);
    // Plain target memory: READs are pulled under a pull grant, WRITEs take the socket.
    const plain = await runReport([
      '--max-block',
      '4K',
      '--op',
      'READ,WRITE',
      '--path',
      'same-host',
      '--target-memory',
      'plain',
      '--check',
    ]);
    expect(plain.report.cells.map((c) => [c.op, c.path, c.check])).toEqual([
      ['READ', expect.stringMatching(/^pull(\+same-host)?$/), 'passed'],
      ['WRITE', 'same-host', 'passed'],
    ]);
  });

  it("takes nixlbench's flag names", async () => {
    const { report } = await runReport([
      '--op_type',
      'READ',
      '--start_block_size',
      '4096',
      '--max_block_size=8192',
      '--start_batch_size',
      '2',
      '--max_batch_size',
      '2',
      '--num_iter',
      '10',
      '--warmup_iter=1',
      '--check_consistency',
      '--initiator_seg_type',
      'DRAM',
      '--path',
      'socket',
    ]);
    expect(report.cells.map((c) => `${c.op} ${c.blockSize}x${c.batch}`)).toEqual([
      'READ 4096x2',
      'READ 8192x2',
    ]);
    for (const c of report.cells) {
      expect(c.iterations).toBe(10);
      expect(c.check).toBe('passed');
    }
  });

  for (const op of ['WRITE', 'READ'] as const) {
    it(`the consistency check catches a corrupted ${op} (the target's memory flipped through the hook)`, async () => {
      const out = outDir();
      const r = await runCli([
        ...TINY,
        '--max-block',
        '8K',
        '--op',
        op,
        '--check',
        '--corrupt-target-byte',
        '100',
        '--json',
        '--out',
        out,
      ]);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain('consistency check FAILED');
      const report = JSON.parse(r.stdout) as BenchReport;
      // Both paths, two sizes each.
      expect(report.cells).toHaveLength(4);
      for (const c of report.cells) {
        expect(c.check).toMatch(
          /^failed: 1 byte\(s\) differ; first at offset 100: expected 0x[0-9a-f]{2}, found 0x[0-9a-f]{2}$/,
        );
      }
      // The results are still written, marked failed.
      expect(existsSync(join(out, 'nixl-ts-bench.svg'))).toBe(true);
    });
  }

  it('without the hook the same run passes (the failure above is the corruption, not the check)', async () => {
    const { report } = await runReport(['--max-block', '8K', '--op', 'READ', '--check']);
    expect(report.cells.every((c) => c.check === 'passed')).toBe(true);
  });

  it('two hosts by address: --target-listen and --initiator --target (on loopback), prepared requests, depth 2, batch 4', async () => {
    const { target, port: listening } = startTarget();
    try {
      const port = await listening;
      const { report } = await runReport([
        '--initiator',
        '--target',
        `127.0.0.1:${port}`,
        '--prepared',
        '--depth',
        '2',
        '--batch',
        '4',
        '--check',
      ]);
      expect(report.target.address).toBe(`127.0.0.1:${port}`);
      for (const c of report.cells) {
        expect(c.batch).toBe(4);
        expect(c.depth).toBe(2);
        expect(c.bytes).toBe(20 * 4 * c.blockSize);
        expect(c.check).toBe('passed');
      }
      // --once: the target exits after its initiator left.
      const code = await target.exited;
      expect(code).toBe(0);
    } finally {
      target.signal('SIGKILL');
    }
  });

  it('posts that complete inside post() (busy_poll_us) still use every depth slot: prepared, depth 2, --check passes', async () => {
    // With busy polling, postXferReq answers DONE; the loop must still let
    // depth slot 1 post, or its part of the checked area is never written.
    const { report } = await runReport([
      '--prepared',
      '--depth',
      '2',
      '--batch',
      '4',
      '--check',
      '--initiator-param',
      'busy_poll_us=1000000',
    ]);
    for (const c of report.cells) expect(c.check).toBe('passed');
  });

  it.skipIf(!hasTool('iperf3') || !hasTool('cc'))(
    'socket cells beside iperf3 and the C request/response loop, same-host cells beside the C process_vm loop',
    async () => {
      const { report, stderr } = await runReport([
        '--max-block',
        '8K',
        '--baselines',
        'iperf3,reqresp,vmcopy',
      ]);
      expect(report.cells).toHaveLength(4);
      for (const c of report.cells) {
        const names = c.path === 'socket' ? ['iperf3', 'reqresp'] : ['vmcopy'];
        expect(Object.keys(c.baselines).sort()).toEqual(names);
        for (const name of names) {
          const ref = c.baselines[name as 'iperf3']!;
          expect(ref.gbps, `${name}: ${ref.note}`).toBeGreaterThan(0);
          expect(ref.ratio).toBeCloseTo(c.gbps / ref.gbps, 9);
        }
      }
      expect(stderr).toContain('vs iperf3');
      expect(stderr).toContain('vs C req/resp');
      expect(stderr).toContain('vs C vm copy');
      // The floor uses the congestion control of the engine's loopback connections (tcp_congestion auto).
      expect(stderr).toContain('reqresp: blocking calls, reno');
    },
  );

  it.skipIf(!hasTool('ucx_perftest') || !hasTool('cc'))(
    'UCX cells name their transports and sit beside the C put+flush loop and ucx_perftest',
    async () => {
      const { report, stderr } = await runReport([
        '--backend',
        'UCX',
        '--param',
        'profile=tcp',
        '--max-block',
        '8K',
        '--baselines',
        'putflush,ucx_perftest,iperf3',
      ]);
      expect(report.cells).toHaveLength(2);
      for (const c of report.cells) {
        expect(c.path).toBe('UCX tcp');
        expect(Object.keys(c.baselines).sort()).toEqual(['putflush', 'ucx_perftest']);
        for (const name of ['putflush', 'ucx_perftest'] as const) {
          const ref = c.baselines[name]!;
          expect(ref.gbps, `${name}: ${ref.note}`).toBeGreaterThan(0);
          expect(ref.ratio).toBeCloseTo(c.gbps / ref.gbps, 9);
        }
      }
      expect(stderr).toContain('vs C put+flush');
      expect(stderr).toContain('vs ucx_perftest (streamed)');
    },
  );

  it.skipIf(!UCX_AVAILABLE)(
    '--json: stdout is the report alone also when UCX warns (UCX logs to stdout unless told)',
    async () => {
      // A stray UCX_ variable makes every UCP context warn about it.
      const args = ['--backend', 'UCX', '--param', 'profile=tcp', '--max-block', '4K', '--json'];
      const r = await runCli([...TINY, ...args, '--out', outDir()], undefined, {
        UCX_NIXL_TS_STRAY: '1',
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('unused env variable: UCX_NIXL_TS_STRAY');
      const report = JSON.parse(r.stdout) as BenchReport;
      expect(report.cells.map((c) => `${c.backend} ${c.blockSize}`)).toEqual(['UCX 4096']);
    },
  );

  it('--compare nixlbench=PATH runs two ranks over the same sweep and adds a ratio per cell (with a stand-in for nixlbench)', async () => {
    const standin = fileURLToPath(new URL('../fixtures/nixlbench-standin.mjs', import.meta.url));
    const { report, stderr } = await runReport(['--compare', `nixlbench=${standin}`]);
    // Both paths' cells get the same nixlbench row.
    expect(report.cells).toHaveLength(6);
    for (const c of report.cells) {
      const ref = c.compare.nixlbench!;
      expect(ref.gbps).toBe(1);
      expect(ref.avgLatUs).toBeCloseTo(c.blockSize / 1000, 9);
      expect(ref.ratio).toBeCloseTo(c.gbps, 9);
    }
    expect(stderr).toContain('vs nixlbench');
  });

  it('--repeat runs each cell several times and reports the median run', async () => {
    const { report, stderr } = await runReport([
      '--max-block',
      '8K',
      '--path',
      'socket',
      '--repeat',
      '3',
      '--baselines',
      'net',
    ]);
    for (const c of report.cells) {
      expect(c.repeats).toHaveLength(3);
      const sorted = [...c.repeats!].sort((a, b) => a - b);
      expect(c.gbps).toBe(sorted[1]);
      expect(c.baselines.net!.ratio).toBeCloseTo(c.gbps / c.baselines.net!.gbps, 9);
    }
    expect(stderr).toContain('B/W of each run');
  });

  it('the first cell of the process warms up for --warmup-ms at least, and the table says so', async () => {
    const { report, stderr } = await runReport(['--path', 'socket', '--warmup-ms', '300']);
    expect(report.cells.length).toBeGreaterThan(1);
    expect(report.cells[0]!.warmupMs).toBeGreaterThanOrEqual(300);
    expect(stderr).toContain("the process's first cell warms up 300 ms at least");
  });

  it('a target that dies mid-sweep ends the run with an error in bounded time', async () => {
    const { target, port: listening } = startTarget();
    try {
      const port = await listening;
      const started = Date.now();
      const run = runCli([
        '--initiator',
        '--target',
        `127.0.0.1:${port}`,
        '--start-block',
        '4K',
        '--max-block',
        '4K',
        '--iters',
        '10000000',
        '--max-cell-seconds',
        '600',
        '--no-progress',
        '--out',
        outDir(),
      ]);
      // Kill once the target has its backend open (transfers start right after).
      await new Promise<void>((resolve) => {
        // target.stderr is its stderr's tail so far, updated before this listener runs.
        const seen = () => target.stderr.includes('backend open') && resolve();
        seen();
        target.child.stderr!.on('data', seen);
      });
      await new Promise((r) => setTimeout(r, 500));
      target.signal('SIGKILL');
      const r = await run;
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/RemoteDisconnectError|control connection to the target lost/);
      expect(Date.now() - started).toBeLessThan(90_000);
    } finally {
      target.signal('SIGKILL');
    }
  });

  it('refuses bad options with a usage error (exit 2) naming the problem', async () => {
    const bad = await runCli(['--op', 'COPY']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--op: 'COPY' is not READ or WRITE");
    const sizes = await runCli(['--start-block', '1M', '--max-block', '4K']);
    expect(sizes.code).toBe(2);
    expect(sizes.stderr).toContain('--max-block 4K is below --start-block 1M');
    const memory = await runCli(['--max-block', '64M', '--batch', '32']);
    expect(memory.code).toBe(2);
    expect(memory.stderr).toContain('the sweep needs 2G per side');
    const seg = await runCli(['--initiator_seg_type', 'VRAM']);
    expect(seg.code).toBe(2);
    expect(seg.stderr).toContain('--initiator_seg_type VRAM: nixl-ts-bench supports only DRAM');
    const backend = await runCli([...TINY, '--backend', 'LOCAL']);
    expect(backend.code).toBe(2);
    expect(backend.stderr).toContain(
      "backend 'LOCAL' is not available as a remote-capable backend",
    );
  });
});
