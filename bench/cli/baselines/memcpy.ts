import { loadAddon, native } from '../../../src/native.js';

interface MemcpyBench {
  memcpyBench(dst: Buffer, src: Buffer, block: number, blocks: number, rounds: number): number;
}

/** Largest batch area copied; larger cells copy their first blocks (the rate is what counts). */
const MAX_AREA = 256 * 1024 * 1024;

/**
 * Single-thread memcpy of one batch (batch blocks of blockSize bytes, laid out
 * as the transfer lays them out), repeated for about targetMs. GB/s (1e9 B/s).
 */
export function memcpyGbps(blockSize: number, batch: number, targetMs = 80): number {
  const bench = loadAddon('nixl_bench') as unknown as MemcpyBench;
  const blocks = Math.max(1, Math.min(batch, Math.floor(MAX_AREA / blockSize)));
  const area = blocks * blockSize;
  const src = native().alloc(area);
  const dst = native().alloc(area);
  src.fill(0x5a); // touch every page first: first-touch faults are not memcpy
  dst.fill(0xa5);
  let rounds = 1;
  let ns = bench.memcpyBench(dst, src, blockSize, blocks, rounds);
  // Grow the round count until one measurement lasts targetMs.
  while (ns < targetMs * 1e6 && rounds < 1e9) {
    rounds = Math.max(rounds * 2, Math.ceil((rounds * targetMs * 1e6) / Math.max(ns, 1)));
    ns = bench.memcpyBench(dst, src, blockSize, blocks, rounds);
  }
  return (rounds * area) / ns;
}
