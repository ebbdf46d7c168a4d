/**
 * The target's event-loop utilization while a 4 GiB WRITE lands in it: the
 * engine thread serves the transfer, so the target's JavaScript should stay
 * near idle. Two processes; the 4 GiB are 8 descriptors of 512 MiB into one
 * 512 MiB target region (Node buffers stop at 4 GiB).
 *
 *   npx tsx bench/tcp/elu.ts [--same-host]
 */
import { parseArgs } from 'node:util';

import { Agent } from '../../src/agent.js';
import { TargetProcess } from './target-process.js';

const { values: args } = parseArgs({
  options: { 'same-host': { type: 'boolean', default: false } },
});
const MiB = 1024 * 1024;
const REGION = 512 * MiB;
const COUNT = 8;
const params = { same_host: args['same-host'] ? 'auto' : 'off', timeout_ms: '60000' };

const name = `elu-tgt-${process.pid}`;
const target = new TargetProcess(name, REGION, params);
const hello = await target.ready;
const a = await Agent.create({
  name: `elu-init-${process.pid}`,
  backends: [{ type: 'TCP', params }],
});
const { buffer } = a.alloc(REGION);
buffer.fill(3);
const base = a.registerMem(buffer).descs.at(0).addr;
a.loadRemoteMD(Buffer.from(hello.md, 'base64'));
await target.send({ cmd: 'load', md: Buffer.from(a.getLocalMD()).toString('base64') });
const remote = BigInt(hello.addr);
const local = Array.from({ length: COUNT }, () => ({ addr: base, len: REGION }));
const remotes = Array.from({ length: COUNT }, () => ({ addr: remote, len: REGION }));
await a.write(local.slice(0, 1), remotes.slice(0, 1), name); // connect and warm up

await target.send({ cmd: 'elu-start' });
const t0 = process.hrtime.bigint();
await a.write(local, remotes, name);
const ns = Number(process.hrtime.bigint() - t0);
const elu = await target.send({ cmd: 'elu-stop' });
console.log(
  `4 GiB WRITE (${COUNT} x 512 MiB, ${params.same_host === 'off' ? 'socket' : 'same-host'} path): ` +
    `${((COUNT * REGION) / ns).toFixed(2)} GB/s in ${(ns / 1e6).toFixed(0)} ms; ` +
    `target event-loop utilization ${(elu.utilization * 100).toFixed(2)}% ` +
    `(${elu.activeMs.toFixed(1)} ms active of ${elu.wallMs.toFixed(0)} ms)`,
);
await a.close();
await target.close();
