/** Summary statistics over samples in microseconds. */
export interface Summary {
  avg: number;
  p99: number;
}

export function summarize(samples: Float64Array | number[], count = samples.length): Summary {
  if (count === 0) return { avg: NaN, p99: NaN };
  const s = Float64Array.from(samples.slice(0, count)).sort();
  let sum = 0;
  for (const v of s) sum += v;
  // Nearest-rank p99, as nixlbench reports it.
  const rank = Math.min(count - 1, Math.max(0, Math.ceil(0.99 * count) - 1));
  return { avg: sum / count, p99: s[rank]! };
}
