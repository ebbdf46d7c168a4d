import { execFileSync } from 'node:child_process';

import { loadAddon, native } from '../../../src/native.js';

interface MemcpyBench {
  memcpyBench(dst: Buffer, src: Buffer, block: number, blocks: number, rounds: number): number;
}

const MIB = 1024 * 1024;

/** The last-level cache getconf reports (bytes), or 0 when it says nothing. */
function lastLevelCache(): number {
  for (const name of ['LEVEL4_CACHE_SIZE', 'LEVEL3_CACHE_SIZE', 'LEVEL2_CACHE_SIZE']) {
    try {
      const v = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
      if (v > 0) return v;
    } catch {
      // not on this system
    }
  }
  return 0;
}

/**
 * The area the copies walk: twice the last-level cache, at least 256 MiB (on
 * this 2-vCPU VM the rate stops falling from 128 MiB), at most 1 GiB.
 */
export function coldAreaBytes(): number {
  return Math.min(1024 * MIB, Math.max(256 * MIB, 2 * lastLevelCache()));
}

let buffers: { src: Buffer; dst: Buffer } | undefined;

/**
 * Single-thread memcpy of blocks of blockSize bytes, one after the other
 * through an area larger than the last-level cache (coldAreaBytes), so every
 * block comes from and goes to memory as a transfer's does; GB/s (1e9 B/s).
 * The buffers are made (and touched) once and kept for the run.
 */
export function coldMemcpyGbps(blockSize: number, targetMs = 100): number {
  const bench = loadAddon('nixl_bench') as unknown as MemcpyBench;
  const area = coldAreaBytes();
  if (!buffers) {
    buffers = { src: native().alloc(area), dst: native().alloc(area) };
    buffers.src.fill(0x5a); // first-touch faults are not memcpy
    buffers.dst.fill(0xa5);
  }
  const blocks = Math.max(1, Math.floor(area / blockSize));
  const bytes = blocks * blockSize;
  // One pass warms nothing (the area is over the cache) but takes the first-call costs.
  let passes = 1;
  let ns = bench.memcpyBench(buffers.dst, buffers.src, blockSize, blocks, passes);
  while (ns < targetMs * 1e6 && passes < 64) {
    passes *= 2;
    ns = bench.memcpyBench(buffers.dst, buffers.src, blockSize, blocks, passes);
  }
  return (passes * bytes) / ns;
}
