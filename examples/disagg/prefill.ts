/**
 * The prefill side: computes (here: synthesizes) each request's KV blocks,
 * publishes where they are, and frees them once decode has read them
 * ("<request>:1"), or after a timeout if decode never comes.
 *
 * Control channel: JSON lines on stdout (metadata, then one line per request);
 * logs go to stderr. Usually started by run.ts.
 */
import { performance } from 'node:perf_hooks';

import { gossip } from '../../plugins/gossip/index.js';
import { Agent } from '../../src/index.js';
import { BlockPool, KvCache, NotifTracker, releaseAfterReads } from '../../src/kv/index.js';
import { fillKvBlocks } from '../../testing/pattern.js';
import { blocksOf, DEFAULT_CONFIG, type ControlMessage, type DisaggConfig } from './config.js';

const cfg: DisaggConfig = { ...DEFAULT_CONFIG, ...JSON.parse(process.argv[2] ?? '{}') };
const send = (m: ControlMessage) => process.stdout.write(JSON.stringify(m) + '\n');

// With discovery (the default), decode finds this agent through the gossip
// plugin from one seed address; with --side-channel the metadata blob goes
// over the control channel instead.
const disc = cfg.discovery
  ? gossip({ cluster: 'disagg-example', listen: ['/ip4/127.0.0.1/tcp/0'] })
  : undefined;
const agent = await Agent.create({
  name: `prefill-${process.pid}`,
  backends: [{ type: 'TCP', params: cfg.params }],
  discovery: disc,
});
const cache = KvCache.create(agent, cfg.layout);
const pool = new BlockPool(cfg.layout.blocks);
const tracker = new NotifTracker(agent);
if (disc) {
  send({ type: 'seed', name: agent.name, addr: disc.getMultiaddrs()[0]! });
} else {
  // Partial metadata: connection info, the cache's regions and its layout label.
  send({ type: 'metadata', md: Buffer.from(cache.getMetadata()).toString('base64') });
}

let released = 0;
let failed = 0;
let freed: (() => void) | undefined;
const holds: Promise<void>[] = [];

for (let r = 0; r < cfg.requests; r++) {
  const n = blocksOf(cfg, r);
  // Wait for decode to free blocks when the cache is full (as an engine would queue).
  while (pool.freeCount < n) await new Promise<void>((resolve) => (freed = resolve));
  const blocks = pool.allocate(n);
  // Synthetic KV: a function of (request, block id, layer, plane), so decode
  // checks every byte without asking.
  fillKvBlocks(cache, blocks, r);
  const id = `req-${r}`;
  holds.push(
    releaseAfterReads(tracker, pool, id, blocks, { timeoutMs: cfg.holdTimeoutMs }).then(
      () => {
        released++;
        freed?.();
      },
      (err: Error) => {
        failed++;
        process.stderr.write(`prefill: ${id}: ${err.message} (blocks freed)\n`);
        freed?.();
      },
    ),
  );
  send({
    type: 'request',
    request: r,
    id,
    blocks: Array.from(blocks),
    at: performance.timeOrigin + performance.now(),
  });
}
send({ type: 'end' });
await Promise.all(holds);
send({
  type: 'summary',
  released,
  failed,
  freeBlocks: pool.freeCount,
  totalBlocks: pool.size,
});
tracker.close();
cache.close();
await agent.close();
