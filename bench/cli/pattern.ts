/**
 * The consistency check's byte pattern: a function of the byte's offset in
 * the benchmark area and a per-cell seed, so a block that lands at the wrong
 * place, a stale block from an earlier cell and a flipped byte all show up.
 */
function patternByte(offset: number, seed: number): number {
  return Math.imul(offset + seed, 0x9e3779b1) >>> 24;
}

export function fillPattern(mem: Uint8Array, len: number, seed: number): void {
  for (let i = 0; i < len; i++) mem[i] = patternByte(i, seed);
}

export interface PatternMismatch {
  /** How many bytes differ. */
  count: number;
  /** The first differing byte: its offset in the area, expected and found values. */
  offset: number;
  expected: number;
  actual: number;
}

/** Undefined when the first len bytes hold the pattern. */
export function verifyPattern(
  mem: Uint8Array,
  len: number,
  seed: number,
): PatternMismatch | undefined {
  let first: PatternMismatch | undefined;
  let count = 0;
  for (let i = 0; i < len; i++) {
    const want = patternByte(i, seed);
    if (mem[i] !== want) {
      count++;
      first ??= { count: 0, offset: i, expected: want, actual: mem[i]! };
    }
  }
  if (!first) return undefined;
  first.count = count;
  return first;
}

export function describeMismatch(m: PatternMismatch): string {
  return (
    `${m.count} byte(s) differ; first at offset ${m.offset}: ` +
    `expected 0x${m.expected.toString(16).padStart(2, '0')}, found 0x${m.actual.toString(16).padStart(2, '0')}`
  );
}
