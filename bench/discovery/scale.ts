/**
 * Discovery scale benchmark: the time from start until every agent has loaded
 * every other agent's metadata, for 2, 8 and 32 agents spread over emulated
 * hosts (ip netns on a bridge; needs root). Each host runs one process with
 * ceil(N / hosts) agents. mDNS by default; `--source seeds` uses a seed list
 * (the first agent of host 1) with multicast unused.
 *
 * Figures: `spawn→all` (process start, imports, agent creation and discovery)
 * and `ready→all` (from the last agent becoming ready until the last one has
 * loaded everyone: the discovery convergence). Ratios are against the 2-agent
 * run of the same invocation.
 *
 * Usage (root): tsx bench/discovery/scale.ts [--sizes 2,8,32] [--hosts 4] [--runs 3]
 *                [--source mdns|seeds] [--limit-s 300]   (BENCH_VERBOSE=1 prints progress)
 */
import '../../src/polyfills.js';

import { fileURLToPath } from 'node:url';

import { generateClusterKey } from '../../plugins/gossip/cluster-key.js';
import { createHosts } from '../../test/netns/netns.js';
import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
const sizes = arg('sizes', '2,8,32').split(',').map(Number);
const maxHosts = Number(arg('hosts', '4'));
const runs = Number(arg('runs', '3'));
const source = arg('source', 'mdns') as 'mdns' | 'seeds';
const LIMIT_MS = Number(arg('limit-s', '300')) * 1000;

/** A worker's line (worker.ts): an event named by `ev`, stamped with its time. */
interface WorkerEvent {
  ev: string;
  t: number;
  [k: string]: any;
}

interface RunResult {
  spawnToAll: number;
  readyToAll: number;
  /** Set when not every agent loaded every other within the limit. */
  incomplete?: string;
}

async function runOnce(n: number, run: number): Promise<RunResult> {
  const nHosts = Math.min(n, maxHosts);
  const hosts = createHosts(nHosts, 'b');
  const perHost = Math.ceil(n / nHosts);
  const cluster = `bench-${n}-${run}-${process.pid}`;
  const clusterKey = generateClusterKey();
  const seedPort = 40_000 + (process.pid % 10_000);
  const seedAddrs = [`/ip4/${hosts.hosts[0]!.ip}/tcp/${seedPort}`];
  let lastReady = 0;
  let lastLoaded = 0;
  let loaded = 0;
  const errors: string[] = [];
  let leaves = 0;
  let incomplete: string | undefined;
  const lastCounts: number[][] = [];
  const t0 = Date.now();
  try {
    // Each worker's lines are events named by `ev`; it stops when its input ends.
    const children: JsonLineChild<JsonLineReply, WorkerEvent>[] = [];
    let next = 0;
    for (let h = 0; h < nHosts; h++) {
      const names: string[] = [];
      for (let k = 0; k < perHost && next < n; k++) names.push(`a${next++}`);
      const cfg = {
        names,
        total: n,
        ip: hosts.hosts[h]!.ip,
        cluster,
        clusterKey,
        source,
        seeds: seedAddrs,
        firstPort: h === 0 ? seedPort : 0,
        limitMs: LIMIT_MS + 30_000,
      };
      const child = new JsonLineChild<JsonLineReply, WorkerEvent>(
        WORKER,
        `worker on host ${h}`,
        {},
        {
          args: [JSON.stringify(cfg)],
          cwd: ROOT,
          stderr: 'inherit',
          eventField: 'ev',
          spawn: (file, args, options) => hosts.spawn(h, file, args, options),
        },
      );
      children.push(child);
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${n} agents: not all loaded after ${LIMIT_MS} ms`)),
        LIMIT_MS,
      );
      for (const child of children) {
        child.onEvent((e) => {
          if (e.ev === 'progress') lastCounts[children.indexOf(child)] = e.counts;
          if (e.ev === 'progress' && process.env.BENCH_VERBOSE)
            console.error(`  ${e.t - t0} ms: ${e.counts}`);
          if (e.ev === 'timeout')
            console.error(`  a worker timed out with ${e.complete} agents complete`);
          if (e.ev === 'ready') lastReady = Math.max(lastReady, e.t);
          if (e.ev === 'leave' && loaded < n) leaves++;
          if (e.ev === 'error') errors.push(`${e.agent}: ${e.message}`);
          if (e.ev === 'loaded-all') {
            lastLoaded = Math.max(lastLoaded, e.t);
            if (++loaded === n) {
              clearTimeout(timer);
              resolve();
            }
          }
        });
        void child.exited.then((code) => {
          if (loaded < n && incomplete === undefined) {
            clearTimeout(timer);
            reject(new Error(`a worker exited with ${code} before all agents loaded`));
          }
        });
      }
    });
    for (const child of children) child.endInput();
    await Promise.all(children.map((c) => c.exited));
  } finally {
    hosts.destroy();
  }
  if (leaves) console.error(`  ${leaves} peer:leave events during the start (connections lost)`);
  if (errors.length) console.error(`  ${errors.length} discovery errors, first: ${errors[0]}`);
  if (incomplete) return { spawnToAll: NaN, readyToAll: NaN, incomplete };
  return { spawnToAll: lastLoaded - t0, readyToAll: Math.max(0, lastLoaded - lastReady) };
}

/** Median of the completed runs (NaN if none completed). */
const median = (xs: number[]) => {
  const ok = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return ok.length ? ok[Math.floor(ok.length / 2)]! : NaN;
};
const results = new Map<number, RunResult[]>();
for (let r = 0; r < runs; r++) {
  // Interleave sizes so that machine noise spreads over all of them.
  for (const n of sizes) {
    const res = await runOnce(n, r);
    console.error(
      `run ${r + 1} n=${n}: spawn→all ${res.spawnToAll} ms, ready→all ${res.readyToAll} ms`,
    );
    (results.get(n) ?? results.set(n, []).get(n)!).push(res);
  }
}
const base = results.get(sizes[0]!)!;
const baseReady = median(base.map((x) => x.readyToAll)) || 1;
const baseSpawn = median(base.map((x) => x.spawnToAll));
console.log(
  `discovery scale (${source}, up to ${maxHosts} emulated hosts, ${runs} runs, median [min-max])`,
);
console.log('agents | hosts x per host | spawn→all ms | ready→all ms | spawn ratio | ready ratio');
for (const n of sizes) {
  const rs = results.get(n)!;
  const s = rs.map((x) => x.spawnToAll).filter((x) => !Number.isNaN(x));
  const d = rs.map((x) => x.readyToAll).filter((x) => !Number.isNaN(x));
  const failed = rs.length - s.length;
  const h = Math.min(n, maxHosts);
  console.log(
    `${n} | ${h} x ${Math.ceil(n / h)} | ${median(s)} [${Math.min(...s)}-${Math.max(...s)}] | ` +
      `${median(d)} [${Math.min(...d)}-${Math.max(...d)}] | ${(median(s) / baseSpawn).toFixed(2)} | ` +
      `${(median(d) / baseReady).toFixed(2)}` +
      (failed ? ` | ${failed}/${rs.length} runs incomplete` : ''),
  );
}
