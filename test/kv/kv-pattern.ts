import type { KvCache } from '../../src/kv/index.js';

/** A 32-bit seed per (seed, layer, plane, block): every slice of every request differs. */
function sliceSeed(seed: number, layer: number, plane: number, block: number): number {
  let h = (seed * 0x9e3779b1) ^ (layer * 0x85ebca6b) ^ (plane * 0xc2b2ae35) ^ (block * 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return (h ^ (h >>> 12)) >>> 0;
}

function words(v: Uint8Array): Uint32Array {
  return new Uint32Array(v.buffer, v.byteOffset, v.byteLength >>> 2);
}

/** Fills the slices of the given blocks with the pattern of (seed, layer, plane, patternBlock). */
export function fillBlocks(
  cache: KvCache,
  blocks: ArrayLike<number>,
  seed: number,
  patternBlocks: ArrayLike<number> = blocks,
): void {
  const { layers, planes } = cache.layout;
  for (let k = 0; k < blocks.length; k++) {
    for (let l = 0; l < layers; l++) {
      for (let p = 0; p < planes; p++) {
        const w = words(cache.sliceView(l, p, blocks[k]!));
        const s = sliceSeed(seed, l, p, patternBlocks[k]!);
        for (let i = 0; i < w.length; i++) w[i] = (s + Math.imul(i, 0x01000193)) >>> 0;
      }
    }
  }
}

/** Checks that local blocks hold the pattern of the peer's blocks; returns the first mismatch or undefined. */
export function checkBlocks(
  cache: KvCache,
  blocks: ArrayLike<number>,
  seed: number,
  patternBlocks: ArrayLike<number>,
): string | undefined {
  const { layers, planes } = cache.layout;
  for (let k = 0; k < blocks.length; k++) {
    for (let l = 0; l < layers; l++) {
      for (let p = 0; p < planes; p++) {
        const w = words(cache.sliceView(l, p, blocks[k]!));
        const s = sliceSeed(seed, l, p, patternBlocks[k]!);
        for (let i = 0; i < w.length; i++) {
          if (w[i] !== (s + Math.imul(i, 0x01000193)) >>> 0)
            return `block ${blocks[k]} (from ${patternBlocks[k]}) layer ${l} plane ${p} word ${i}`;
        }
      }
    }
  }
  return undefined;
}
