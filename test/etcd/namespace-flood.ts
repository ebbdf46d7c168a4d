/**
 * Reads a namespace that a writer filled with large junk values and many
 * junk names beside a real agent 'x' (the test does both), in a fresh
 * process run with --expose-gc: agent 'a' starts while a sampler records the
 * memory retained (after a gc, every 200 ms) above what it was before.
 * Prints one JSON line: that peak, what 'a' loaded, its plugin's stats, and
 * how many discovery:error reports it emitted.
 *
 * argv: endpoint, namespace
 */
import '../../src/polyfills.js';

import { Agent } from '../../src/agent.js';
import { etcd } from '../../plugins/etcd/index.js';

const [endpoint = '', namespace = ''] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const TCP = [{ type: 'TCP', params: { bind_addr: '127.0.0.1', port: '0' } }];

const retained = () => {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const base = retained();
let peak = 0;
let samples = 0;
const sampler = setInterval(() => {
  samples++;
  peak = Math.max(peak, retained() - base);
}, 200);

const disc = etcd({
  endpoints: [endpoint],
  namespace,
  maxValueBytes: 2 << 20,
  maxPeers: 64,
  connectTimeoutMs: 60_000,
});
const t0 = performance.now();
const a = await Agent.create({ name: 'a', backends: TCP, discovery: disc });
const startMs = performance.now() - t0;
clearInterval(sampler);
let reports = 0;
a.on('discovery:error', () => reports++);
await new Promise((r) => setTimeout(r, 200)); // the held events of the first read
console.log(
  JSON.stringify({
    peakMiB: peak / 2 ** 20,
    baseMiB: base / 2 ** 20,
    samples,
    startMs,
    remoteAgents: a.remoteAgents,
    stats: disc.stats(),
    reports,
  }),
);
await a.close();
