/**
 * The discovery's floor at N agents: what a cluster start costs on the same
 * processes, hosts and libp2p stack as `scale.ts --source seeds`, layer by
 * layer, without the discovery's membership (floor-worker.ts says what each
 * layer does). Same layout as scale.ts: N-1 agents over `--hosts` emulated
 * hosts (ip netns, root), one worker process per host, and one more agent
 * alone in its own process on host 1.
 *
 *   sudo npx tsx bench/discovery/floor/floor.ts [--size 128] [--hosts 4] [--runs 1]
 *     [--layers idle,imports,stack,stack-load] [--hold-ms 11000] [--settle-ms 3000] [--compiled] [--cpu-prof DIR]
 *     [--frames N --frame-bytes B | --frames COUNTxBYTES,...] [--churn K] [--refused R] [--frame-gap-ms G]
 *
 * A stack layer may carry the discovery's extra costs, one at a time:
 * `stack-load+frames` (each agent sends the `--frames` more frames: N of B
 * bytes, or a mix such as `37x2600,9x140`), `stack-load+churn` (each agent
 * dials `--churn` more connections, one frame each, and closes them), and
 * `stack-load+frames+churn`; `+refused` (each agent's `--refused` more dials
 * to a node at its connection bound, which closes them before any handshake,
 * as the discovery's full seeds do: one such node per host); `+paced` sends
 * the extra frames one at a time, `--frame-gap-ms` (80) apart on average,
 * from the first step on, not in a burst with each step's frame.
 *
 * Per layer and run: ready→all (last node ready to last node holding every
 * record; 0 for idle and imports), and per agent the worker's CPU after its
 * last node was ready (scale.ts's "after ready"; for idle and imports over
 * `--hold-ms`, about a real start's ready→all plus its settle), the total,
 * and the import's CPU per worker.
 */
import '../../../src/polyfills.js';

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createHosts } from '../../../test/netns/netns.js';
import { JsonLineChild, type JsonLineReply } from '../../../testing/json-line-child.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const compiled = process.argv.includes('--compiled');
const WORKER = compiled
  ? join(ROOT, 'dist/bench/discovery/floor/floor-worker.js')
  : fileURLToPath(new URL('./floor-worker.ts', import.meta.url));

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
const size = Number(arg('size', '128'));
const maxHosts = Number(arg('hosts', '4'));
const runs = Number(arg('runs', '1'));
const layers = arg('layers', 'idle,imports,stack').split(',');
const holdMs = Number(arg('hold-ms', '11000'));
const settleMs = Number(arg('settle-ms', '3000'));
const LIMIT_MS = Number(arg('limit-s', '90')) * 1000;
/** The extra frames' sizes per agent: `--frames N --frame-bytes B`, or `--frames 37x2600,9x140,...`. */
const extraFrames = arg('frames', '0')
  .split(',')
  .flatMap((part) => {
    const [count, bytes] = part.includes('x')
      ? part.split('x').map(Number)
      : [Number(part), Number(arg('frame-bytes', '2600'))];
    return Array.from({ length: count! }, () => bytes!);
  });
// Interleaved (largest first in each round) so that every step carries the mix.
extraFrames.sort((a, b) => b - a);
const mixed: number[] = [];
for (let stride = Math.max(1, Math.ceil(extraFrames.length / 8)), r = 0; r < stride; r++)
  for (let i = r; i < extraFrames.length; i += stride) mixed.push(extraFrames[i]!);
const churn = Number(arg('churn', '0'));
const refused = Number(arg('refused', '0'));
/** With `+paced`: the extra frames one at a time about this far apart, not in bursts with the steps. */
const frameGapMs = Number(arg('frame-gap-ms', '80'));
/** Writes a V8 CPU profile of every worker into this folder (`--cpu-prof DIR`), as scale.ts does. */
const cpuProfDir = arg('cpu-prof', '');

interface WorkerEvent {
  ev: string;
  t: number;
  [k: string]: any;
}

interface LayerResult {
  readyToAll: number;
  spawnToAll: number;
  cpuAfterReady: number;
  cpu: number;
  importMs: number;
  stats: WorkerEvent[];
}

async function runLayer(layer: string): Promise<LayerResult> {
  const nHosts = Math.min(size, maxHosts);
  const hosts = createHosts(nHosts, 'f');
  const children: JsonLineChild<JsonLineReply, WorkerEvent>[] = [];
  try {
    const basePort = 20_000 + (process.pid % 10_000);
    const others = size - 1;
    const perHost = Math.ceil(others / nHosts);
    const groups: { host: number; indices: number[] }[] = [];
    for (let h = 0; h < nHosts; h++) {
      const from = h * perHost;
      const to = Math.min(others, from + perHost);
      groups.push({ host: h, indices: Array.from({ length: to - from }, (_, i) => from + i) });
    }
    groups.push({ host: 0, indices: [size - 1] });
    const hostOf = new Map(groups.flatMap((g) => g.indices.map((i) => [i, g.host] as const)));
    const addrs = Array.from(
      { length: size },
      (_, i) => `/ip4/${hosts.hosts[hostOf.get(i)!]!.ip}/tcp/${basePort + i}`,
    );
    const clusterKey = randomBytes(32).toString('hex');
    let lastReady = 0;
    let lastLoaded = 0;
    let loaded = 0;
    const stats: WorkerEvent[] = [];
    const t0 = Date.now();
    let allStats!: () => void;
    const statsDone = new Promise<void>((r) => (allStats = r));
    const [base, ...extras] = layer.split('+');
    for (const g of groups) {
      const cfg = {
        layer: base === 'stack-load' ? 'stack' : base,
        load: base === 'stack-load',
        extraFrames: extras.includes('frames') ? mixed : [],
        churn: extras.includes('churn') ? churn : 0,
        refused: extras.includes('refused') ? refused : 0,
        frameGapMs: extras.includes('paced') ? frameGapMs : 0,
        // One node at its connection bound per host, in the host's first process.
        refuser: groups.findIndex((x) => x.host === g.host) === groups.indexOf(g),
        refuserAddrs: hosts.hosts.map((h, i) => `/ip4/${h.ip}/tcp/${basePort + size + i}`),
        hostIndex: g.host,
        indices: g.indices,
        addrs,
        ip: hosts.hosts[g.host]!.ip,
        clusterKey,
        holdMs,
        statsAfterMs: settleMs,
        limitMs: LIMIT_MS + 30_000,
      };
      const child = new JsonLineChild<JsonLineReply, WorkerEvent>(
        WORKER,
        `floor worker ${children.length}`,
        {},
        {
          args: [JSON.stringify(cfg)],
          cwd: ROOT,
          stderr: 'inherit',
          eventField: 'ev',
          nodeArgs: [
            ...(cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : []),
            ...(compiled ? [] : ['--import', 'tsx']),
          ],
          spawn: (file, args, options) => hosts.spawn(g.host, file, args, options),
        },
      );
      child.onEvent((e) => {
        if (e.ev === 'ready') lastReady = Math.max(lastReady, e.t);
        if (e.ev === 'loaded-all') {
          lastLoaded = Math.max(lastLoaded, e.t);
          loaded++;
        }
        if (e.ev === 'stats') {
          stats.push(e);
          if (stats.length === groups.length) allStats();
        }
      });
      children.push(child);
    }
    const timer = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`${layer}: ${loaded} of ${size} complete, ${stats.length} stats`)),
        LIMIT_MS,
      ).unref(),
    );
    await Promise.race([statsDone, timer]);
    // Per agent over all workers, weighted by their agents (as scale.ts's victim worker has one).
    const weighted = (key: string) =>
      stats.reduce((x, s) => x + s[key] * s.agents, 0) / stats.reduce((x, s) => x + s.agents, 0);
    return {
      readyToAll: lastLoaded - lastReady,
      spawnToAll: lastLoaded - t0,
      cpuAfterReady: weighted('cpuAfterReadyMsPerAgent'),
      cpu: weighted('cpuMsPerAgent'),
      importMs: stats.reduce((x, s) => x + s.importCpuMs, 0) / stats.length,
      stats,
    };
  } finally {
    for (const c of children) c.endInput();
    await Promise.all(children.map((c) => c.waitForExit(30_000).catch(() => null)));
    hosts.destroy();
  }
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

const results = new Map<string, LayerResult[]>();
for (let r = 0; r < runs; r++) {
  for (const layer of layers) {
    const load = loadavg();
    const res = await runLayer(layer);
    (results.get(layer) ?? results.set(layer, []).get(layer)!).push(res);
    const main = res.stats.filter((s) => s.agents > 1);
    const per = (k: string) =>
      main.length && main[0]![k] !== undefined
        ? (main.reduce((x, s) => x + s[k], 0) / main.length).toFixed(1)
        : '—';
    const conns = main.flatMap((s) => (s.connections as number[] | undefined) ?? []);
    console.error(
      `run ${r + 1} ${layer} (load ${load}): ready→all ${res.readyToAll} ms, spawn→all ${res.spawnToAll} ms, ` +
        `CPU ms/agent ${res.cpu.toFixed(0)} (after ready ${res.cpuAfterReady.toFixed(1)}; imports ${res.importMs.toFixed(0)} ms per worker), ` +
        `signatures verified per agent ${per('verifiedPerAgent')}, frames in per agent ${per('framesInPerAgent')}, ` +
        `KiB out per agent ${main.length && main[0]!.bytesOutPerAgent !== undefined ? (main.reduce((x, s) => x + s.bytesOutPerAgent, 0) / main.length / 1024).toFixed(1) : '—'}, ` +
        `main / helpers / engines ${['main', 'helpers', 'started'].map((k) => (main.reduce((x, s) => x + (s.threadsAfterReadyMsPerAgent?.[k] ?? NaN), 0) / main.length).toFixed(1)).join(' / ')}, ` +
        `connections per node ${conns.length ? (conns.reduce((a, b) => a + b, 0) / conns.length).toFixed(1) : '—'}, ` +
        `opened per node ${per('connectionsOpenedPerAgent')} (churned ${per('churnedPerAgent')}, refused dials ${per('refusedPerAgent')}), ` +
        `extra frames out per agent ${per('extraFramesOutPerAgent')}, duplicates heard per agent ${per('duplicatesPerAgent')}`,
    );
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`discovery floor (${size} agents, ${Math.min(size, maxHosts)} hosts, ${runs} run(s))`);
console.log(
  'layer | ready→all ms | CPU ms/agent after ready | CPU ms/agent total | imports ms/worker',
);
for (const layer of layers) {
  const rs = results.get(layer)!;
  console.log(
    `${layer} | ${median(rs.map((x) => x.readyToAll))} | ${median(rs.map((x) => x.cpuAfterReady)).toFixed(1)} | ` +
      `${median(rs.map((x) => x.cpu)).toFixed(0)} | ${median(rs.map((x) => x.importMs)).toFixed(0)}`,
  );
}
