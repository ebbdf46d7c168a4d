// One-off probe for issue #17: polled socket READs (or WRITEs) of a few sizes
// against a target agent in a child process, in chunks of 1000, as
// nixlbench's loop polls them; per chunk the µs per transfer, the µs spent in
// postXferReq, and who sent the posts (the lingering I/O thread or not).
// (The runs in bench/cli/results/2026-12-socket-read-mid/raw/probe-after-*
// also printed two counters of a change that was not kept.)
//   flock /tmp/bench.lock npx tsx bench/probes/read-mid.ts
// Env: OP=READ|WRITE, SIZES=16384,32768,65536,131072, CHUNKS=4, PARAMS=k=v,k=v
// (backend params for both sides).
import { connectToTcpTarget, probeParams } from './tcp-target.js';

const target = await connectToTcpTarget(probeParams());
const { agent, tcp, local: desc } = target;
const op = (process.env.OP ?? 'READ') as 'READ' | 'WRITE';
for (const len of (process.env.SIZES ?? '16384,32768,65536,131072').split(',').map(Number)) {
  const req = agent.createXferReq(
    op,
    [{ addr: desc.addr, len, devId: 0 }],
    [{ addr: target.remoteAddr, len, devId: 0 }],
    'target',
  );
  for (let chunk = 0; chunk < Number(process.env.CHUNKS ?? 4); chunk++) {
    const l0 = tcp.lingerCounters();
    const r0 = tcp.regimeCounters();
    let postNs = 0n;
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) {
      const p0 = process.hrtime.bigint();
      const s = agent.postXferReq(req);
      postNs += process.hrtime.bigint() - p0;
      if (s === 'DONE') continue;
      while (agent.getXferStatus(req) !== 'DONE');
    }
    const us = performance.now() - t0; // ms for 1000 = µs each
    const l = tcp.lingerCounters();
    const r = tcp.regimeCounters();
    console.log(
      `${op} ${len} chunk ${chunk}: ${us.toFixed(1)} µs, post ${(Number(postNs) / 1e6).toFixed(1)} µs; ` +
        `linger hits ${l.hits - l0.hits} misses ${l.misses - l0.misses}; ` +
        `caller settles ${r.callerSettles - r0.callerSettles}`,
    );
  }
  req.release();
}
await target.close();
