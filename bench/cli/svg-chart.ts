import type { BaselineName } from './options.js';
import type { CellResult } from './results.js';
import { formatBytes } from './sizes.js';

/** One line of the chart: points (block size, value), solid for nixl-ts, dashed for references. */
interface Series {
  label: string;
  color: string;
  dashed: boolean;
  bw: [number, number][];
  lat: [number, number][];
}

const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#9467bd',
  '#ff7f0e',
  '#8c564b',
  '#e377c2',
  '#17becf',
];
const REF_COLORS: Record<string, string> = {
  iperf3: '#a0522d',
  reqresp: '#7f7f7f',
  net: '#bcbd22',
  memcpy: '#555555',
  vmcopy: '#2f4f4f',
  putflush: '#6b8e23',
  ucx_perftest: '#17becf',
  nixlbench: '#e377c2',
};
/** References that depend on the op (the others depend on the block size alone). */
const PER_OP = new Set(['reqresp', 'vmcopy', 'putflush', 'ucx_perftest', 'nixlbench']);

function escapeXml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** The series of a report: one per backend, path, op and batch; references for the first batch size. */
export function chartSeries(cells: CellResult[]): Series[] {
  const out = new Map<string, Series>();
  const batches = [...new Set(cells.map((c) => c.batch))];
  const firstBatch = batches[0];
  let color = 0;
  const get = (key: string, label: string, c: string, dashed: boolean): Series => {
    let s = out.get(key);
    if (!s) {
      s = { label, color: c, dashed, bw: [], lat: [] };
      out.set(key, s);
    }
    return s;
  };
  for (const c of cells) {
    const label = `${c.backend} ${c.path} ${c.op}${batches.length > 1 ? ` batch ${c.batch}` : ''}`;
    const s = get(`cell:${label}`, label, '', false);
    if (!s.color) s.color = PALETTE[color++ % PALETTE.length]!;
    if (Number.isFinite(c.gbps)) s.bw.push([c.blockSize, c.gbps]);
    if (Number.isFinite(c.avgLatUs)) s.lat.push([c.blockSize, c.avgLatUs]);
  }
  for (const c of cells) {
    if (c.batch !== firstBatch) continue;
    const refs: [string, { gbps: number; avgLatUs?: number } | undefined][] = [
      ...(Object.keys(c.baselines) as BaselineName[]).map(
        (k) => [k, c.baselines[k]] as [string, { gbps: number; avgLatUs?: number } | undefined],
      ),
      ['nixlbench', c.compare.nixlbench],
    ];
    for (const [name, ref] of refs) {
      if (!ref) continue;
      const label = PER_OP.has(name) ? `${name} ${c.op}` : name;
      const s = get(`ref:${label}`, label, REF_COLORS[name] ?? '#999999', true);
      if (s.bw.some(([b]) => b === c.blockSize)) continue;
      if (Number.isFinite(ref.gbps)) s.bw.push([c.blockSize, ref.gbps]);
      // nixlbench reports its latency; for the others, the time one block takes at their rate.
      const lat = ref.avgLatUs ?? c.blockSize / (ref.gbps * 1e3);
      if (Number.isFinite(lat)) s.lat.push([c.blockSize, lat]);
    }
  }
  for (const s of out.values()) {
    s.bw.sort((a, b) => a[0] - b[0]);
    s.lat.sort((a, b) => a[0] - b[0]);
  }
  return [...out.values()];
}

interface Panel {
  x: number;
  y: number;
  w: number;
  h: number;
  title: string;
  unit: string;
  pick: (s: Series) => [number, number][];
}

/** Powers of ten covering [lo, hi] on a log axis. */
function decades(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

function fmtTick(v: number): string {
  if (v >= 1000) return `${v / 1000}k`;
  return v >= 1 ? String(v) : String(Number(v.toPrecision(1)));
}

function panel(p: Panel, series: Series[], xs: number[]): string {
  const pts = series
    .flatMap((s) => p.pick(s))
    .map(([, v]) => v)
    .filter((v) => v > 0);
  if (pts.length === 0) return '';
  const ticks = decades(Math.min(...pts), Math.max(...pts));
  const yLo = Math.log10(ticks[0]!);
  const yHi = Math.log10(ticks[ticks.length - 1]!);
  const xLo = Math.log2(Math.min(...xs));
  const xHi = Math.log2(Math.max(...xs));
  const sx = (b: number) =>
    p.x + (xHi === xLo ? p.w / 2 : ((Math.log2(b) - xLo) / (xHi - xLo)) * p.w);
  const sy = (v: number) => p.y + p.h - ((Math.log10(v) - yLo) / Math.max(yHi - yLo, 1e-9)) * p.h;
  const parts: string[] = [];
  parts.push(
    `<text x="${p.x + p.w / 2}" y="${p.y - 12}" text-anchor="middle" class="title">${escapeXml(p.title)}</text>`,
  );
  parts.push(`<rect x="${p.x}" y="${p.y}" width="${p.w}" height="${p.h}" class="frame"/>`);
  for (const t of ticks) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${p.x}" y1="${y}" x2="${p.x + p.w}" y2="${y}" class="grid"/>`);
    parts.push(
      `<text x="${p.x - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmtTick(t)}</text>`,
    );
  }
  // Label every block size while they fit, every other one past eight.
  const labelEvery = xs.length > 8 ? 2 : 1;
  xs.forEach((b, i) => {
    const x = sx(b).toFixed(1);
    parts.push(`<line x1="${x}" y1="${p.y}" x2="${x}" y2="${p.y + p.h}" class="grid"/>`);
    if (i % labelEvery === 0) {
      parts.push(
        `<text x="${x}" y="${p.y + p.h + 16}" text-anchor="middle">${formatBytes(b)}</text>`,
      );
    }
  });
  parts.push(
    `<text x="${p.x + p.w / 2}" y="${p.y + p.h + 36}" text-anchor="middle">block size (bytes)</text>`,
  );
  parts.push(
    `<text transform="translate(${p.x - 44},${p.y + p.h / 2}) rotate(-90)" text-anchor="middle">${escapeXml(p.unit)}</text>`,
  );
  for (const s of series) {
    const data = p.pick(s).filter(([, v]) => v > 0);
    if (data.length === 0) continue;
    const d = data
      .map(([b, v], i) => `${i ? 'L' : 'M'}${sx(b).toFixed(1)},${sy(v).toFixed(1)}`)
      .join(' ');
    parts.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.dashed ? 1.5 : 2.5}"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    if (!s.dashed) {
      for (const [b, v] of data) {
        parts.push(
          `<circle cx="${sx(b).toFixed(1)}" cy="${sy(v).toFixed(1)}" r="3" fill="${s.color}"/>`,
        );
      }
    }
  }
  return parts.join('\n');
}

/** A self-contained SVG: bandwidth and latency against block size, per backend and op. */
export function renderChart(cells: CellResult[], subtitle: string): string {
  const series = chartSeries(cells);
  const xs = [...new Set(cells.map((c) => c.blockSize))].sort((a, b) => a - b);
  const W = 1000;
  const legendRows = Math.ceil(series.length / 3);
  const H = 430 + legendRows * 20;
  const common = { y: 70, w: 390, h: 280 };
  const body = [
    panel(
      { ...common, x: 80, title: 'Bandwidth', unit: 'GB/s (1e9 B/s, log)', pick: (s) => s.bw },
      series,
      xs,
    ),
    panel(
      {
        ...common,
        x: 580,
        title: 'Time per block (avg latency)',
        unit: 'µs (log)',
        pick: (s) => s.lat,
      },
      series,
      xs,
    ),
  ];
  const legend = series.map((s, i) => {
    const x = 80 + (i % 3) * 300;
    const y = 410 + Math.floor(i / 3) * 20;
    return (
      `<line x1="${x}" y1="${y}" x2="${x + 28}" y2="${y}" stroke="${s.color}" stroke-width="${s.dashed ? 1.5 : 2.5}"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>` +
      `<text x="${x + 36}" y="${y}" dominant-baseline="middle">${escapeXml(s.label)}</text>`
    );
  });
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">
<style>.frame{fill:none;stroke:#333}.grid{stroke:#ddd}.title{font-size:15px;font-weight:bold}</style>
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="24" text-anchor="middle" font-size="17" font-weight="bold">nixl-ts-bench</text>
<text x="${W / 2}" y="44" text-anchor="middle" fill="#555">${escapeXml(subtitle)}</text>
${body.join('\n')}
${legend.join('\n')}
</svg>
`;
}
