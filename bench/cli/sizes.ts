/** Byte-size parsing and formatting for the CLI ("4K", "16MiB", "1g" are all accepted). */

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** Parses a byte count; binary units (K = 1024). Returns undefined when malformed. */
export function parseBytes(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return undefined;
  const unit = UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const v = Number(m[1]) * unit;
  return Number.isSafeInteger(v) ? v : undefined;
}

/** 4096 → "4K", 16777216 → "16M", 1000 → "1000". */
export function formatBytes(n: number): string {
  for (const [suffix, unit] of [
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (n >= unit && n % unit === 0) return `${n / unit}${suffix}`;
  }
  return String(n);
}

/** start, 2·start, 4·start, … up to max (inclusive). */
export function doublings(start: number, max: number): number[] {
  const out: number[] = [];
  for (let v = start; v <= max; v *= 2) out.push(v);
  return out;
}
