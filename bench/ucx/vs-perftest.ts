/**
 * UCX backend vs ucx_perftest (Debian package ucx-utils), same transports,
 * same run: put (WRITE) and get (READ), 4 KiB to 16 MiB, each cell run
 * back-to-back with the baseline, over loopback only.
 *
 *   npx tsx bench/ucx/vs-perftest.ts [--reps 3]
 *     [--tls tcp,shm,shm-mm,shm-mm-alloc,shm-process,shm-process-alloc,shm-private]
 *                                    [--seconds 1] [--sizes 4096,...] [--batches 1,1024]
 *
 * ucx_perftest: `ucp_put_bw` / `ucp_get` between two processes, streaming
 * messages of the given size from one buffer of that size. nixl-ts: an
 * initiator agent (this process) and a target agent (a child process), a
 * window of requests in flight, each of `batch` descriptors of the given size
 * (NIXL's batch; at most 64 MiB per request), all on the same bytes as
 * perftest's buffer, each completed as NIXL defines it (put/get + flush).
 * Both get UCX_NET_DEVICES=lo. Bandwidth is bytes / wall time in GB/s
 * (1e9 B/s); the ratio is nixl-ts / ucx_perftest for the same cell and round.
 * Batch-1 cells also run bench/ucx/put-flush.c, a C program doing the same
 * per-request work on UCX (put or get, then a flush, same window), and give
 * nixl-ts / that floor: perftest streams and completes nothing per message.
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';

import '../../src/polyfills.js';
import { Agent } from '../../src/agent.js';
import { putFlush } from './put-flush.js';
import { startTarget, type Target } from './target-process.js';
import type { XferRequest } from '../../src/xfer-request.js';

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    tls: { type: 'string', default: 'tcp,shm-mm-alloc,shm-process-alloc' },
    seconds: { type: 'string', default: '1' },
    sizes: { type: 'string', default: '4096,65536,1048576,16777216' },
    batches: { type: 'string', default: '1,1024' },
  },
});
const REPS = Number(args.reps);
const SECONDS = Number(args.seconds);
const SIZES = args.sizes!.split(',').map(Number);
const BATCHES = args.batches!.split(',').map(Number);
const REGION = 64 << 20;

/**
 * What each transport set means for both sides. perftest never asks for peer
 * error handling and allocates its buffers through UCX (System V/POSIX shared
 * memory, which the peer maps). Sets ending in `-alloc` use memory from
 * agent.alloc(n, { backend: 'UCX' }) on both sides, as perftest's: put/get are
 * then copies through the mapped segment; the others use memory nixl-ts
 * allocates itself (private), on which UCX 1.13 emulates RMA with active
 * messages.
 * - `shm`: the nixl-ts `shm` profile as it comes (errorHandling 'peer'): UCX
 *   1.13 keeps posix/sysv away from peer-error-handling endpoints, so the data
 *   goes over tcp.
 * - `shm-mm`, `shm-mm-alloc`: the same with UCX's MM_ERROR_HANDLING on, so
 *   posix/sysv serve those endpoints (keepalive every 250 ms notices a dead
 *   peer); see backends/ucx/README.md for what a dying peer can leave behind.
 * - `shm-process`, `shm-process-alloc`: errorHandling 'process' (same-host
 *   endpoints without UCX error handling, the peer's process watched instead).
 * - `shm-private`: `shm-mm` against perftest on private memory too
 *   (UCX_ALLOC_PRIO=mmap).
 */
const SHM_TLS = 'posix,sysv,cma,tcp';
const SHM = { profile: 'shm', devices: 'lo' };
const SHM_MM = { ...SHM, config: 'MM_ERROR_HANDLING=y,KEEPALIVE_INTERVAL=250ms' };
const SHM_PROCESS = { ...SHM, errorHandling: 'process' };
const TRANSPORTS: Record<
  string,
  {
    ucxTls: string;
    params: Record<string, string>;
    perfEnv?: Record<string, string>;
    /** nixl-ts memory from agent.alloc(n, { backend: 'UCX' }) on both sides, as perftest's. */
    ucxAlloc?: boolean;
  }
> = {
  tcp: { ucxTls: 'tcp', params: { profile: 'tcp', devices: 'lo' } },
  shm: { ucxTls: SHM_TLS, params: SHM },
  'shm-mm': { ucxTls: SHM_TLS, params: SHM_MM },
  'shm-mm-alloc': { ucxTls: SHM_TLS, params: SHM_MM, ucxAlloc: true },
  'shm-process': { ucxTls: SHM_TLS, params: SHM_PROCESS },
  'shm-process-alloc': { ucxTls: SHM_TLS, params: SHM_PROCESS, ucxAlloc: true },
  'shm-private': { ucxTls: SHM_TLS, params: SHM_MM, perfEnv: { UCX_ALLOC_PRIO: 'mmap' } },
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let port = 20000 + (process.pid % 20000);

/** One ucx_perftest cell: GB/s, or NaN when it failed. */
async function perftest(tls: string, test: string, size: number): Promise<number> {
  const set = TRANSPORTS[tls]!;
  const env = { ...process.env, UCX_TLS: set.ucxTls, UCX_NET_DEVICES: 'lo', ...set.perfEnv };
  // Iterations: about SECONDS of work at the rates seen on this machine, bounded both ways.
  let iters = Math.max(20, Math.min(100_000, Math.round((SECONDS * 5e8) / size)));
  // UCX 1.13 emulates get over tcp with active messages that perftest's idle
  // responder serves only from UCX's async thread (~1 ms each): keep it bounded.
  // The same holds for RMA on private memory over shared memory.
  if ((test === 'ucp_get' && tls === 'tcp') || set.perfEnv) iters = Math.min(iters, 300);
  const p = ++port;
  const server = spawn('ucx_perftest', ['-p', String(p)], { env, stdio: 'ignore' });
  try {
    await sleep(300);
    const client = spawn(
      'ucx_perftest',
      [
        '127.0.0.1',
        '-p',
        String(p),
        '-t',
        test,
        '-s',
        String(size),
        '-n',
        String(iters),
        '-w',
        String(Math.max(2, iters / 20) | 0),
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    client.stdout!.on('data', (d) => (out += d));
    const timer = setTimeout(() => client.kill('SIGKILL'), 120_000);
    await new Promise((r) => client.on('exit', r));
    clearTimeout(timer);
    const line = out.split('\n').find((l) => l.startsWith('Final:'));
    if (!line) return NaN;
    const f = line.trim().split(/\s+/);
    return (Number(f[6]) * 1048576) / 1e9; // overall MB/s (2^20) -> GB/s
  } finally {
    server.kill('SIGKILL');
  }
}

/** Requests kept in flight: 16, or fewer so that the window fits the region. */
const windowFor = (size: number, batch: number) =>
  Math.max(1, Math.min(16, Math.floor(REGION / (size * batch))));

/** The C floor of a batch-1 cell (bench/ucx/put-flush.c), same transports and settings. */
function cFloor(tls: string, op: 'WRITE' | 'READ', size: number) {
  const set = TRANSPORTS[tls]!;
  return putFlush({
    op,
    size,
    window: windowFor(size, 1),
    ms: SECONDS * 1000,
    ucxAlloc: set.ucxAlloc ?? false,
    // nixl-ts's 'process' mode and 'none' both create endpoints without UCX error handling.
    peerErrors: (set.params.errorHandling ?? 'peer') === 'peer',
    tls: set.ucxTls,
    config: set.params.config?.split(',') ?? [],
  });
}

/** One nixl-ts cell: a window of requests kept in flight for about SECONDS. */
async function nixlCell(
  a: Agent,
  base: bigint,
  t: Target,
  op: 'WRITE' | 'READ',
  size: number,
  batch: number,
): Promise<number> {
  const window = windowFor(size, batch);
  // Every descriptor moves the same `size` bytes at the start of each region,
  // as ucx_perftest moves one buffer of the message size over and over: the
  // same cache footprint on both sides.
  const reqs: XferRequest[] = [];
  for (let i = 0; i < window; i++) {
    const local = Array.from({ length: batch }, () => ({ addr: base, len: size }));
    const remote = Array.from({ length: batch }, () => ({ addr: t.addr, len: size }));
    reqs.push(a.createXferReq(op, local, remote, t.name));
  }
  const run = async (ms: number, maxOps: number) => {
    let ops = 0;
    const t0 = performance.now();
    const deadline = t0 + ms;
    await Promise.all(
      reqs.map(async (r) => {
        // The clock is read every 16 requests (put-flush.c: every 64 rounds):
        // at a few hundred ns per request a read each time shows.
        for (let i = 0; ((i & 15) !== 0 || performance.now() < deadline) && ops < maxOps; i++) {
          ops++;
          if (a.postXferReq(r) !== 'DONE') await r.done;
        }
      }),
    );
    return { ops, secs: (performance.now() - t0) / 1e3 };
  };
  await run(100, 50 * window); // warm-up: endpoints wired, caches hot
  const { ops, secs } = await run(SECONDS * 1000, 1_000_000);
  for (const r of reqs) r.release();
  return (ops * size * batch) / secs / 1e9;
}

const median = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  return s.length ? s[(s.length - 1) >> 1]! : NaN;
};

const rows: {
  tls: string;
  op: string;
  size: number;
  batch: number;
  perf: number[];
  nixl: number[];
  ratio: number[];
  /** Batch 1 only: the C put+flush floor and nixl-ts / that floor. */
  floor: number[];
  floorRatio: number[];
}[] = [];
for (const tls of args.tls!.split(',')) {
  const params = TRANSPORTS[tls]!.params;
  const a = await Agent.create({
    name: `bench-init-${process.pid}`,
    backends: [{ type: 'UCX', params }],
  });
  const ucxAlloc = TRANSPORTS[tls]!.ucxAlloc ?? false;
  const local = a.alloc(REGION, ucxAlloc ? { backend: 'UCX' } : {}).buffer;
  const base = a.registerMem(local).descs.at(0).addr;
  const t = await startTarget(a, params, REGION, ucxAlloc);
  for (const [op, test] of [
    ['WRITE', 'ucp_put_bw'],
    ['READ', 'ucp_get'],
  ] as const) {
    for (const size of SIZES) {
      // A request holds at most 64 MiB: larger batches shrink to that.
      const batches = [...new Set(BATCHES.map((b) => Math.max(1, Math.min(b, REGION / size))))];
      const cells = batches.map((batch) => ({
        tls,
        op,
        size,
        batch,
        perf: [] as number[],
        nixl: [] as number[],
        ratio: [] as number[],
        floor: [] as number[],
        floorRatio: [] as number[],
      }));
      for (let r = 0; r < REPS; r++) {
        const perf = await perftest(tls, test, size);
        for (const row of cells) {
          if (row.batch === 1) {
            const floor = await cFloor(tls, op, size);
            if (floor !== undefined) row.floor.push(floor);
          }
          const nixl = await nixlCell(a, base, t, op, size, row.batch);
          row.perf.push(perf);
          row.nixl.push(nixl);
          row.ratio.push(nixl / perf);
          if (row.batch === 1 && row.floor.length) row.floorRatio.push(nixl / row.floor.at(-1)!);
        }
      }
      for (const row of cells) {
        rows.push(row);
        const floor = row.floor.length
          ? `, C put+flush ${median(row.floor).toFixed(3)} GB/s (${median(row.floorRatio).toFixed(2)}x)`
          : '';
        process.stderr.write(
          `${tls} ${op} ${size} x${row.batch}: perftest ${median(row.perf).toFixed(3)} GB/s, nixl-ts ${median(row.nixl).toFixed(3)} GB/s, ratio ${median(row.ratio).toFixed(2)}${floor}\n`,
        );
      }
    }
  }
  await t.stop();
  await a.close();
}

const fmtSize = (s: number) => (s >= 1 << 20 ? `${s >> 20} MiB` : `${s >> 10} KiB`);
const range = (xs: number[], d = 3) => {
  const f = xs.filter(Number.isFinite);
  return f.length
    ? `${median(f).toFixed(d)} [${Math.min(...f).toFixed(d)}–${Math.max(...f).toFixed(d)}]`
    : 'n/a';
};
console.log(
  `| transports | op (perftest test) | size | nixl-ts batch | ucx_perftest GB/s | nixl-ts UCX GB/s | ratio (median [min–max] of ${REPS}) | C put+flush GB/s (batch 1) | nixl-ts / C put+flush |`,
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const test = r.op === 'WRITE' ? 'ucp_put_bw' : 'ucp_get';
  const floor = r.floor.length ? `${range(r.floor)} | ${range(r.floorRatio, 2)}` : '— | —';
  console.log(
    `| ${r.tls} | ${r.op} (${test}) | ${fmtSize(r.size)} | ${r.batch} | ${range(r.perf)} | ${range(r.nixl)} | ${range(r.ratio, 2)} | ${floor} |`,
  );
}
