// One-off probe for issue #17: does the first READ size above the caller-read
// limit (64 KiB, after polled 32 KiB READs whose answers the caller read) fall
// into a slow mode, and what distinguishes a slow chunk? Rounds of one chunk
// per size (a fresh request each, as a bench cell makes), polled as
// nixlbench's loop polls, against a target agent in a child process. Per
// chunk: µs per transfer (median, p90, transfers over 1 ms), µs in
// postXferReq, who sent the posts (the lingering I/O thread: linger hits),
// who read the answers (the caller: callerSettles), and per thread of both
// processes the context switches, the time spent runnable but waiting for a
// CPU (schedstat's run delay) and the CPUs it was seen on; plus
// CLOCK_MONOTONIC bounds of each chunk, to cut a `perf sched record -k mono`
// trace (bench/cli/results/2026-12-socket-read-slow-mode/sched.sh).
//   flock /tmp/bench.lock npx tsx bench/probes/read-slow-mode.ts
// Env: SIZES=32768,65536 (one chunk each per round), ROUNDS=12, N=1000
// (transfers per chunk), GAP_MS=0 (an idle pause before each chunk, as the
// bench's baselines and control requests leave between cells: the threads
// sleep, and wake where the scheduler puts them), PARAMS=k=v,k=v (backend
// params for both sides). Each chunk ends with a fixed piece of work on the
// calling thread (500 copies of 64 KiB, outside the transfers' clock): its
// µs per copy says how fast that CPU ran then.
import { readFileSync, readdirSync } from 'node:fs';
import { connectToTcpTarget, probeParams } from './tcp-target.js';

interface ThreadStat {
  vol: number;
  invol: number;
  runNs: number;
  waitNs: number;
  cpu: number;
}

/** A thread's context switches, schedstat times and last CPU, or undefined once it is gone. */
function threadStat(pid: number, tid: number): ThreadStat | undefined {
  try {
    const dir = `/proc/${pid}/task/${tid}`;
    const status = readFileSync(`${dir}/status`, 'utf8');
    const vol = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)![1]);
    const invol = Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)![1]);
    const [runNs, waitNs] = readFileSync(`${dir}/schedstat`, 'utf8').split(' ').map(Number);
    // stat: the fields after the command's closing parenthesis; "processor" is field 39.
    const stat = readFileSync(`${dir}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { vol, invol, runNs: runNs!, waitNs: waitNs!, cpu: Number(fields[36]) };
  } catch {
    return undefined;
  }
}

function tids(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map(Number);
}

const before = new Set(tids(process.pid));
const target = await connectToTcpTarget(probeParams());
const { agent, tcp, local: desc, peer } = target;
// This process's threads started with the agent: the TCP engine's I/O thread
// (and whatever else the agent started). The target's: all of its threads.
const engineTids = tids(process.pid).filter((t) => !before.has(t));
const watched: { who: string; pid: number; tid: number }[] = [
  { who: 'caller', pid: process.pid, tid: process.pid },
  ...engineTids.map((tid) => ({ who: `init-new-${tid}`, pid: process.pid, tid })),
  ...tids(peer.pid).map((tid) => ({
    who: tid === peer.pid ? 'target-main' : `target-${tid}`,
    pid: peer.pid,
    tid,
  })),
];
const monoNs = () => process.hrtime.bigint();
console.log(
  `# pid ${process.pid} target pid ${peer.pid}; engine threads ${engineTids.join(',')}; ` +
    `params ${JSON.stringify(probeParams())}`,
);

const n = Number(process.env.N ?? 1000);
const times = new Float64Array(n);
const sizes = (process.env.SIZES ?? '32768,65536').split(',').map(Number);
const gapMs = Number(process.env.GAP_MS ?? 0);
const calFrom = Buffer.alloc(65536, 1);
const calTo = Buffer.alloc(65536);
/** µs per 64 KiB copy on this thread, now. */
function calibrate(): number {
  const t = performance.now();
  for (let k = 0; k < 500; k++) calFrom.copy(calTo);
  return ((performance.now() - t) * 1000) / 500;
}
for (let round = 0; round < Number(process.env.ROUNDS ?? 12); round++) {
  for (const len of sizes) {
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    const req = agent.createXferReq(
      'READ',
      [{ addr: desc.addr, len, devId: 0 }],
      [{ addr: target.remoteAddr, len, devId: 0 }],
      'target',
    );
    const s0 = watched.map((w) => threadStat(w.pid, w.tid));
    const cpusSeen = watched.map(() => new Set<number>());
    const l0 = tcp.lingerCounters();
    const r0 = tcp.regimeCounters();
    let postNs = 0n;
    const m0 = monoNs();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const a = performance.now();
      const p0 = monoNs();
      const s = agent.postXferReq(req);
      postNs += monoNs() - p0;
      if (s !== 'DONE') while (agent.getXferStatus(req) !== 'DONE');
      times[i] = performance.now() - a;
      // A few placement samples per chunk, outside the transfers' clock.
      if ((i & 255) === 255) {
        watched.forEach((w, k) => {
          const st = threadStat(w.pid, w.tid);
          if (st) cpusSeen[k]!.add(st.cpu);
        });
      }
    }
    const us = performance.now() - t0;
    const m1 = monoNs();
    const l = tcp.lingerCounters();
    const r = tcp.regimeCounters();
    const cal = calibrate();
    const sorted = Array.from(times).sort((x, y) => x - y);
    const q = (f: number) => (sorted[Math.floor(f * (n - 1))]! * 1000).toFixed(1);
    const over1ms = sorted.filter((t) => t > 1).length;
    console.log(
      `round ${round} READ ${len}: ${((us * 1000) / n).toFixed(1)} µs/transfer ` +
        `(median ${q(0.5)}, p90 ${q(0.9)}, >1ms ${over1ms}), post ${(Number(postNs) / 1e3 / n).toFixed(1)} µs; ` +
        `linger hits ${l.hits - l0.hits} misses ${l.misses - l0.misses}; ` +
        `caller settles ${r.callerSettles - r0.callerSettles}; copy 64K ${cal.toFixed(2)} µs; mono ${m0}-${m1}`,
    );
    watched.forEach((w, k) => {
      const a = s0[k];
      const b = threadStat(w.pid, w.tid);
      if (!a || !b || b.vol + b.invol === a.vol + a.invol) return;
      console.log(
        `  ${w.who.padEnd(18)} tid ${w.tid}: cs vol ${b.vol - a.vol} invol ${b.invol - a.invol}, ` +
          `run ${((b.runNs - a.runNs) / 1e3 / n).toFixed(1)} µs/xfer, ` +
          `runq wait ${((b.waitNs - a.waitNs) / 1e3 / n).toFixed(1)} µs/xfer, ` +
          `cpus seen ${[...cpusSeen[k]!].sort().join(',')} last ${b.cpu}`,
      );
    });
    req.release();
  }
}
await target.close();
