/**
 * The decode side: reads the control channel (JSON lines on stdin), loads
 * prefill's metadata (its KV layout comes with it), and pulls every
 * request's blocks with READ into blocks of its own, notifying prefill
 * "<request>:1" when the data is here. Checks every byte, then prints
 * throughput and per-request latency. Usually started by run.ts.
 */
import { performance } from 'node:perf_hooks';

import { gossip } from '../../plugins/gossip/index.js';
import { seeds } from '../../plugins/seeds/index.js';
import { Agent } from '../../src/index.js';
import { BlockPool, KvCache, pullBlocks } from '../../src/kv/index.js';
import { serveJsonLines } from '../../testing/json-line-server.js';
import { verifyKvBlocks } from '../../testing/pattern.js';
import { DEFAULT_CONFIG, type ControlMessage, type DisaggConfig } from './config.js';

const cfg: DisaggConfig = { ...DEFAULT_CONFIG, ...JSON.parse(process.argv[2] ?? '{}') };
// With discovery, run.ts hands us one seed address (prefill's); everything
// else — prefill's connection info, regions and KV layout — comes through the
// gossip plugin. Without it, the metadata arrives on the control channel.
const t0 = performance.now();
const agent = await Agent.create({
  name: `decode-${process.pid}`,
  backends: [{ type: 'TCP', params: cfg.params }],
  discovery: cfg.seed
    ? gossip({
        cluster: 'disagg-example',
        listen: ['/ip4/127.0.0.1/tcp/0'],
        sources: [seeds([cfg.seed.addr.replace(/\/p2p\/.*$/, '')])],
      })
    : undefined,
});
const cache = KvCache.create(agent, {
  ...cfg.layout,
  blocks: cfg.decode.blocks,
  arrangement: cfg.decode.arrangement,
});
const pool = new BlockPool(cfg.decode.blocks);

let prefill = '';
function describePeer(): void {
  const l = cache.peerLayout(prefill)!;
  console.log(
    `decode: '${prefill}' publishes ${l.layers} layers × ${l.planes} planes × ${l.blocks} blocks × ${l.blockBytes} B (${l.arrangement}); compatible`,
  );
}
if (cfg.seed) {
  await agent.waitForPeer(cfg.seed.name, { signal: AbortSignal.timeout(60_000) });
  prefill = cfg.seed.name;
  // The regions and the layout label may follow the first metadata in an update.
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      cache.connectPeer(prefill);
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  console.log(
    `decode: found '${prefill}' by discovery in ${(performance.now() - t0).toFixed(0)} ms, from one seed address`,
  );
  describePeer();
}
const queue: Extract<ControlMessage, { type: 'request' }>[] = [];
let ended = false;
// Workers sleep here until a line arrives or blocks are freed.
let sleepers: (() => void)[] = [];
const wakeAll = () => {
  const s = sleepers;
  sleepers = [];
  for (const w of s) w();
};
const sleep = () => new Promise<void>((r) => sleepers.push(r));
const latencies: number[] = [];
const transferMs: number[] = [];
const readGBps: number[] = [];
let bytes = 0;
let failures = 0;
let firstStart = 0;

// The control messages prefill's lines carry (run.ts passes them on), named by `type`.
type Incoming = Extract<ControlMessage, { type: 'metadata' | 'request' | 'end' }>;
serveJsonLines<Incoming, 'type'>(
  {
    metadata: (m) => {
      prefill = cache.loadPeer(Buffer.from(m.md, 'base64'));
      describePeer();
      wakeAll();
    },
    request: (m) => {
      queue.push(m);
      wakeAll();
    },
    end: () => {
      ended = true;
      wakeAll();
    },
  },
  { commandField: 'type' },
);

async function worker(): Promise<void> {
  for (;;) {
    const m = queue.shift();
    if (!m) {
      if (ended) return;
      await sleep();
      continue;
    }
    // The local cache may be full: wait for another request to finish.
    while (pool.freeCount < m.blocks.length) await sleep();
    const local = pool.allocate(m.blocks.length);
    const t0 = performance.now();
    firstStart ||= t0;
    try {
      await pullBlocks(cache, prefill, m.id, local, m.blocks, { pool });
    } catch (err) {
      failures++;
      console.error(`decode: ${m.id} failed: ${(err as Error).message} (blocks freed)`);
      wakeAll();
      continue;
    }
    const t1 = performance.now();
    // Our blocks must hold what prefill wrote into its blocks for this request.
    const bad = verifyKvBlocks(cache, local, m.request, m.blocks);
    if (bad) {
      console.error(`decode: wrong data in request ${m.request}, ${bad}`);
      process.exitCode = 1;
    }
    transferMs.push(t1 - t0);
    readGBps.push((local.length * cache.layout.bytesPerBlock) / ((t1 - t0) / 1e3) / 1e9);
    latencies.push(performance.timeOrigin + t1 - m.at);
    bytes += local.length * cache.layout.bytesPerBlock;
    pool.free(local); // a real engine keeps them until the sequence ends
    wakeAll();
  }
}

await Promise.all(Array.from({ length: cfg.concurrency }, () => worker()));
const wall = performance.now() - firstStart;
const pct = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;
console.log(
  `decode: ${latencies.length} requests pulled and verified byte for byte, ${failures} failed; ` +
    `${(bytes / 2 ** 20).toFixed(0)} MiB in ${wall.toFixed(0)} ms = ${(bytes / (wall / 1e3) / 1e9).toFixed(2)} GB/s ` +
    `(including verification, ${cfg.concurrency} requests at once)`,
);
console.log(
  `decode: per-request READ time p50 ${pct(transferMs, 0.5).toFixed(2)} ms, p99 ${pct(transferMs, 0.99).toFixed(2)} ms ` +
    `(p50 ${pct(readGBps, 0.5).toFixed(2)} GB/s per request); ` +
    `published-to-verified latency p50 ${pct(latencies, 0.5).toFixed(1)} ms, p99 ${pct(latencies, 0.99).toFixed(1)} ms`,
);
cache.close();
await agent.close();
if (failures > 0) process.exitCode = 1;
