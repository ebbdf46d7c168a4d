/**
 * One UCX WRITE (4 KiB unless SIZE says) with a notification at a time
 * against the probes' CLI target, N times after 300 warm-ups: mean, median and p90 µs per transfer
 * (bench/probes/notif-write.ts reports means only, which one stall dominates).
 *
 *   npx tsx ack-latency.ts PARAMS_JSON awaited|polled [N]
 *
 * SIZE=bytes sets the WRITE's size (default 4096); SPINUS=… the agent's
 * waitSpinUs (default 100). With the build of
 * experiment.patch, UCXTRACE=1 writes per-thread event times to
 * /tmp/ucxack/trace.PID (phases.py, slow.py read them).
 */
import '../../../../src/polyfills.js';
import { Agent } from '../../../../src/agent.js';
import { startCliTarget } from '../../cli-target.js';
const params = JSON.parse(process.argv[2] ?? '{"error_handling":"process"}');
const polled = process.argv[3] === 'polled';
const N = Number(process.argv[4] ?? 2000);
const size = Number(process.env.SIZE ?? 4096);
const a = await Agent.create({
  name: `tr-${process.pid}`,
  waitSpinUs: Number(process.env.SPINUS ?? 100),
  backends: [{ type: 'UCX', params }],
});
const local = a.registerMem(a.alloc(size).buffer).descs.at(0)!;
const target = await startCliTarget('UCX', params, size, { backendAlloc: true });
a.loadRemoteMD(target.md);
const req = a.createXferReq(
  'WRITE',
  [{ addr: local.addr, len: size }],
  [{ addr: target.addr, len: size }],
  target.name,
);
const lat = new Float64Array(N);
async function run(n: number) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    if (a.postXferReq(req, { notif: 'n' }) !== 'DONE') {
      if (polled) while (a.getXferStatus(req) !== 'DONE') {}
      else await req.wait();
    }
    lat[i] = performance.now() - s;
  }
  return ((performance.now() - t0) * 1000) / n;
}
await run(300);
const mean = await run(N);
const sorted = Array.from(lat).sort((x, y) => x - y);
const q = (f: number) => +(sorted[Math.floor(f * (N - 1))]! * 1000).toFixed(1);
console.log(JSON.stringify({ params, polled, us: +mean.toFixed(1), p50: q(0.5), p90: q(0.9) }));
req.release();
await target.stop();
await a.close();
