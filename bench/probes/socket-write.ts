/**
 * One socket WRITE (or READ) size in a nixlbench-style loop (post, then read
 * getXferStatus until DONE), against nixl-ts-bench's own target process, for
 * tracing the path of a single transfer size (strace -f, perf) without the
 * CLI's sweep around it. Prints µs per transfer and the PIDs involved.
 *
 *   npx tsx bench/probes/socket-write.ts [--size 65536] [--op WRITE] [--iters 2000]
 *                                        [--params '{"same_host":"off"}']
 */
import { parseArgs } from 'node:util';

import '../../src/polyfills.js';
import { Agent } from '../../src/agent.js';
import { startCliTarget } from './cli-target.js';

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '65536' },
    op: { type: 'string', default: 'WRITE' },
    iters: { type: 'string', default: '2000' },
    params: { type: 'string', default: '{"same_host":"off"}' },
  },
});
const SIZE = Number(args.size);
const ITERS = Number(args.iters);
const OP = args.op === 'READ' ? 'READ' : 'WRITE';
const params = JSON.parse(args.params!) as Record<string, string>;

const a = await Agent.create({ name: `probe-${process.pid}`, backends: [{ type: 'TCP', params }] });
const memory = a.alloc(SIZE).buffer;
const local = a.registerMem(memory).descs.at(0)!;
const target = await startCliTarget('TCP', params, SIZE);
a.loadRemoteMD(target.md);
const req = a.createXferReq(
  OP,
  [{ addr: local.addr, len: SIZE }],
  [{ addr: target.addr, len: SIZE }],
  target.name,
);

function loop(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    if (a.postXferReq(req) === 'DONE') continue;
    while (a.getXferStatus(req) !== 'DONE');
  }
  return ((performance.now() - t0) * 1000) / n;
}

a.postXferReq(req); // connects
await req.wait();
loop(Math.max(10, ITERS / 10));
const us = loop(ITERS);
console.log(
  JSON.stringify({
    op: OP,
    size: SIZE,
    usPerXfer: +us.toFixed(1),
    initiator: process.pid,
    target: target.pid,
  }),
);
req.release();
await target.stop();
await a.close();
