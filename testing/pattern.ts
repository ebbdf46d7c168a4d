import { createHash } from 'node:crypto';

import type { KvCache } from '../src/kv/index.js';

/**
 * The one source of deterministic test bytes: the conformance suite, the
 * integration peers, nixl-ts-bench's consistency check, the KV tests and the
 * disaggregated example all fill and check memory with this pattern. It must
 * not import vitest: the bench and the examples ship it.
 *
 * The bytes are a stream from a seed (xorshift32 words, little-endian, then an
 * LCG for the tail), so two processes agree without sending them, and a byte's
 * value depends on its position as well as the seed: a block that lands at the
 * wrong place, a stale block written with another seed and a flipped byte all
 * show up. The bytes are the same whatever the view's alignment.
 */

function startState(seed: number): number {
  return seed >>> 0 || 0x9e3779b9;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** One xorshift32 step. */
function next(x: number): number {
  x ^= x << 13;
  x ^= x >>> 17;
  return x ^ (x << 5);
}

/** Fills the whole words of `target` continuing from state `x`; returns the state after them. */
function fillWords(target: Uint8Array, x: number): number {
  const words = Math.floor(target.byteLength / 4);
  if (LITTLE_ENDIAN && target.byteOffset % 4 === 0) {
    // The fast path: whole words at once.
    const u32 = new Uint32Array(target.buffer, target.byteOffset, words);
    for (let i = 0; i < words; i++) u32[i] = x = next(x);
    return x;
  }
  for (let i = 0; i < words; i++) {
    x = next(x);
    const o = i * 4;
    target[o] = x & 0xff;
    target[o + 1] = (x >>> 8) & 0xff;
    target[o + 2] = (x >>> 16) & 0xff;
    target[o + 3] = x >>> 24;
  }
  return x;
}

/** Fills the bytes after the last whole word of `target`, continuing from state `x`. */
function fillTail(target: Uint8Array, x: number): void {
  for (let i = target.byteLength - (target.byteLength % 4); i < target.byteLength; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    target[i] = x & 0xff;
  }
}

/**
 * Integers below `n` from a seed (xorshift32, the same steps as the bytes):
 * a test's random sizes and offsets, the same in every run, so a failure can
 * be replayed.
 */
export function seededInts(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x = next(x) >>> 0;
    return x % Math.max(1, n);
  };
}

/** Fills `target` with the pattern of `seed`. */
export function fillPattern(target: Uint8Array, seed: number): void {
  fillTail(target, fillWords(target, startState(seed)));
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Where `bytes` differ from the pattern. */
export interface PatternMismatch {
  /** How many bytes differ. */
  count: number;
  /** The first differing byte: its offset in the checked bytes, expected and found values. */
  offset: number;
  expected: number;
  actual: number;
}

/** The pattern is regenerated in chunks of this many bytes (a multiple of 4), into one scratch buffer. */
const VERIFY_CHUNK = 1 << 16;
let scratch: Buffer | undefined;

/**
 * Checks that `bytes` hold fillPattern(·, seed) of the same length: undefined
 * if they do, else how many bytes differ and the first. It regenerates the
 * pattern a chunk at a time, never a copy of `bytes`.
 */
export function verifyPattern(bytes: Uint8Array, seed: number): PatternMismatch | undefined {
  const len = bytes.byteLength;
  const want = (scratch ??= Buffer.allocUnsafe(VERIFY_CHUNK));
  let x = startState(seed);
  let first: PatternMismatch | undefined;
  let count = 0;
  for (let at = 0; at < len; at += VERIFY_CHUNK) {
    const n = Math.min(VERIFY_CHUNK, len - at);
    const expected = want.subarray(0, n);
    x = fillWords(expected, x);
    if (at + n === len) fillTail(expected, x);
    const got = Buffer.from(bytes.buffer, bytes.byteOffset + at, n);
    if (got.equals(expected)) continue;
    for (let i = 0; i < n; i++) {
      if (got[i] !== expected[i]) {
        count++;
        first ??= { count: 0, offset: at + i, expected: expected[i]!, actual: got[i]! };
      }
    }
  }
  if (!first) return undefined;
  first.count = count;
  return first;
}

export function describeMismatch(m: PatternMismatch): string {
  const hex = (b: number) => `0x${b.toString(16).padStart(2, '0')}`;
  return `${m.count} byte(s) differ; first at offset ${m.offset}: expected ${hex(m.expected)}, found ${hex(m.actual)}`;
}

/** What the KV pattern needs of a KvCache: its shape and its (layer, plane, block) slices. */
export type KvSlices = Pick<KvCache, 'layout' | 'sliceView'>;

/** A 32-bit seed per (seed, key, layer, plane): every slice of every block and seed differs. */
function kvSliceSeed(seed: number, key: number, layer: number, plane: number): number {
  let h = Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(key + 1, 0x85ebca6b);
  h ^= Math.imul(layer + 1, 0xc2b2ae35) ^ Math.imul(plane + 1, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return (h ^ (h >>> 12)) >>> 0;
}

/**
 * Fills every (layer, plane) slice of the given blocks with the pattern of
 * (seed, key, layer, plane), where block `blocks[k]` takes key `keys[k]`
 * (by default the block itself). A reader that copies the blocks elsewhere
 * checks its copies with verifyKvBlocks(cache, itsBlocks, seed, theSourceBlocks).
 */
export function fillKvBlocks(
  cache: KvSlices,
  blocks: ArrayLike<number>,
  seed: number,
  keys: ArrayLike<number> = blocks,
): void {
  const { layers, planes } = cache.layout;
  for (let k = 0; k < blocks.length; k++)
    for (let l = 0; l < layers; l++)
      for (let p = 0; p < planes; p++)
        fillPattern(cache.sliceView(l, p, blocks[k]!), kvSliceSeed(seed, keys[k]!, l, p));
}

/**
 * Checks that the given blocks hold the pattern fillKvBlocks wrote with `seed`
 * into blocks `keys` (by default the same blocks); returns where the first
 * difference is, or undefined.
 */
export function verifyKvBlocks(
  cache: KvSlices,
  blocks: ArrayLike<number>,
  seed: number,
  keys: ArrayLike<number> = blocks,
): string | undefined {
  const { layers, planes } = cache.layout;
  for (let k = 0; k < blocks.length; k++)
    for (let l = 0; l < layers; l++)
      for (let p = 0; p < planes; p++) {
        const bad = verifyPattern(
          cache.sliceView(l, p, blocks[k]!),
          kvSliceSeed(seed, keys[k]!, l, p),
        );
        if (bad) {
          return `block ${blocks[k]} (pattern of block ${keys[k]}, seed ${seed}) layer ${l} plane ${p}: ${describeMismatch(bad)}`;
        }
      }
  return undefined;
}
