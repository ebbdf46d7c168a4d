/**
 * KV-cache block transfer benchmark, two processes over the TCP backend:
 * a large model's shape (default 32 layers × K/V × 800 blocks = 51,200
 * slices), decode (this process) moving every block of a request from
 * prefill (bench/kv/prefill-target.ts).
 *
 *   npx tsx bench/kv/bench.ts [--block-bytes 16384] [--iters 8] [--same-host auto,off]
 *
 * For each path, op and block order it reports the JavaScript time to build
 * one request (KvCache.makeBlockXfer: id checks, slice indices, makeXferReq,
 * the backend's prepXfer) and to post it, and the transfer's GB/s. Baselines
 * from the same run: the agent's raw prepared-list path (makeXferReq on
 * precomputed index lists, no KV layer) for the build time, and memcpy of the
 * same bytes in one process for the bandwidth, each measured just before its cell.
 * "scattered" pairs local block k with remote block 7k mod 800: nothing merges,
 * one descriptor per slice (51,200); "runs" pairs k with k: runs merge into
 * one descriptor per (layer, plane) region.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { Agent } from '../../src/agent.js';
import { DescList } from '../../src/descriptors.js';
import { KvCache, KvLayout, type KvLayoutSpec } from '../../src/kv/index.js';
import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';
import { verifyKvBlocks } from '../../testing/pattern.js';

const { values: args } = parseArgs({
  options: {
    layers: { type: 'string', default: '32' },
    blocks: { type: 'string', default: '800' },
    'block-bytes': { type: 'string', default: '16384' },
    iters: { type: 'string', default: '8' },
    'same-host': { type: 'string', default: 'auto,off' },
  },
});
const ITERS = Math.max(1, Number(args.iters));
const spec: KvLayoutSpec = {
  layers: Number(args.layers),
  blocks: Number(args.blocks),
  blockBytes: Number(args['block-bytes']),
  elementSize: 2,
  planes: 2,
  arrangement: 'layer-kv',
  model: 'bench/bf16',
};
const layout = new KvLayout(spec);
const B = layout.blocks;
const GB = 1e9;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function fmt(x: number, d = 2): string {
  return x.toFixed(d);
}

/** The seed of prefill's KV pattern (testing/pattern.ts), checked after the READs. */
const SEED = 7;

/** Starts prefill-target.ts; resolves with it and its metadata once it serves. */
async function startPrefill(name: string, params: Record<string, string>) {
  const script = fileURLToPath(new URL('./prefill-target.ts', import.meta.url));
  const child = new JsonLineChild<JsonLineReply>(
    script,
    'prefill target',
    {},
    {
      args: [JSON.stringify({ name, spec, params, seed: SEED })],
      stderr: 'inherit',
    },
  );
  try {
    const { md } = await child.nextEvent('ready', 120_000);
    return { child, md: Buffer.from(String(md), 'base64') };
  } catch (err) {
    await child.kill();
    throw err;
  }
}

/** Checks every slice of the local blocks against the pattern of the remote block it came from. */
function verify(cache: KvCache, local: Uint32Array, remote: Uint32Array): void {
  const bad = verifyKvBlocks(cache, local, SEED, remote);
  if (bad) throw new Error(`wrong data after transfer: ${bad}`);
}

interface Row {
  path: string;
  op: 'READ' | 'WRITE';
  order: string;
  descs: number;
  buildMs: number;
  buildMinMs: number;
  /** CPU time of the build (all threads of this process; the engine is idle then). */
  buildCpuMs: number;
  /** Median over iterations of KV build time / raw build time, measured back to back. */
  buildRatio: number;
  postMs: number;
  gbps: number;
  /** Median over iterations of transfer GB/s / memcpy GB/s, measured back to back. */
  copyRatio: number;
}

// The machine is shared: every baseline is measured right next to the cell it is compared with.
const copySrc = Buffer.alloc(layout.totalBytes, 1);
const copyDst = Buffer.alloc(layout.totalBytes, 2);

function memcpyGBps(): number {
  const t0 = performance.now();
  copySrc.copy(copyDst);
  return copySrc.length / ((performance.now() - t0) / 1e3) / GB;
}

async function runPath(sameHost: string): Promise<Row[]> {
  const params = { port: '0', same_host: sameHost, timeout_ms: '60000' };
  const tag = `${process.pid}-${sameHost}`;
  const prefill = await startPrefill(`kvbench-prefill-${tag}`, params);
  const agent = await Agent.create({
    name: `kvbench-decode-${tag}`,
    backends: [{ type: 'TCP', params }],
  });
  const cache = KvCache.create(agent, spec);
  for (const v of cache.views) v!.fill(0); // touch every page before timing
  const peer = cache.loadPeer(prefill.md);
  const peerBases = agent.getRemoteRegions(peer);
  const rows: Row[] = [];
  try {
    // The raw baseline: the agent's prepared lists over the same slices, index lists precomputed.
    const localSlices = sliceList(layout, cache.bases);
    const remoteSlices = sliceList(
      layout,
      Float64Array.from(peerBases.addrs.subarray(0, peerBases.length)),
    );
    const rawLocal = agent.prepXferDlist('', localSlices);
    const rawRemote = agent.prepXferDlist(peer, remoteSlices);
    const local = Uint32Array.from({ length: B }, (_, k) => k);
    const orders: [string, Uint32Array][] = [
      ['scattered', Uint32Array.from({ length: B }, (_, k) => (k * 7) % B)],
      ['runs', Uint32Array.from({ length: B }, (_, k) => k)],
    ];
    for (const op of ['READ', 'WRITE'] as const) {
      for (const [order, remote] of orders) {
        const lidx = layout.sliceIndices(
          local,
          'layer-kv',
          new Uint32Array(B * layout.slicesPerBlock),
        );
        const ridx = layout.sliceIndices(
          remote,
          'layer-kv',
          new Uint32Array(B * layout.slicesPerBlock),
        );
        const build: number[] = [];
        const buildCpu: number[] = [];
        const buildRatio: number[] = [];
        const post: number[] = [];
        const gbps: number[] = [];
        const copyRatio: number[] = [];
        let descs = 0;
        for (let i = 0; i < ITERS + 2; i++) {
          const r0 = performance.now();
          const rawReq = agent.makeXferReq(op, rawLocal, lidx, rawRemote, ridx);
          const r1 = performance.now();
          rawReq.release();
          const copy = memcpyGBps();
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          const req = cache.makeBlockXfer(op, local, peer, remote);
          const t1 = performance.now();
          const c1 = process.cpuUsage(c0);
          agent.postXferReq(req);
          const t2 = performance.now();
          await req.wait();
          const t3 = performance.now();
          descs = req.descCount;
          if (i >= 2) {
            // The first two are warm-up (JIT, connection).
            const rate = req.totalBytes / ((t3 - t1) / 1e3) / GB;
            build.push(t1 - t0);
            buildCpu.push((c1.user + c1.system) / 1e3);
            buildRatio.push((t1 - t0) / (r1 - r0));
            post.push(t2 - t1);
            gbps.push(rate);
            copyRatio.push(rate / copy);
          }
          req.release();
        }
        if (op === 'READ') verify(cache, local, remote);
        rows.push({
          path: sameHost === 'off' ? 'socket' : 'same-host',
          op,
          order,
          descs,
          buildMs: median(build),
          buildMinMs: Math.min(...build),
          buildCpuMs: median(buildCpu),
          buildRatio: median(buildRatio),
          postMs: median(post),
          gbps: median(gbps),
          copyRatio: median(copyRatio),
        });
      }
    }
  } finally {
    cache.close();
    await agent.close();
    await prefill.child.close();
  }
  return rows;
}

function sliceList(l: KvLayout, bases: ArrayLike<number>): DescList {
  const addrs = l.sliceAddresses(bases);
  return DescList.fromArrays(l.memType, addrs, new Float64Array(addrs.length).fill(l.blockBytes));
}

const bytes = layout.totalBytes;
console.log(
  `KV shape: ${layout.layers} layers × ${layout.planes} planes × ${B} blocks × ${layout.blockBytes} B ` +
    `= ${layout.sliceCount} slices, ${fmt(bytes / 2 ** 20, 0)} MiB per request; ${ITERS} timed iterations, medians ` +
    `(ratios: median of per-iteration ratios against the baseline measured just before).`,
);
console.log(
  'build = KvCache.makeBlockXfer (JavaScript, includes the backend prepXfer); raw = agent.makeXferReq on precomputed index lists; ' +
    'memcpy = Buffer.copy of the same bytes in this process.\n',
);
console.log(
  '| path | op | blocks | descriptors | build ms (median / min) | build CPU ms | KV build ÷ raw | post ms | GB/s | ÷ memcpy |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const sh of args['same-host']!.split(',')) {
  for (const r of await runPath(sh)) {
    console.log(
      `| ${r.path} | ${r.op} | ${r.order} | ${r.descs} | ${fmt(r.buildMs, 1)} / ${fmt(r.buildMinMs, 1)} | ${fmt(r.buildCpuMs, 1)} | ` +
        `${fmt(r.buildRatio)} | ${fmt(r.postMs, 3)} | ${fmt(r.gbps)} | ${fmt(r.copyRatio)} |`,
    );
  }
}
