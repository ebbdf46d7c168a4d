/**
 * Micro-benchmarks of the agent's hot paths (tinybench), over the LOCAL
 * backend so that no transport cost hides the agent's own:
 *   - prepXferDlist of 50,000 descriptors
 *   - makeXferReq + postXferReq on a prepared 1,024-descriptor list
 *   - getXferStatus
 * Each operation's result is checked once before anything is timed (the
 * copies moved the right bytes, the list has every descriptor, the status
 * reads DONE): a fast path that does the wrong thing exits 1, untimed.
 * Run: npm run bench:micro  (add --json for machine-readable output)
 */
import { Bench } from 'tinybench';

import { Agent } from '../../src/agent.js';
import { DescList } from '../../src/descriptors.js';

const json = process.argv.includes('--json');
const agent = await Agent.create({ name: 'micro', backends: ['LOCAL'] });

const BLOCK = 64;
const srcBytes = agent.alloc(50_000 * 2 * BLOCK).buffer;
const dstBytes = agent.alloc(50_000 * 2 * BLOCK).buffer;
const src = agent.registerMem(srcBytes);
const dst = agent.registerMem(dstBytes);
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

/** Fails the run (exit 1) before any timing when an operation's result is wrong. */
function expect(ok: boolean, what: string): void {
  if (ok) return;
  process.stderr.write(`bench:micro: check failed before timing: ${what}\n`);
  process.exit(1);
}
// The whole-region copy moves every byte.
for (let i = 0; i < srcBytes.length; i++) srcBytes[i] = (i * 7 + 3) & 0xff;
agent.postXferReq(doneReq);
await doneReq.done;
expect(dstBytes.equals(srcBytes), 'a WRITE of the whole region left different bytes');
expect(agent.getXferStatus(doneReq) === 'DONE', 'getXferStatus of a completed WRITE is not DONE');
// The prepared 1,024-descriptor request moves exactly its blocks (every other one).
srcBytes.fill(0x11);
dstBytes.fill(0);
const once = agent.makeXferReq('WRITE', local1k, idx, remote1k, idx);
agent.postXferReq(once);
await once.done;
once.release();
for (let i = 0; i < 2048; i++) {
  const block = dstBytes.subarray(i * BLOCK, (i + 1) * BLOCK);
  const want = i % 2 === 0 ? 0x11 : 0;
  expect(
    block.every((b) => b === want),
    `after the prepared 1,024-descriptor WRITE, block ${i} holds ${block[0]} instead of ${want}`,
  );
}
const list = agent.prepXferDlist('', big);
expect(list.count === 50_000, `prepXferDlist of 50,000 descriptors holds ${list.count}`);
list.release();

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
