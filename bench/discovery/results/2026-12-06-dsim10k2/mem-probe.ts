/**
 * Where a cold start's memory goes: the sim's seed/chain cold start of N
 * members (same options as sim.ts), the heap sampled every round, then at
 * all-know-all (after a full GC) the heap with each per-member structure
 * dropped in turn (its share). Run with --expose-gc.
 *
 *   [SIM_TREE=/tmp/main-before] node --expose-gc --max-old-space-size=8000 --import tsx mem-probe.ts N seed|chain [inf]
 */
import { fileURLToPath } from 'node:url';

// The tree whose simulation runs (SIM_TREE: another checkout, e.g. the before tree).
const tree = process.env.SIM_TREE ?? fileURLToPath(new URL('../../../..', import.meta.url));
const { SimNetwork } = (await import(
  `${tree}/bench/discovery/sim/network.ts`
)) as typeof import('../../sim/network.js');

const n = Number(process.argv[2] ?? 1000);
const how = (process.argv[3] ?? 'seed') as 'seed' | 'chain';
// The plugin's bound on links (its linkCap is maxLinks); 'inf': none (the old simulation).
const cap = process.argv[4] === 'inf' ? Infinity : 8;
const LATENCY = 10;
const OPTS = {
  degree: 4,
  maxLinks: 8,
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  suspicionMs: 5000,
  antiEntropyMs: 5000,
  batchMs: 0,
  maxMembers: 20_000,
  linkCap: cap,
};
const gc = (globalThis as { gc?: () => void }).gc!;
const MB = (b: number) => (b / 2 ** 20).toFixed(0);
const heap = () => {
  gc();
  return process.memoryUsage().heapUsed;
};
const id = (i: number) => `m${String(i).padStart(5, '0')}`;
const t0 = performance.now();
const base = heap();
const net = new SimNetwork(LATENCY, OPTS);
const ms = Array.from({ length: n }, (_, i) => net.add(id(i), new Uint8Array(512)));
for (const m of ms) m.start();
for (let i = 1; i < n; i++) {
  const j = how === 'seed' ? 0 : Math.floor(Math.random() * i);
  net.clock.setTimeout(() => {
    ms[i]!.linkUp(id(j));
    ms[j]!.linkUp(id(i));
  }, 0);
}
console.log(`tree ${tree}\nn ${n} ${how} linkCap ${cap}: members created ${MB(heap() - base)} MB`);
let done = false;
let peak = 0;
let round = 0;
for (;;) {
  round++;
  net.clock.run(round * LATENCY);
  const mu = process.memoryUsage();
  peak = Math.max(peak, mu.heapUsed);
  let entries = 0;
  let shown = 0;
  let inOutbox = 0;
  for (const m of ms) {
    const x = m as unknown as {
      entries: Map<string, unknown>;
      shown: Map<string, Map<string, number>>;
      outboxes: Map<string, { records: Map<string, unknown> }>;
    };
    entries += x.entries.size;
    for (const s of x.shown.values()) shown += s.size;
    for (const o of x.outboxes.values()) inOutbox += o.records.size;
  }
  const timers = (net.clock as unknown as { heap: unknown[] }).heap.length;
  console.log(
    `round ${round}: heapUsed ${MB(mu.heapUsed)} MB (no GC), rss ${MB(mu.rss)} MB, entries ${entries}, shown ${shown}, outbox records ${inOutbox}, timers ${timers}, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  done = ms.every((m) => m.liveCount() === n - 1);
  if (done || round > 3000) break;
}
const full = heap();
const entries = n * (n - 1);
console.log(
  `all-know-all at round ${round}: heap ${MB(full - base)} MB after GC (${((full - base) / entries).toFixed(0)} B per directory entry), peak (no GC) ${MB(peak - base)} MB`,
);
type Inner = Record<string, unknown>;
const drop = (name: string, f: (x: Inner) => void) => {
  const before = heap();
  for (const m of ms) f(m as unknown as Inner);
  const after = heap();
  console.log(
    `  ${name}: ${MB(before - after)} MB, ${((before - after) / entries).toFixed(1)} B per directory entry`,
  );
};
// Messages still in flight (closures in the timer heap) go first.
drop('outboxes', (x) => (x.outboxes as Map<string, unknown>).clear());
drop('shown', (x) => (x.shown as Map<string, unknown>).clear());
drop('corrected', (x) => (x.corrected as Map<string, unknown>).clear());
drop('entries', (x) => (x.entries as Map<string, unknown>).clear());
drop('members', () => {
  net.members.clear();
  ms.length = 0;
});
drop('network (timers, in-flight messages)', () => {
  (net.clock as unknown as { heap: unknown[] }).heap.length = 0;
});
console.log(`left: ${MB(heap() - base)} MB; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
