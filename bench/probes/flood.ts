/**
 * What a stranger costs a TCP target before it authenticates. The target is
 * nixl-ts-bench's (cli-target.ts), a child process; this process opens
 * connections to it that never say HELLO (loopback only, bounded in count and
 * time).
 *
 *   npx tsx bench/probes/flood.ts [--connections 1000] [--rounds 3]
 *
 * 1. Memory per unauthenticated connection: the target's RSS before and after
 *    `connections` idle connections (held 1 s), divided by their number; the
 *    worst of `rounds` rounds (the first, usually: later rounds reuse the
 *    memory the first one's connections gave back). Target: ≤ 16 KiB.
 * 2. CPU under descriptor exhaustion: the target's descriptor limit is lowered
 *    to 256 (prlimit), 600 connections are opened past it and held 3 s; the
 *    target's CPU time over that window as a share of one core. Target: ≤ 10 %.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

import { tcpEndpoints } from '../cli/path.js';
import { startCliTarget } from './cli-target.js';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
  },
});
const connections = Number(values.connections);
const rounds = Number(values.rounds);

const rssKiB = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const cpuSeconds = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens `n` idle connections, 100 at a time; failures are counted, not fatal. */
async function open(port: number, n: number): Promise<{ sockets: Socket[]; failed: number }> {
  const sockets: Socket[] = [];
  let failed = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      s.once('connect', () => (sockets.push(s), resolve()));
      s.once('error', () => (failed++, resolve()));
      s.on('data', () => {}); // the challenge
    });
  for (let i = 0; i < n; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, n - i) }, one));
  }
  return { sockets, failed };
}

const target = await startCliTarget('TCP', { same_host: 'off' }, 1 << 20);
const { port } = tcpEndpoints(target.md);
const pid = target.pid;

const perConn: number[] = [];
for (let r = 0; r < rounds; r++) {
  const before = rssKiB(pid);
  const { sockets, failed } = await open(port, connections);
  await pause(1000);
  const after = rssKiB(pid);
  perConn.push((after - before) / sockets.length);
  console.log(
    `round ${r + 1}: ${sockets.length} idle connections (${failed} failed): target RSS ${before} -> ${after} KiB, ${((after - before) / sockets.length).toFixed(2)} KiB each`,
  );
  for (const s of sockets) s.destroy();
  await pause(500);
}
const worst = Math.max(...perConn);

execFileSync('prlimit', ['--pid', String(pid), '--nofile=256:256']);
const flood = await open(port, 600);
const cpu0 = cpuSeconds(pid);
const t0 = performance.now();
await pause(3000);
const share = (cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000);
for (const s of flood.sockets) s.destroy();
await target.stop();

console.log('');
console.log(
  `memory per unauthenticated connection: ${worst.toFixed(2)} KiB (worst of ${rounds} rounds; target ≤ 16 KiB)`,
);
console.log(
  `CPU while flooded past a 256-descriptor limit (${flood.sockets.length} connected, ${flood.failed} failed): ${(share * 100).toFixed(1)}% of a core (target ≤ 10%)`,
);
