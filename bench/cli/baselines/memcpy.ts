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
 * The area the copies walk: past the last-level cache getconf reports (by 32
 * MiB), at least 256 MiB (on the 2-vCPU dev VM the rate stops falling from
 * 128 MiB), at most 1 GiB. Two of them are allocated, once per run.
 */
export function coldAreaBytes(): number {
  return Math.min(1024 * MIB, Math.max(256 * MIB, lastLevelCache() + 32 * MIB));
}

let buffers: { src: Buffer; dst: Buffer } | undefined;

/**
 * Single-thread memcpy of blocks of blockSize bytes, one after the other
 * through an area larger than the last-level cache (coldAreaBytes), so every
 * block comes from and goes to memory as a transfer's does; GB/s (1e9 B/s).
 * The fastest of `tries` passes over the area (a floor is what the machine
 * can do; a shared VM's slow passes are its neighbours). The buffers are made
 * (and touched) once and kept for the run.
 */
export function coldMemcpyGbps(blockSize: number, tries = 3): number {
  const bench = loadAddon('nixl_bench') as unknown as MemcpyBench;
  const area = coldAreaBytes();
  if (!buffers) {
    buffers = { src: native().alloc(area), dst: native().alloc(area) };
    buffers.src.fill(0x5a); // first-touch faults are not memcpy
    buffers.dst.fill(0xa5);
  }
  const blocks = Math.max(1, Math.floor(area / blockSize));
  let best = Infinity;
  for (let i = 0; i < tries; i++) {
    best = Math.min(best, bench.memcpyBench(buffers.dst, buffers.src, blockSize, blocks, 1));
  }
  return (blocks * blockSize) / best;
}
