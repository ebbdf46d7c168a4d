/** Whether a[aStart, aEnd) and b[bStart, bEnd) hold the same bytes. */
export function rangesEqual(
  a: Uint8Array,
  aStart: number,
  aEnd: number,
  b: Uint8Array,
  bStart: number,
  bEnd: number,
): boolean {
  if (aEnd - aStart !== bEnd - bStart) return false;
  for (let x = 0; x < aEnd - aStart; x++) if (a[aStart + x] !== b[bStart + x]) return false;
  return true;
}
