// One-off probe for issue #17: polled socket READs and WRITEs of one small
// size, alternating in chunks of 1000 transfers against a target agent in a
// child process, as nixlbench's loop polls them. Per chunk: µs per transfer,
// µs in postXferReq, who sent the posts (linger hits: the I/O thread), who
// read the answers (caller settles: the polling caller's status reads), and
// context switches per transfer of this process's main thread, of its other
// threads (the engine's I/O thread among them) and of the whole target.
//   flock /tmp/bench.lock npx tsx bench/probes/read-4k.ts
// Env: SIZE=4096, CHUNKS=4 (per op), OPS=READ,WRITE, PARAMS=k=v,k=v (both sides).
import { readdirSync, readFileSync } from 'node:fs';

import { connectToTcpTarget, probeParams } from './tcp-target.js';

/** Voluntary + involuntary context switches of one thread (or of a whole process, tid omitted). */
function switches(pid: number, tid?: number): number {
  const tids = tid !== undefined ? [tid] : readdirSync(`/proc/${pid}/task`).map(Number);
  let n = 0;
  for (const t of tids) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      for (const m of s.matchAll(/ctxt_switches:\s+(\d+)/g)) n += Number(m[1]);
    } catch {
      // a thread that ended meanwhile
    }
  }
  return n;
}

const target = await connectToTcpTarget(probeParams());
const { agent, tcp, peer, local: desc } = target;
const len = Number(process.env.SIZE ?? 4096);
const ops = (process.env.OPS ?? 'READ,WRITE').split(',') as ('READ' | 'WRITE')[];
const reqs = new Map(
  ops.map((op) => [
    op,
    agent.createXferReq(
      op,
      [{ addr: desc.addr, len, devId: 0 }],
      [{ addr: target.remoteAddr, len, devId: 0 }],
      'target',
    ),
  ]),
);
const me = process.pid;
const N = 1000;
for (let chunk = 0; chunk < Number(process.env.CHUNKS ?? 4); chunk++) {
  for (const op of ops) {
    const req = reqs.get(op)!;
    const l0 = tcp.lingerCounters();
    const r0 = tcp.regimeCounters();
    const [main0, all0, tgt0] = [switches(me, me), switches(me), switches(peer.pid)];
    let postNs = 0n;
    let inPost = 0;
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const p0 = process.hrtime.bigint();
      const s = agent.postXferReq(req);
      postNs += process.hrtime.bigint() - p0;
      if (s === 'DONE') {
        inPost++;
        continue;
      }
      while (agent.getXferStatus(req) !== 'DONE');
    }
    const us = (performance.now() - t0) * (1000 / N);
    const [main1, all1, tgt1] = [switches(me, me), switches(me), switches(peer.pid)];
    const l = tcp.lingerCounters();
    const r = tcp.regimeCounters();
    const per = (a: number, b: number): string => ((b - a) / N).toFixed(2);
    console.log(
      `${op} ${len} chunk ${chunk}: ${us.toFixed(1)} µs, post ${(Number(postNs) / 1e3 / N).toFixed(1)} µs; ` +
        `linger hits ${l.hits - l0.hits} misses ${l.misses - l0.misses}; ` +
        `caller settles ${r.callerSettles - r0.callerSettles}, done in post ${inPost}, ` +
        `regime ${r.sharedCpu ? 'on' : 'off'} (caller-read posts ${r.callerReadPosts - r0.callerReadPosts}); ` +
        `switches per transfer: main ${per(main0, main1)}, other threads ${per(all0 - main0, all1 - main1)}, ` +
        `target ${per(tgt0, tgt1)}`,
    );
  }
}
for (const req of reqs.values()) req.release();
await target.close();
