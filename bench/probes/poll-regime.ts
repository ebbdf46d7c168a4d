// One-off probe for poll_progress=auto (native/tcp/shared_cpu_regime.h): 4 KiB
// socket READs and WRITEs in nixlbench's poll loop against a target agent in a
// child process, in chunks of 1000; per chunk the µs per transfer and what the
// regime detector saw. Pin it with `taskset -c 0` to see the shared-CPU regime.
//   flock /tmp/bench.lock taskset -c 0 npx tsx bench/probes/poll-regime.ts
// Env: PP=auto|on|off (poll_progress), OPS=READ,WRITE, CHUNKS=6, PARAMS=k=v,k=v; PIN_IO, PIN_SELF
// and PIN_PEER pin (taskset lists), once connected: every thread of this process
// but the main one (the engine's I/O thread among them), the main thread (the
// caller), and every thread of the target.
// With an addon that lacks the detector (main's before it) the counters read 0.
import { execFileSync } from 'node:child_process';

import { connectToTcpTarget, probeParams } from './tcp-target.js';

const params = probeParams();
if (process.env.PP) params.poll_progress = process.env.PP;
const target = await connectToTcpTarget(params);
const { agent, tcp, peer, local: desc } = target;
const pin = (pid: number, cpus: string | undefined): void => {
  if (cpus) execFileSync('taskset', ['-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
};
const pinAll = (pid: number, cpus: string | undefined): void => {
  if (cpus) execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
};
pinAll(process.pid, process.env.PIN_IO);
pin(process.pid, process.env.PIN_SELF); // without -a: the main thread alone
pinAll(peer.pid, process.env.PIN_PEER);
const none = {
  sharedCpu: false,
  byYields: false,
  byCpus: false,
  switchesOn: 0,
  switchesOff: 0,
  longYields: 0,
  shortYields: 0,
  sameCpuSettles: 0,
  otherCpuSettles: 0,
  probes: 0,
};
const counters = () => {
  try {
    return tcp.regimeCounters();
  } catch {
    return { ...none, callerReadPosts: 0, callerSettles: 0 };
  }
};
for (const op of (process.env.OPS ?? 'READ,WRITE').split(',') as ('READ' | 'WRITE')[]) {
  const req = agent.createXferReq(
    op,
    [{ addr: desc.addr, len: 4096, devId: 0 }],
    [{ addr: target.remoteAddr, len: 4096, devId: 0 }],
    'target',
  );
  for (let chunk = 0; chunk < Number(process.env.CHUNKS ?? 6); chunk++) {
    const c0 = counters();
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) {
      if (agent.postXferReq(req) === 'DONE') continue;
      while (agent.getXferStatus(req) !== 'DONE');
    }
    const us = performance.now() - t0; // ms for 1000 = µs each
    const c = counters();
    console.log(
      `${op} chunk ${chunk}: ${us.toFixed(1)} µs; shared ${c.sharedCpu} (yields ${c.byYields}, ` +
        `CPUs ${c.byCpus}), switches on ${c.switchesOn - c0.switchesOn} off ` +
        `${c.switchesOff - c0.switchesOff}; yields long ${c.longYields - c0.longYields} short ` +
        `${c.shortYields - c0.shortYields}; I/O thread settles on the poster's CPU ` +
        `${c.sameCpuSettles - c0.sameCpuSettles} another ${c.otherCpuSettles - c0.otherCpuSettles} ` +
        `(probes ${c.probes - c0.probes}); caller read ${c.callerReadPosts - c0.callerReadPosts}`,
    );
  }
  req.release();
}
await target.close();
