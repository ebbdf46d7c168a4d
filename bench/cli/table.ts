import type { BaselineName } from './options.js';
import type { CellResult } from './results.js';
import { formatBytes } from './sizes.js';

const REF_LABEL: Record<string, string> = {
  iperf3: 'vs iperf3',
  reqresp: 'vs C req/resp',
  net: 'vs Node net',
  memcpy: 'vs cold memcpy',
  vmcopy: 'vs C vm copy',
  putflush: 'vs C put+flush',
  ucx_perftest: 'vs ucx_perftest (streamed)',
  nixlbench: 'vs nixlbench',
};
const REF_ORDER = Object.keys(REF_LABEL);

function num(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '-';
}

function us(v: number): string {
  if (!Number.isFinite(v)) return '-';
  return v >= 1000 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function ratio(r: { ratio: number } | undefined): string {
  if (!r || !Number.isFinite(r.ratio)) return '-';
  return `${r.ratio >= 1 ? r.ratio.toFixed(2) : r.ratio.toPrecision(2)}x`;
}

function render(header: string[], rows: string[][], leftColumns = 2): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** References present in any cell, in a fixed order. */
export function referenceColumns(cells: CellResult[]): string[] {
  const names = new Set<string>();
  for (const c of cells) {
    for (const k of Object.keys(c.baselines)) names.add(k);
    for (const k of Object.keys(c.compare)) names.add(k);
  }
  return REF_ORDER.filter((n) => names.has(n));
}

function reference(c: CellResult, name: string) {
  return name === 'nixlbench' ? c.compare.nixlbench : c.baselines[name as BaselineName];
}

/**
 * nixlbench's columns, the path the cell took, the target's event-loop use,
 * the poll loop's yields (when any), the check, and a ratio per reference.
 */
export function cellTable(cells: CellResult[]): string {
  const refs = referenceColumns(cells);
  const check = cells.some((c) => c.check !== 'off');
  const repeats = cells.some((c) => c.repeats !== undefined);
  const yields = cells.some((c) => c.yields > 0);
  const header = [
    'Block Size (B)',
    'Batch Size',
    'B/W (GB/Sec)',
    'Avg Lat. (us)',
    'Avg Prep (us)',
    'P99 Prep (us)',
    'Avg Post (us)',
    'P99 Post (us)',
    'Avg Tx (us)',
    'P99 Tx (us)',
    'Path',
    'Target ELU',
    ...(yields ? ['Yields'] : []),
    ...(repeats ? ['B/W of each run'] : []),
    ...(check ? ['Check'] : []),
    ...refs.map((r) => REF_LABEL[r]!),
  ];
  const rows = cells.map((c) => [
    String(c.blockSize),
    String(c.batch),
    num(c.gbps, 3),
    us(c.avgLatUs),
    us(c.prep.avg),
    us(c.prep.p99),
    us(c.post.avg),
    us(c.post.p99),
    us(c.tx.avg),
    us(c.tx.p99),
    c.path,
    Number.isFinite(c.targetElu) ? `${(c.targetElu * 100).toFixed(1)}%` : '-',
    ...(yields ? [String(c.yields)] : []),
    ...(repeats ? [(c.repeats ?? [c.gbps]).map((g) => num(g, 2)).join(' ')] : []),
    ...(check ? [c.check === 'passed' ? 'ok' : c.check === 'off' ? '-' : 'FAILED'] : []),
    ...refs.map((r) => ratio(reference(c, r))),
  ]);
  // Left-aligned: block, batch; the path column too.
  return render(header, rows, 2);
}

/**
 * The references' own bandwidth per path, op and cell (GB/s), so the ratios
 * can be read back; a '-' where a reference is not that path's floor.
 */
export function referenceTable(cells: CellResult[]): string | undefined {
  const refs = referenceColumns(cells);
  if (refs.length === 0) return undefined;
  const seen = new Set<string>();
  const rows: string[][] = [];
  for (const c of cells) {
    const key = `${c.path}:${c.op}:${c.blockSize}:${c.batch}`;
    if (seen.has(key) || referenceColumns([c]).length === 0) continue;
    seen.add(key);
    rows.push([
      c.path,
      c.op,
      formatBytes(c.blockSize),
      String(c.batch),
      ...refs.map((r) => num(reference(c, r)?.gbps ?? NaN, 3)),
    ]);
  }
  return render(['Path', 'Op', 'Block', 'Batch', ...refs.map((r) => `${r} GB/s`)], rows, 4);
}

/** The notes attached to references (what differs from the cell, failures), once each. */
export function referenceNotes(cells: CellResult[]): string[] {
  const notes = new Set<string>();
  for (const c of cells) {
    for (const r of referenceColumns([c])) {
      const note = reference(c, r)?.note;
      if (note) notes.add(`${r}: ${note}`);
    }
  }
  return [...notes];
}
