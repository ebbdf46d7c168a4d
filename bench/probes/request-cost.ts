/**
 * What one request costs the UCX backend: single requests of one descriptor,
 * a window of them in flight, reposted as soon as each is DONE. Prints the
 * request rate and the CPU time per request, of the JavaScript thread, of
 * the whole initiator process (progress thread included) and of the target
 * process (over tcp it serves every put; on two cores the three compete).
 * CPU per request is much steadier than the rate on this shared VM, so
 * compare builds by it.
 *
 *   npx tsx bench/probes/request-cost.ts [--size 4096] [--window 16] [--op WRITE]
 *                                     [--seconds 2] [--params '{"profile":"tcp","devices":"lo"}']
 *                                     [--alloc]   (memory from agent.alloc(n, { backend: 'UCX' }) on both sides)
 *
 * The target is nixl-ts-bench's (cli-target.ts); traffic stays on this host.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import '../../src/polyfills.js';
import { Agent } from '../../src/agent.js';
import { startCliTarget } from './cli-target.js';

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '4096' },
    window: { type: 'string', default: '16' },
    op: { type: 'string', default: 'WRITE' },
    seconds: { type: 'string', default: '2' },
    params: { type: 'string', default: '{"profile":"tcp","devices":"lo"}' },
    alloc: { type: 'boolean', default: false },
  },
});
const SIZE = Number(args.size);
const WINDOW = Number(args.window);
const OP = args.op === 'READ' ? 'READ' : 'WRITE';
const REGION = 64 << 20;
const params = JSON.parse(args.params!) as Record<string, string>;

/** CPU time (user + system) of a thread or process, in µs (10 ms ticks). */
function cpuUs(statPath: string): number {
  const fields = readFileSync(statPath, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}
const jsThreadCpuUs = () => cpuUs(`/proc/self/task/${process.pid}/stat`);

const a = await Agent.create({ name: `cost-${process.pid}`, backends: [{ type: 'UCX', params }] });
const memory = a.alloc(REGION, args.alloc ? { backend: 'UCX' } : {}).buffer;
const local = a.registerMem(memory).descs.at(0);
const target = await startCliTarget('UCX', params, REGION, { backendAlloc: args.alloc });
a.loadRemoteMD(target.md);

const reqs = Array.from({ length: WINDOW }, () =>
  a.createXferReq(
    OP,
    [{ addr: local.addr, len: SIZE }],
    [{ addr: target.addr, len: SIZE }],
    target.name,
  ),
);
async function run(ms: number): Promise<number> {
  let done = 0;
  const deadline = performance.now() + ms;
  await Promise.all(
    reqs.map(async (r) => {
      // The clock is read every 16 requests, as put-flush.c reads it every 64
      // rounds: at a few hundred ns per request a read each time shows.
      for (let i = 0; (i & 15) !== 0 || performance.now() < deadline; i++) {
        if (r.post() !== 'DONE') await r.done;
        done++;
      }
    }),
  );
  return done;
}

await run(200); // warm-up: endpoints wired
const js0 = jsThreadCpuUs();
const target0 = cpuUs(`/proc/${target.pid}/stat`);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const n = await run(Number(args.seconds) * 1000);
const secs = (performance.now() - t0) / 1e3;
const jsUs = (jsThreadCpuUs() - js0) / n;
const targetUs = (cpuUs(`/proc/${target.pid}/stat`) - target0) / n;
const cpu = process.cpuUsage(cpu0);
console.log(
  `${OP} ${SIZE} B x1, ${WINDOW} in flight, ${args.params}: ${(n / secs).toFixed(0)} requests/s; ` +
    `CPU per request: JavaScript thread ${jsUs.toFixed(2)} µs, process ${((cpu.user + cpu.system) / n).toFixed(2)} µs, ` +
    `target process ${targetUs.toFixed(1)} µs`,
);
for (const r of reqs) r.release();
await target.stop();
await a.close();
