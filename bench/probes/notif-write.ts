/**
 * Batch-1 WRITEs with a notification (TCP, or UCX with --backend UCX), against nixl-ts-bench's own target
 * process: µs per transfer, polled (post, then getXferStatus until DONE, as
 * nixlbench loops) and awaited (await req.wait()), with and without the
 * notification, per size. What making DONE wait for the target's
 * acknowledgement of the notification costs (native/tcp/FRAMES.md,
 * "Ordering and completion"; UCX: its notif_ack parameter). Each cell stops
 * after --iters transfers or --seconds, whichever comes first.
 *
 *   npx tsx bench/probes/notif-write.ts [--sizes 4096,65536,1048576] [--iters 2000]
 *                                       [--seconds 2] [--params '{"same_host":"off"}']
 *                                       [--backend UCX --params '{"profile":"tcp","devices":"lo"}']
 */
import { parseArgs } from 'node:util';

import '../../src/polyfills.js';
import { Agent } from '../../src/agent.js';
import { startCliTarget } from './cli-target.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '4096,65536,1048576' },
    iters: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '2' },
    params: { type: 'string', default: '{"same_host":"off"}' },
    backend: { type: 'string', default: 'TCP' },
  },
});
const SIZES = args.sizes!.split(',').map(Number);
const ITERS = Number(args.iters);
const SECONDS = Number(args.seconds);
const params = JSON.parse(args.params!) as Record<string, string>;
const REGION = Math.max(...SIZES);

const BACKEND = args.backend!;
const a = await Agent.create({
  name: `notif-${process.pid}`,
  backends: [{ type: BACKEND, params }],
});
const local = a.registerMem(a.alloc(REGION).buffer).descs.at(0)!;
// UCX: the target's region in memory UCX allocated, as this side's, which its
// shared-memory transports map in a peer.
const target = await startCliTarget(BACKEND, params, REGION, { backendAlloc: BACKEND === 'UCX' });
a.loadRemoteMD(target.md);

/** µs per transfer over at most `n` transfers (and SECONDS). */
async function cell(size: number, notif: boolean, polled: boolean, n: number): Promise<number> {
  const req = a.createXferReq(
    'WRITE',
    [{ addr: local.addr, len: size }],
    [{ addr: target.addr, len: size }],
    target.name,
  );
  const opts = notif ? { notif: 'n' } : undefined;
  const until = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  let i = 0;
  for (; i < n && performance.now() < until; i++) {
    if (a.postXferReq(req, opts) === 'DONE') continue;
    if (polled) {
      const stuck = performance.now() + 10_000;
      while (a.getXferStatus(req) !== 'DONE') {
        if (performance.now() > stuck) throw new Error(`${size} B: not DONE after 10 s`);
      }
    } else {
      await req.wait();
    }
  }
  const us = ((performance.now() - t0) * 1000) / i;
  req.release();
  return us;
}

await cell(SIZES[0]!, true, false, 10); // connects
const rows = [];
for (const size of SIZES) {
  const row: Record<string, number> = { size };
  for (const polled of [true, false]) {
    for (const notif of [false, true]) {
      await cell(size, notif, polled, Math.max(10, ITERS / 10)); // warm-up
      row[`${polled ? 'polled' : 'awaited'}${notif ? '+notif' : ''}`] = +(
        await cell(size, notif, polled, ITERS)
      ).toFixed(1);
    }
  }
  rows.push(row);
}
console.log(JSON.stringify({ backend: BACKEND, params, rows }));
await target.stop();
await a.close();
