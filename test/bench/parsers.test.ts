import { describe, expect, it } from 'vitest';

import { nixlbenchArgs, parseNixlbench } from '../../bench/cli/compare-nixlbench.js';
import {
  DEFAULT_WARMUP_MS,
  parseCli,
  regionBytes,
  UsageError,
  type CliOptions,
} from '../../bench/cli/options.js';
import { fromNixlbenchFlags } from '../../bench/cli/nixlbench-flags.js';
import { parseUcxPerftest } from '../../bench/cli/baselines/ucx-perftest.js';
import { summarize } from '../../bench/cli/stats.js';
import { describeMismatch, fillPattern, verifyPattern } from '../../testing/pattern.js';

function parse(argv: string[]): CliOptions {
  const o = parseCli(argv);
  if (o === 'help') throw new Error('unexpected help');
  return o;
}

const shapes = (o: CliOptions) => o.sweep.cells.map((c) => `${c.blockSize}x${c.batch}`);

describe('nixl-ts-bench parsing and helpers', () => {
  it('the default sweep: batch 1 from 4K to 16M, 4K in batches of 16 and 256, both TCP paths, polled', () => {
    const o = parse([]);
    expect(o.sweep.ops).toEqual(['WRITE']);
    expect(o.sweep.paths).toEqual(['socket', 'same-host']);
    expect(o.sweep.wait).toBe('poll');
    expect(shapes(o)).toEqual([
      ...Array.from({ length: 13 }, (_, i) => `${4096 * 2 ** i}x1`),
      '4096x16',
      '4096x256',
    ]);
    expect(regionBytes(o.sweep)).toBe(16 * 1024 * 1024);
    expect(o.baselines).toEqual([]);
    // --baseline: each path's floors; ucx_perftest and net only when named.
    expect(parse(['--baseline']).baselines).toEqual([
      'iperf3',
      'reqresp',
      'memcpy',
      'vmcopy',
      'putflush',
    ]);
    // Any size option replaces the default sweep's extra cells.
    expect(shapes(parse(['--max-block', '8K']))).toEqual(['4096x1', '8192x1']);
    expect(shapes(parse(['--block', '1M,4K', '--cells', '4Kx8']))).toEqual([
      '4096x1',
      '1048576x1',
      '4096x8',
    ]);
    expect(parse(['--wait', 'await']).sweep.wait).toBe('await');
    expect(() => parse(['--wait', 'sleep'])).toThrow(/--wait: 'sleep' is not poll or await/);
    expect(parse([]).sweep.targetMemory).toBe('backend');
    expect(parse(['--target-memory', 'plain']).sweep.targetMemory).toBe('plain');
    expect(() => parse(['--target-memory', 'heap'])).toThrow(
      /--target-memory: 'heap' is not backend or plain/,
    );
    expect(() => parse(['--block', '4K', '--max-block', '8K'])).toThrow(/either --block/);
    expect(() => parse(['--cells', '4K16'])).toThrow(/BLOCKxBATCH/);
  });

  it('paths: named, or forced by a same_host param', () => {
    expect(parse(['--path', 'same-host']).sweep.paths).toEqual(['same-host']);
    expect(parse(['--param', 'same_host=off']).sweep.paths).toEqual(['socket']);
    expect(parse(['--initiator-param', 'same_host=auto']).sweep.paths).toEqual(['same-host']);
    expect(() => parse(['--path', 'shm'])).toThrow(/--path: 'shm' is not socket or same-host/);
  });

  it("nixlbench's flag names mean the same as ours", () => {
    const nixl = parse([
      '--op_type',
      'READ',
      '--start_block_size',
      '4096',
      '--max_block_size=65536',
      '--start_batch_size',
      '2',
      '--max_batch_size',
      '8',
      '--num_iter',
      '50',
      '--warmup_iter=5',
      '--large_blk_iter_ftr',
      '4',
      '--total_buffer_size',
      '1073741824',
      '--pipeline_depth',
      '2',
      '--check_consistency',
      '--recreate_xfer',
      '--initiator_seg_type',
      'DRAM',
      '--target_seg_type=DRAM',
      '--num_threads',
      '1',
      '--backend',
      'TCP',
    ]);
    const ours = parse([
      '--op',
      'READ',
      '--start-block',
      '4096',
      '--max-block',
      '65536',
      '--start-batch',
      '2',
      '--max-batch',
      '8',
      '--iters',
      '50',
      '--warmup',
      '5',
      '--large-block-factor',
      '4',
      '--total-buffer',
      '1073741824',
      '--depth',
      '2',
      '--check',
      '--recreate',
      '--backend',
      'TCP',
    ]);
    expect(nixl).toEqual(ours);
    expect(shapes(nixl)).toHaveLength(5 * 3);
    // gflags' boolean forms.
    expect(parse(['--check_consistency=false']).sweep.check).toBe(false);
    expect(parse(['--check_consistency=true']).sweep.check).toBe(true);
    expect(parse(['--nocheck_consistency']).sweep.check).toBe(false);
    expect(parse(['-recreate_xfer']).sweep.recreate).toBe(true);
    // Only the defaults of what has no counterpart here.
    expect(() => parse(['--target_seg_type', 'VRAM'])).toThrow(/supports only DRAM/);
    expect(() => parse(['--num_threads=4'])).toThrow(
      /--num_threads 4: nixl-ts-bench supports only 1/,
    );
    expect(() => parse(['--check_consistency=yes'])).toThrow(/takes true or false/);
    expect(() => parse(['--num_iter'])).toThrow(/--num_iter needs a value/);
    // Unknown nixlbench flags are refused by the option parser, not ignored.
    expect(() => parse(['--device_list', 'all'])).toThrow(UsageError);
    // nixlbench's etcd runtime: the roles come from etcd, so no side is named.
    const e = parse(['--etcd_endpoints', 'http://a:2379,http://b:2379', '--benchmark_group', 'g']);
    expect(e.mode).toBe('etcd');
    expect(e.etcd).toEqual({ endpoints: ['http://a:2379', 'http://b:2379'], group: 'g' });
    expect(e.host).toBe('127.0.0.1');
    expect(parse(['--etcd-endpoints', 'http://a', '--address', '10.0.0.2']).host).toBe('10.0.0.2');
    expect(parse(['--etcd-endpoints', 'http://a']).etcd!.group).toBe('default');
    expect(() => parse(['--etcd-endpoints', 'http://a', '--initiator', '--target', 'h:1'])).toThrow(
      /takes no --target-listen/,
    );
    expect(() => parse(['--etcd-endpoints', 'http://a', '--benchmark-group', 'a/b'])).toThrow(
      /--benchmark-group wants/,
    );
    expect(() => parse(['--address', '10.0.0.2'])).toThrow(/go with --etcd-endpoints/);
    expect(() => parse(['--etcd-endpoints', ','])).toThrow(/at least one URL/);
    // Ours pass through untouched.
    expect(fromNixlbenchFlags(['--max-block', '4K', '--op', 'READ'])).toEqual([
      '--max-block',
      '4K',
      '--op',
      'READ',
    ]);
  });

  it('presets expand in front, so later options override them', () => {
    const tcp = parse(['--preset', 'tcp']);
    expect(tcp.sweep.backends).toEqual(['TCP']);
    expect(tcp.sweep.ops).toEqual(['WRITE', 'READ']);
    expect(shapes(tcp)).toEqual([
      '4096x1',
      '65536x1',
      '1048576x1',
      '16777216x1',
      '4096x256',
      '65536x256',
      '1048576x256',
    ]);
    expect(tcp.baselines).toContain('reqresp');
    expect(parse(['--preset', 'tcp', '--op', 'READ']).sweep.ops).toEqual(['READ']);
    const busy = parse(['--preset=tcp-busy-poll']);
    expect(busy.sweep.params).toEqual({ busy_poll_us: '400' });
    const ucx = parse(['--preset', 'ucx']);
    expect(ucx.sweep.params).toEqual({ profile: 'tcp' });
    expect(ucx.baselines).toEqual(['putflush', 'ucx_perftest']);
    expect(regionBytes(ucx.sweep)).toBeLessThanOrEqual(ucx.sweep.totalBuffer);
    expect(() => parse(['--preset', 'fast'])).toThrow(/--preset: unknown 'fast'/);
  });

  it('parses the options of a sweep', () => {
    const o = parseCli([
      '--op',
      'read,write',
      '--start-block',
      '4K',
      '--max-block',
      '32K',
      '--start-batch',
      '2',
      '--max-batch',
      '8',
      '--depth',
      '3',
    ]);
    if (o === 'help') throw new Error('unexpected help');
    expect(o.mode).toBe('local');
    expect(o.sweep.ops).toEqual(['READ', 'WRITE']);
    expect(o.sweep.blockSizes).toEqual([4096, 8192, 16384, 32768]);
    expect(o.sweep.batchSizes).toEqual([2, 4, 8]);
    expect(regionBytes(o.sweep)).toBe(32768 * 8 * 3);
    const t = parseCli(['--target-listen', '[::1]:9000']);
    if (t === 'help') throw new Error('unexpected help');
    expect([t.mode, t.host, t.port]).toEqual(['target', '::1', 9000]);
    expect(() => parseCli(['--batch', '1', '--max-batch', '4'])).toThrow(UsageError);
    expect(() => parseCli(['--initiator'])).toThrow(/needs both --initiator and --target/);
    expect(() => parseCli(['--compare', 'perftest=/bin/true'])).toThrow(/nixlbench=PATH/);
    expect(() => parseCli(['--baselines', 'memcpy,dd'])).toThrow(/unknown 'dd'/);
    expect(() => parseCli(['--iters', '0'])).toThrow(/--iters must be an integer >= 1/);
    expect(parse([]).sweep.warmupMs).toBe(DEFAULT_WARMUP_MS);
    expect(parse(['--warmup-ms', '0']).sweep.warmupMs).toBe(0);
    expect(() => parseCli(['--warmup-ms=-1'])).toThrow(/--warmup-ms must be an integer >= 0/);
  });

  it("reads ucx_perftest's Final row (MB/s are 2^20 B/s)", () => {
    const out = [
      '|    Stage     | # iterations | 50.0%ile | average | overall |  average |  overall |  average  |  overall  |',
      '+--------------+--------------+----------+---------+---------+----------+----------+-----------+-----------+',
      'Final:                   200     27.449   474.141   474.141      131.82     131.82        2109        2109',
    ].join('\n');
    const r = parseUcxPerftest(out)!;
    expect(r.gbps).toBeCloseTo((131.82 * 1048576) / 1e9, 9);
    expect(r.avgUs).toBeCloseTo(474.141, 9);
    expect(parseUcxPerftest('connection refused')).toBeUndefined();
  });

  it("reads nixlbench's table, two-rank and wide forms", () => {
    const pad = (cells: (string | number)[], w: number[]) =>
      cells.map((c, i) => String(c).padEnd(w[i]!)).join('');
    const w = [20, 15, 15, 15, 15, 15, 15, 15, 15, 15];
    const out = [
      'some log line',
      pad(
        [
          'Block Size (B)',
          'Batch Size',
          'B/W (GB/Sec)',
          'Avg Lat. (us)',
          'Avg Prep (us)',
          'P99 Prep (us)',
          'Avg Post (us)',
          'P99 Post (us)',
          'Avg Tx (us)',
          'P99 Tx (us)',
        ],
        w,
      ),
      '-'.repeat(160),
      pad([4096, 1, 0.131, 31.2, 12, 40, 3.1, 9, 30.1, 60], w),
      pad([1048576, 1, 2.62, 401.0, 12, 40, 3.1, 9, 399.5, 700], w),
    ].join('\n');
    expect(parseNixlbench(out)).toEqual([
      { blockSize: 4096, batch: 1, gbps: 0.131, avgLatUs: 31.2 },
      { blockSize: 1048576, batch: 1, gbps: 2.62, avgLatUs: 401 },
    ]);
    const wide = [
      'Block Size (B)      Batch Size     B/W (GB/Sec)   Aggregate B/W (GB/Sec)   Network Util (%)    Avg Lat. (us)',
      '4096 4 0.5 1.5 12.5 8.2 1 2 3 4 5 6',
    ].join('\n');
    expect(parseNixlbench(wide)).toEqual([{ blockSize: 4096, batch: 4, gbps: 0.5, avgLatUs: 8.2 }]);
    const o = parseCli(['--op', 'READ', '--prepared', '--check']);
    if (o === 'help') throw new Error('unexpected help');
    const args = nixlbenchArgs(o.sweep, 'READ', 1, 12345, 'UCX');
    expect(args.join(' ')).toContain(
      '--runtime_type ASIO --asio_address 127.0.0.1 --asio_port 12345',
    );
    expect(args).toContain('--prepared_xfer');
    expect(args).toContain('--check_consistency');
  });

  it('the pattern check names the first differing byte', () => {
    const mem = new Uint8Array(5000);
    fillPattern(mem, 42);
    expect(verifyPattern(mem, 42)).toBeUndefined();
    // Another cell's seed does not pass for this one.
    expect(verifyPattern(mem, 43)!.count).toBeGreaterThan(4000);
    mem[1234] ^= 1;
    mem[4000] ^= 0x80;
    const m = verifyPattern(mem, 42)!;
    expect([m.count, m.offset, m.actual ^ m.expected]).toEqual([2, 1234, 1]);
    expect(describeMismatch(m)).toMatch(
      /^2 byte\(s\) differ; first at offset 1234: expected 0x[0-9a-f]{2}, found 0x[0-9a-f]{2}$/,
    );
  });

  it('the pattern check catches a block at the wrong place and a stale block, across chunks and alignments', () => {
    const block = 4096;
    const area = new Uint8Array(1 + 64 * block + 3).subarray(1); // unaligned, not whole words
    fillPattern(area, 7919);
    expect(verifyPattern(area, 7919)).toBeUndefined();
    // The same bytes through an aligned copy.
    expect(verifyPattern(new Uint8Array(area), 7919)).toBeUndefined();
    // Block 40 lands at block 20's place (past the first 64 KiB chunk).
    const moved = new Uint8Array(area);
    moved.copyWithin(20 * block, 40 * block, 41 * block);
    expect(verifyPattern(moved, 7919)!.offset).toBe(20 * block);
    // Block 30 left from the previous cell (its seed, the same place).
    const next = new Uint8Array(area.length);
    fillPattern(next, 2 * 7919);
    next.set(area.subarray(30 * block, 31 * block), 30 * block);
    const m = verifyPattern(next, 2 * 7919)!;
    expect(m.offset).toBe(30 * block);
    expect(m.count).toBeGreaterThan(block * 0.9);
    expect(m.count).toBeLessThanOrEqual(block);
    // The last byte (in the tail after the last whole word).
    const tail = new Uint8Array(area);
    tail[tail.length - 1] ^= 0x10;
    expect(verifyPattern(tail, 7919)).toMatchObject({ count: 1, offset: tail.length - 1 });
  });

  it('p99 is the nearest-rank percentile', () => {
    const s = summarize(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(s.avg).toBeCloseTo(100.5, 9);
    expect(s.p99).toBe(198);
    expect(summarize([7])).toEqual({ avg: 7, p99: 7 });
  });
});
