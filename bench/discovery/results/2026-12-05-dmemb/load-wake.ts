/**
 * What loading one peer's metadata (loadRemoteMD: decode, the TCP backend's addPeer, which
 * wakes the engine's sleeping I/O thread) costs when the loads come in passes of k, the
 * passes apart: k = 1 is a load per turn of the event loop, as records arrived during a
 * start; larger k is what the gossip discovery's load pass makes of the records accepted in
 * one turn. Between passes the main thread busy-waits `gapMs` (it stays on its CPU, as in a
 * start, and the engine thread goes back to sleep), or with `--sleep` sleeps instead.
 * Each pass is timed by process.cpuUsage() around it (all threads; getrusage brings the
 * calling thread's time up to date, /proc's schedstat does not); a control pass times the
 * same calls around nothing.
 * Usage: npx tsx load-wake.ts [peers=128] [gapMs=2] [rounds=5] [--sleep]
 */
import { randomBytes } from 'node:crypto';
import { Agent } from '../../../../src/agent.js';
import { decodeMetadata, encodeMetadata } from '../../../../src/metadata.js';

const [peers = 128, gapMs = 2, rounds = 5] = process.argv
  .slice(2)
  .filter((a) => !a.startsWith('--'))
  .map(Number);
const sleepGaps = process.argv.includes('--sleep');
const backends = [{ type: 'TCP' as const, params: { bind_addr: '127.0.0.1', port: '0' } }];
const cpuUs = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const target = await Agent.create({ name: 'lw-target', backends });
const loader = await Agent.create({ name: 'lw-loader', backends });
const base = decodeMetadata(target.getLocalMD());
const blobs = Array.from({ length: peers }, (_, i) =>
  encodeMetadata({ ...base, name: `lw-peer-${i}`, agentId: new Uint8Array(randomBytes(16)) }),
);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const gap = async () => {
  if (sleepGaps) return sleep(gapMs);
  for (const t = performance.now(); performance.now() - t < gapMs;);
  await new Promise((r) => setImmediate(r));
};

/** µs of CPU per load, loads in passes of k (0: the control, no loads). */
async function round(k: number): Promise<number> {
  await sleep(50);
  let us = 0;
  const pass = Math.max(1, k);
  for (let i = 0; i < peers; i += pass) {
    await gap();
    const a = cpuUs();
    if (k) for (let j = i; j < Math.min(peers, i + pass); j++) loader.loadRemoteMD(blobs[j]!);
    us += cpuUs() - a;
  }
  if (k) for (let i = 0; i < peers; i++) loader.invalidateRemoteMD(`lw-peer-${i}`);
  return us / (k ? peers : Math.ceil(peers / pass));
}

const sizes = [0, 1, 2, 4, 8, peers];
const out = new Map<number, number[]>(sizes.map((k) => [k, []]));
for (let r = 0; r < rounds; r++) for (const k of sizes) out.get(k)!.push(await round(k));
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(
  `${peers} loads, passes ${sleepGaps ? 'slept' : 'busy-waited'} ${gapMs} ms apart, ${rounds} rounds (median; all rounds)`,
);
for (const [k, xs] of out)
  console.log(
    `${k ? `pass of ${String(k).padEnd(4)}` : 'control     '} ${med(xs).toFixed(1).padStart(6)} µs per ${k ? 'load' : 'pass'}   [${xs.map((x) => x.toFixed(0)).join(' ')}]`,
  );
await Promise.all([target.close(), loader.close()]);
