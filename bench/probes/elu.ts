/**
 * The target's event-loop utilization while a 4 GiB WRITE lands in it: the
 * engine thread serves the transfer, so the target's JavaScript should stay
 * near idle. The target is nixl-ts-bench's (cli-target.ts); the 4 GiB are 8
 * descriptors of 512 MiB into one 512 MiB target region (Node buffers stop
 * at 4 GiB).
 *
 *   npx tsx bench/probes/elu.ts [--same-host]
 */
import { parseArgs } from 'node:util';

import { Agent } from '../../src/agent.js';
import { startCliTarget } from './cli-target.js';

const { values: args } = parseArgs({
  options: { 'same-host': { type: 'boolean', default: false } },
});
const MiB = 1024 * 1024;
const REGION = 512 * MiB;
const COUNT = 8;
const params = { same_host: args['same-host'] ? 'auto' : 'off', timeout_ms: '60000' };

const target = await startCliTarget('TCP', { timeout_ms: '60000' }, REGION);
const a = await Agent.create({
  name: `elu-init-${process.pid}`,
  backends: [{ type: 'TCP', params }],
});
const { buffer } = a.alloc(REGION);
buffer.fill(3);
const base = a.registerMem(buffer).descs.at(0).addr;
a.loadRemoteMD(target.md);
const local = Array.from({ length: COUNT }, () => ({ addr: base, len: REGION }));
const remotes = Array.from({ length: COUNT }, () => ({ addr: target.addr, len: REGION }));
await a.write(local.slice(0, 1), remotes.slice(0, 1), target.name); // connect and warm up

await target.control.request('begin-timed');
const t0 = process.hrtime.bigint();
await a.write(local, remotes, target.name);
const ns = Number(process.hrtime.bigint() - t0);
const { elu } = await target.control.request<{ elu: number }>('end-timed');
console.log(
  `4 GiB WRITE (${COUNT} x 512 MiB, ${params.same_host === 'off' ? 'socket' : 'same-host'} path): ` +
    `${((COUNT * REGION) / ns).toFixed(2)} GB/s in ${(ns / 1e6).toFixed(0)} ms; ` +
    `target event-loop utilization ${(elu * 100).toFixed(2)}%`,
);
await a.close();
await target.stop();
