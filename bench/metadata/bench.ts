/**
 * Metadata loading benchmark: how long `loadRemoteMD` of a peer exporting N
 * regions takes, and the longest event-loop stall it causes, for regions
 * listed in address order (what getLocalMD sends) and shuffled (what any
 * peer or gossip member may send).
 *
 *   npm run bench:metadata [-- --sizes 10000,100000,1000000] [--orders sorted,unsorted]
 *                          [--reps 5] [--json]
 *   (that is tsx bench/metadata/bench.ts ...)
 *
 * One agent with the TCP backend (127.0.0.1, nothing is sent) loads
 * synthetic full metadata: N DRAM regions of 4 KiB with gaps between them,
 * 12 bytes of TCP public data each, and the connection info of a second,
 * real TCP agent. Each rep loads into an empty remote section (the peer is
 * invalidated in between, not timed into `load`), after an untimed warm-up
 * of 20,000-region loads.
 *
 * Columns: `encode` (encodeMetadata of the synthetic metadata, once),
 * `blob` (its size), `decode` (decodeMetadata plus reading every region: the
 * wire format's cost as a user of decodeMetadata pays it), `unpack` (what a
 * load pays for it: the header and the packed columns, no objects; format 2
 * only), `load` (loadRemoteMD: decode, checks, registry, backend handles;
 * median of the reps, and the slowest), `load cpu` (the process's CPU time
 * during a load, GC threads included, median: steadier than wall time on a
 * shared machine), `stall` (the longest event-loop delay measured around a
 * load, the GC after it included: the largest over the reps), `drop`
 * (invalidateRemoteMD, median).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { Agent } from '../../src/agent.js';
import * as metadata from '../../src/metadata.js';
import { decodeMetadata, encodeMetadata, type AgentMetadata } from '../../src/metadata.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000,1000000' },
    orders: { type: 'string', default: 'sorted,unsorted' },
    reps: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const SIZES = args.sizes!.split(',').map((s) => Number(s.replace(/_/g, '')));
const ORDERS = args.orders!.split(',') as ('sorted' | 'unsorted')[];
for (const o of ORDERS) {
  if (o !== 'sorted' && o !== 'unsorted') throw new Error(`--orders: unknown order '${o}'`);
}
const repsFor = (n: number) => (args.reps ? Number(args.reps) : n >= 1_000_000 ? 3 : 5);

const TCP = [{ type: 'TCP', params: { bind_addr: '127.0.0.1', port: '0' } }];
const loader = await Agent.create({ name: 'md-bench-loader', backends: TCP });
const peer = await Agent.create({ name: 'md-bench-peer', backends: TCP });
const template = decodeMetadata(peer.getLocalMD());

/** A deterministic PRNG, so that "unsorted" is the same shuffle every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Synthetic full metadata of n regions, encoded; the objects are garbage once it returns. */
function synthetic(
  n: number,
  order: 'sorted' | 'unsorted',
): { blob: Uint8Array; encodeMs: number } {
  const base = 0x7f00_0000_0000;
  const regions: AgentMetadata['sections'][number]['regions'] = new Array(n);
  for (let i = 0; i < n; i++) {
    const pd = new Uint8Array(12);
    const v = new DataView(pd.buffer);
    v.setUint32(0, i + 1, true); // the TCP region id
    v.setUint32(4, (i * 2654435761) >>> 0, true); // its key
    v.setUint32(8, (i * 40503) >>> 0, true);
    regions[i] = { addr: base + i * 8192, len: 4096, devId: 0, publicData: pd };
  }
  if (order === 'unsorted') {
    const rand = prng(n);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = regions[i]!;
      regions[i] = regions[j]!;
      regions[j] = t;
    }
  }
  const md: AgentMetadata = {
    ...template,
    partial: false,
    sections: [{ backend: 'TCP', memType: 'DRAM', regions }],
    labels: new Map(),
  };
  const t0 = performance.now();
  const blob = encodeMetadata(md);
  return { blob, encodeMs: performance.now() - t0 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Runs fn once; returns its duration and the longest event-loop delay around it. */
async function measured(fn: () => void): Promise<{ ms: number; cpuMs: number; stallMs: number }> {
  // No forced GC before: a full GC shrinks the heap, and the load would then
  // pay for growing it back, which a process in steady state does not.
  await sleep(20);
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  await sleep(5);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  await sleep(50); // a GC the load leaves behind stalls the loop too
  h.disable();
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, stallMs: h.max / 1e6 };
}

/**
 * What loadRemoteMD itself spends on the wire format (format 2): the header
 * and every section's columns, no region objects. '-' where the source
 * under test predates it.
 */
function unpackTime(blob: Uint8Array): number | string {
  const m = metadata as Record<string, unknown>;
  if (typeof m.decodeMetadataHeader !== 'function' || typeof m.unpackRegions !== 'function') {
    return '-';
  }
  const t0 = performance.now();
  const header = (m.decodeMetadataHeader as (b: Uint8Array) => { sections: unknown[] })(blob);
  for (const s of header.sections) (m.unpackRegions as (s: unknown) => unknown)(s);
  return performance.now() - t0;
}

interface Row {
  regions: number;
  order: string;
  'encode ms': number;
  'blob MiB': number;
  'decode ms': number;
  'unpack ms': number | string;
  'load ms (median)': number;
  'load ms (max)': number;
  'load cpu ms': number;
  'stall ms (max)': number;
  'drop ms': number;
  reps: number;
}
// Warm-up, untimed: the same code paths at a small size, so that the first
// timed case is not the one that pays for compiling them.
for (const order of ['sorted', 'unsorted'] as const) {
  const { blob } = synthetic(20_000, order);
  for (let i = 0; i < 3; i++) {
    loader.loadRemoteMD(blob);
    loader.invalidateRemoteMD('md-bench-peer');
  }
}

const rows: Row[] = [];
const fmt = (x: number) => Math.round(x * 10) / 10;

for (const n of SIZES) {
  for (const order of ORDERS) {
    const { blob, encodeMs } = synthetic(n, order);
    const t0 = performance.now();
    let seen = 0;
    for (const s of decodeMetadata(blob).sections) seen += s.regions.length;
    const decodeMs = performance.now() - t0;
    if (seen !== n) throw new Error(`decoded ${seen} regions of ${n}`);
    const unpackMs = unpackTime(blob);

    const loads: number[] = [];
    const cpus: number[] = [];
    const drops: number[] = [];
    let stall = 0;
    const reps = repsFor(n);
    for (let r = 0; r < reps; r++) {
      const load = await measured(() => loader.loadRemoteMD(blob));
      if (loader.getRemoteRegions('md-bench-peer').length !== n) {
        throw new Error(
          `loaded ${loader.getRemoteRegions('md-bench-peer').length} regions of ${n}`,
        );
      }
      loads.push(load.ms);
      cpus.push(load.cpuMs);
      stall = Math.max(stall, load.stallMs);
      const drop = await measured(() => loader.invalidateRemoteMD('md-bench-peer'));
      drops.push(drop.ms);
    }
    const row: Row = {
      regions: n,
      order,
      'encode ms': fmt(encodeMs),
      'blob MiB': fmt(blob.byteLength / 2 ** 20),
      'decode ms': fmt(decodeMs),
      'unpack ms': typeof unpackMs === 'number' ? fmt(unpackMs) : unpackMs,
      'load ms (median)': fmt(median(loads)),
      'load ms (max)': fmt(Math.max(...loads)),
      'load cpu ms': fmt(median(cpus)),
      'stall ms (max)': fmt(stall),
      'drop ms': fmt(median(drops)),
      reps,
    };
    rows.push(row);
    if (!args.json) console.error(JSON.stringify(row));
  }
}

if (args.json) console.log(JSON.stringify(rows, null, 2));
else console.table(rows);
await loader.close();
await peer.close();
