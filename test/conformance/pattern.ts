import { createHash } from 'node:crypto';

/** Deterministic bytes for a seed (xorshift32), so two processes agree without sending them. */
export function fillPattern(target: Uint8Array, seed: number): void {
  let x = seed >>> 0 || 0x9e3779b9;
  const words = Math.floor(target.byteLength / 4);
  const u32 = new Uint32Array(
    target.buffer,
    target.byteOffset,
    target.byteOffset % 4 === 0 ? words : 0,
  );
  if (u32.length === words) {
    for (let i = 0; i < words; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      u32[i] = x >>> 0;
    }
    for (let i = words * 4; i < target.byteLength; i++)
      target[i] = (x = (x * 1103515245 + 12345) >>> 0) & 0xff;
    return;
  }
  for (let i = 0; i < target.byteLength; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    target[i] = x & 0xff;
  }
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
