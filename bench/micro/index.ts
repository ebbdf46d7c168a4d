/**
 * Micro-benchmarks of the agent's hot paths (tinybench), over the LOCAL
 * backend so that no transport cost hides the agent's own:
 *   - prepXferDlist of 50,000 descriptors
 *   - makeXferReq + postXferReq on a prepared 1,024-descriptor list
 *   - getXferStatus
 * Run: npm run bench:micro  (add --json for machine-readable output)
 */
import { Bench } from 'tinybench';

import { Agent } from '../../src/agent.js';
import { DescList } from '../../src/descriptors.js';

const json = process.argv.includes('--json');
const agent = await Agent.create({ name: 'micro', backends: ['LOCAL'] });

const BLOCK = 64;
const src = agent.registerMem(agent.alloc(50_000 * 2 * BLOCK).buffer);
const dst = agent.registerMem(agent.alloc(50_000 * 2 * BLOCK).buffer);
const srcBase = src.descs.at(0).addr;
const dstBase = dst.descs.at(0).addr;

// Every other block, so that nothing merges.
function blocks(base: bigint, n: number): DescList {
  const l = new DescList('DRAM', n);
  for (let i = 0; i < n; i++) l.add(base + BigInt(i * 2 * BLOCK), BLOCK);
  return l;
}
const big = blocks(srcBase, 50_000);
const local1k = agent.prepXferDlist('', blocks(srcBase, 1024));
const remote1k = agent.prepXferDlist(agent.name, blocks(dstBase, 1024));
const idx = Uint32Array.from({ length: 1024 }, (_, i) => i);

const doneReq = agent.createXferReq('WRITE', [src.descs.at(0)], [dst.descs.at(0)], agent.name);
agent.postXferReq(doneReq);
await doneReq.done;

const bench = new Bench({ time: 1000, warmupTime: 200 });
bench
  .add('prepXferDlist, 50,000 descriptors', () => {
    agent.prepXferDlist('', big).release();
  })
  .add('makeXferReq + postXferReq, prepared 1,024 descriptors (64 B each, copied inline)', () => {
    const req = agent.makeXferReq('WRITE', local1k, idx, remote1k, idx);
    agent.postXferReq(req);
    req.release();
  })
  .add('makeXferReq only, prepared 1,024 descriptors', () => {
    agent.makeXferReq('WRITE', local1k, idx, remote1k, idx).release();
  })
  .add('getXferStatus (completed request)', () => {
    agent.getXferStatus(doneReq);
  });

await bench.run();
const rows = bench.tasks.map((t) => {
  const r = t.result as any;
  const mean = r?.latency?.mean ?? r?.mean;
  const p99 = r?.latency?.p99 ?? r?.p99;
  return {
    task: t.name,
    'mean (µs)': +(mean * 1000).toFixed(3),
    'p99 (µs)': +(p99 * 1000).toFixed(3),
    samples: r?.latency?.samplesCount ?? r?.samples?.length,
  };
});
if (json) console.log(JSON.stringify(rows, null, 2));
else console.table(rows);
await agent.close();
