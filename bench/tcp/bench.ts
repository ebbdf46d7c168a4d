/**
 * TCP backend benchmark: two processes (this one initiates, bench/tcp/target.ts
 * serves), WRITE and READ at 4 KiB..16 MiB, batch 1 and 256, over the socket
 * path and the same-host path, against baselines measured in the same run.
 *
 *   npx tsx bench/tcp/bench.ts [--ms 400] [--busy-poll-us 0] [--streams 2] [--quick]
 *                              [--sizes 4,1024 (KiB)] [--batches 1,256] [--target-busy-poll-us N]
 *                              [--latency-busy-poll-us 400] [--layout same|spread]
 *
 * Prints a Markdown table. Ratios compare cells with baselines from this run:
 * socket cells against iperf3 (1 MiB writes), same-host cells against memcpy,
 * and batch-1 socket cells also against a C program doing the same one
 * request at a time over loopback TCP (bench/tcp/request-response.c): blocking
 * for the default params, spinning for the busy-poll table.
 * A second table repeats the batch-1 cells up to 1 MiB with busy polling on
 * both sides (busy_poll_us, the latency setting), unless --latency-busy-poll-us 0.
 * By default a batch walks the region (cold memory); --layout same moves the
 * same bytes for every descriptor, as iperf3 does with its one buffer.
 */
import { parseArgs } from 'node:util';

import { Agent } from '../../src/agent.js';
import type { XferRequest } from '../../src/xfer-request.js';
import { iperf3, memcpy, nodeNet, requestResponse } from './baselines.js';
import { TargetProcess } from './target-process.js';

const { values: args } = parseArgs({
  options: {
    ms: { type: 'string', default: '400' },
    'busy-poll-us': { type: 'string', default: '0' },
    'target-busy-poll-us': { type: 'string' },
    streams: { type: 'string', default: '2' },
    quick: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    batches: { type: 'string' },
    'latency-busy-poll-us': { type: 'string', default: '400' },
    layout: { type: 'string', default: 'spread' },
  },
});
// 'spread' (default): consecutive blocks through the 256 MiB region, so
// batches touch cold memory, as a KV cache does; memcpy is spread the same
// way. 'same': every descriptor of a cell moves the same `size` bytes, as
// iperf3 moves one 1 MiB buffer over and over (its cache footprint; memcpy
// then copies one hot buffer too).
if (args.layout !== 'same' && args.layout !== 'spread') {
  throw new Error(`--layout must be 'same' or 'spread', got '${args.layout}'`);
}
const SPREAD = args.layout === 'spread';
const MS = Number(args.ms);
const KiB = 1024;
const MiB = KiB * KiB;
const REGION = 256 * MiB;
const SIZES = args.sizes
  ? args.sizes.split(',').map((x) => Number(x) * KiB)
  : args.quick
    ? [4 * KiB, MiB]
    : [4 * KiB, 64 * KiB, MiB, 16 * MiB];
const BATCHES = args.batches ? args.batches.split(',').map(Number) : [1, 256];
const common = { busy_poll_us: args['busy-poll-us']!, streams: args.streams!, timeout_ms: '60000' };

interface Cell {
  op: 'WRITE' | 'READ';
  size: number;
  batch: number;
  path: 'socket' | 'same-host';
  gbps: number;
  medianUs: number;
}

/** Mean of the finite values; NaN when there are none. */
function meanOf(xs: number[]): number {
  const f = xs.filter(Number.isFinite);
  return f.length ? f.reduce((a, b) => a + b) / f.length : NaN;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

async function measure(agent: Agent, req: XferRequest, bytes: number): Promise<number[]> {
  // Small transfers poll the status slot (no event-loop round trip, as
  // nixlbench polls); large ones sleep until the completion batch.
  const spin = bytes <= 256 * KiB;
  const once = async () => {
    agent.postXferReq(req);
    if (spin) {
      while (agent.getXferStatus(req) !== 'DONE') {
        /* the status is read from shared memory */
      }
    } else {
      await req.done;
    }
  };
  for (let i = 0; i < (bytes >= 256 * MiB ? 1 : 3); i++) await once();
  const times: number[] = [];
  const until = Date.now() + MS;
  for (let it = 0; it < 3 || (Date.now() < until && it < 200_000); it++) {
    const t0 = process.hrtime.bigint();
    await once();
    times.push(Number(process.hrtime.bigint() - t0));
  }
  return times;
}

function fmt(x: number, d = 2): string {
  return Number.isFinite(x) ? x.toFixed(d) : '-';
}

/** The C request/response time over the cell's: only batch-1 socket cells have one. */
function floorRatio(c: Cell, floorUs: Map<number, number | undefined>): string {
  const f = floorUs.get(c.size);
  if (c.batch !== 1 || c.path !== 'socket' || f === undefined) return '-';
  return fmt(f / c.medianUs);
}

function sizeName(n: number): string {
  return n >= MiB ? `${n / MiB} MiB` : `${n / KiB} KiB`;
}

interface Setup {
  target: TargetProcess;
  targetName: string;
  remoteBase: bigint;
  agents: { socket: Agent; 'same-host': Agent };
  locals: Map<Agent, bigint>;
}

/** A target process and one initiator agent per path, connected, with `region` bytes each. */
async function setUp(
  tag: string,
  params: Record<string, string>,
  targetParams: Record<string, string>,
  region: number,
): Promise<Setup> {
  const targetName = `bench-tgt-${tag}-${process.pid}`;
  const target = new TargetProcess(targetName, region, { ...targetParams, same_host: 'auto' });
  const hello = await target.ready;
  const agents = {
    socket: await Agent.create({
      name: `bench-sock-${tag}-${process.pid}`,
      backends: [{ type: 'TCP', params: { ...params, same_host: 'off' } }],
    }),
    'same-host': await Agent.create({
      name: `bench-shm-${tag}-${process.pid}`,
      backends: [{ type: 'TCP', params: { ...params, same_host: 'auto' } }],
    }),
  };
  const locals = new Map<Agent, bigint>();
  for (const a of Object.values(agents)) {
    const { buffer } = a.alloc(region);
    buffer.fill(1);
    locals.set(a, a.registerMem(buffer).descs.at(0).addr);
    a.loadRemoteMD(Buffer.from(hello.md, 'base64'));
    await target.send({ cmd: 'load', md: Buffer.from(a.getLocalMD()).toString('base64') });
    await a.makeConnection(targetName);
  }
  return { target, targetName, remoteBase: BigInt(hello.addr), agents, locals };
}

async function tearDown(s: Setup): Promise<void> {
  for (const a of Object.values(s.agents)) await a.close();
  await s.target.close();
}

/** One cell: `batch` descriptors of `size` bytes, consecutive from each base. */
async function runCell(
  s: Setup,
  op: 'WRITE' | 'READ',
  path: Cell['path'],
  size: number,
  batch: number,
  region: number,
): Promise<Cell> {
  const a = s.agents[path];
  const base = s.locals.get(a)!;
  const slots = SPREAD ? Math.floor(region / size) : 1;
  const local = [];
  const remote = [];
  for (let i = 0; i < batch; i++) {
    const off = BigInt((i % slots) * size);
    local.push({ addr: base + off, len: size });
    remote.push({ addr: s.remoteBase + off, len: size });
  }
  const req = a.createXferReq(op, local, remote, s.targetName);
  const times = await measure(a, req, size * batch);
  req.release();
  const med = median(times);
  return { op, size, batch, path, gbps: (size * batch) / med, medianUs: med / 1000 };
}

async function main(): Promise<void> {
  const setup = await setUp(
    'main',
    common,
    { ...common, busy_poll_us: args['target-busy-poll-us'] ?? common.busy_poll_us },
    REGION,
  );
  const { agents, locals } = setup;

  // iperf3 runs before each size's cells and once after the last: a cell is
  // compared with the mean of the runs on either side of it, since this VM's
  // speed drifts over minutes.
  const iperfRuns: number[] = [];
  const runIperf = async () => iperfRuns.push((await iperf3(1)) ?? NaN);
  const iperfNear = new Map<number, number>(); // size -> mean of the runs around its cells
  const net: number[] = [await nodeNet(2)];

  const cells: Cell[] = [];
  const memcpyGbps = new Map<string, number>();
  // µs of the C request/response loop, by size: the batch-1 floor.
  const floorUs = new Map<number, number | undefined>();
  for (const size of SIZES) {
    await runIperf();
    for (const batch of BATCHES) {
      if (batch === 1) floorUs.set(size, await requestResponse(size, MS, false));
      const copySrc = locals.get(agents.socket)!;
      const copyDst = locals.get(agents['same-host'])!;
      const copyRegion = SPREAD ? REGION : size;
      memcpyGbps.set(`${size}/${batch}`, memcpy(copySrc, copyDst, copyRegion, size, batch, MS));
      for (const op of ['WRITE', 'READ'] as const) {
        for (const path of ['socket', 'same-host'] as const) {
          const c = await runCell(setup, op, path, size, batch, REGION);
          cells.push(c);
          process.stderr.write(
            `${op} ${sizeName(size)} x${batch} ${path}: ${fmt(c.gbps)} GB/s, ${fmt(c.medianUs, 1)} us\n`,
          );
        }
      }
    }
  }
  await runIperf();
  net.push(await nodeNet(2));
  SIZES.forEach((size, k) => iperfNear.set(size, meanOf([iperfRuns[k]!, iperfRuns[k + 1]!])));

  const ip = meanOf(iperfRuns);
  const netMean = meanOf(net);
  console.log(
    `\nBaselines (this run): iperf3 1 stream, 1 MiB writes, before each size and after the last: ` +
      `${iperfRuns.map((x) => fmt(x)).join(', ')} GB/s (mean ${fmt(ip)}); each cell's × iperf3 uses ` +
      `the runs on either side of its size. Node net stream, 1 MiB writes: ${fmt(netMean)} GB/s ` +
      `(${fmt(netMean / ip)}x iperf3).`,
  );
  console.log(
    `Params: streams=${common.streams}, busy_poll_us=${common.busy_poll_us}; ${MS} ms per cell; ` +
      `layout ${args.layout}.\n`,
  );
  console.log(
    '| op | size | batch | path | GB/s | median µs / batch | µs / desc | × iperf3 | × memcpy (same size) | × C req/resp |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const c of cells) {
    const mc = memcpyGbps.get(`${c.size}/${c.batch}`)!;
    console.log(
      `| ${c.op} | ${sizeName(c.size)} | ${c.batch} | ${c.path} | ${fmt(c.gbps)} | ${fmt(c.medianUs, 1)} | ` +
        `${fmt(c.medianUs / c.batch, 2)} | ${fmt(c.gbps / iperfNear.get(c.size)!)} | ${fmt(c.gbps / mc)} | ` +
        `${floorRatio(c, floorUs)} |`,
    );
  }
  console.log(
    "\nC req/resp (one request at a time over loopback TCP, blocking; × = its time / the cell's) µs: " +
      [...floorUs].map(([k, v]) => `${sizeName(k)}: ${fmt(v ?? NaN, 1)}`).join('; '),
  );
  console.log(
    '\nmemcpy (single thread, same size and batch) GB/s: ' +
      [...memcpyGbps].map(([k, v]) => `${k.replace('/', ' x')}: ${fmt(v)}`).join('; '),
  );

  await tearDown(setup);

  const bp = args['latency-busy-poll-us']!;
  if (bp !== '0') {
    // The latency setting: both sides poll instead of sleeping, and the
    // posting thread sends WRITEs the window can carry itself (up to about
    // 4 KiB per µs of busy_poll_us), then reads its answer.
    const lat = await setUp(
      'lat',
      { ...common, busy_poll_us: bp },
      { ...common, busy_poll_us: bp },
      64 * MiB,
    );
    console.log(`\nBatch 1 with busy_poll_us=${bp} on both sides (median of the cell):\n`);
    console.log(
      '| op | size | path | GB/s | median µs | × iperf3 | × memcpy (same size) | × C req/resp (spinning) |',
    );
    console.log('|---|---|---|---|---|---|---|---|');
    const spinFloorUs = new Map<number, number | undefined>();
    for (const size of SIZES.filter((x) => x <= MiB)) {
      const mc = memcpyGbps.get(`${size}/1`) ?? NaN;
      spinFloorUs.set(size, await requestResponse(size, MS, true));
      const ipNow = (await iperf3(1)) ?? NaN;
      for (const op of ['WRITE', 'READ'] as const) {
        for (const path of ['socket', 'same-host'] as const) {
          const c = await runCell(lat, op, path, size, 1, 64 * MiB);
          console.log(
            `| ${op} | ${sizeName(size)} | ${path} | ${fmt(c.gbps)} | ${fmt(c.medianUs, 1)} | ` +
              `${fmt(c.gbps / ipNow)} | ${fmt(c.gbps / mc)} | ${floorRatio(c, spinFloorUs)} |`,
          );
        }
      }
    }
    console.log(
      '\nC req/resp spinning (non-blocking calls retried) µs: ' +
        [...spinFloorUs].map(([k, v]) => `${sizeName(k)}: ${fmt(v ?? NaN, 1)}`).join('; '),
    );
    await tearDown(lat);
  }
}

await main();
