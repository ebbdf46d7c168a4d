import { createHash } from 'node:crypto';

/**
 * Deterministic bytes for a seed (xorshift32 words, little-endian, then an LCG
 * for the tail), so two processes agree without sending them. The bytes are
 * the same whatever the view's alignment.
 */
export function fillPattern(target: Uint8Array, seed: number): void {
  let x = seed >>> 0 || 0x9e3779b9;
  const words = Math.floor(target.byteLength / 4);
  const aligned = target.byteOffset % 4 === 0;
  const u32 = aligned ? new Uint32Array(target.buffer, target.byteOffset, words) : undefined;
  const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  for (let i = 0; i < words; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const w = x >>> 0;
    if (u32 && littleEndian) u32[i] = w;
    else {
      const o = i * 4;
      target[o] = w & 0xff;
      target[o + 1] = (w >>> 8) & 0xff;
      target[o + 2] = (w >>> 16) & 0xff;
      target[o + 3] = w >>> 24;
    }
  }
  for (let i = words * 4; i < target.byteLength; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    target[i] = x & 0xff;
  }
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
