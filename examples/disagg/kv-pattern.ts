import type { KvCache } from '../../src/kv/index.js';

/**
 * Synthetic, deterministic KV data: the content of block `index` of request
 * `request` depends only on (request, index, layer, plane), so the decode
 * side can check every byte it received without asking the prefill side.
 */
function seedOf(request: number, index: number, layer: number, plane: number): number {
  let h = Math.imul(request + 1, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b);
  h ^= Math.imul(layer + 1, 0xc2b2ae35) ^ Math.imul(plane + 1, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return (h ^ (h >>> 12)) >>> 0;
}

function words(v: Uint8Array): Uint32Array {
  return new Uint32Array(v.buffer, v.byteOffset, v.byteLength >>> 2);
}

/** xorshift32: cheap, and every word differs. */
function nextWord(x: number): number {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}

/** Every (block #k, layer, plane) slice of a request's blocks, with its words and seed. */
function* slices(cache: KvCache, request: number, blocks: ArrayLike<number>) {
  const { layers, planes } = cache.layout;
  for (let k = 0; k < blocks.length; k++)
    for (let l = 0; l < layers; l++)
      for (let p = 0; p < planes; p++) {
        const w = words(cache.sliceView(l, p, blocks[k]!));
        yield { w, seed: seedOf(request, k, l, p), k, l, p };
      }
}

/** Writes request `request`'s KV into the given blocks (block k holds the request's k-th block). */
export function fillRequest(cache: KvCache, request: number, blocks: ArrayLike<number>): void {
  for (const { w, seed } of slices(cache, request, blocks)) {
    let x = seed;
    for (let i = 0; i < w.length; i++) w[i] = x = nextWord(x);
  }
}

/** Checks every byte of a request's blocks; returns where the first difference is, or undefined. */
export function verifyRequest(
  cache: KvCache,
  request: number,
  blocks: ArrayLike<number>,
): string | undefined {
  for (const { w, seed, k, l, p } of slices(cache, request, blocks)) {
    let x = seed;
    for (let i = 0; i < w.length; i++) {
      x = nextWord(x);
      if (w[i] !== x) return `request ${request} block #${k} layer ${l} plane ${p} byte ${i * 4}`;
    }
  }
  return undefined;
}
