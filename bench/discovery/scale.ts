/**
 * Discovery scale benchmark: N agents start at once; the time until every
 * agent has loaded every other agent's metadata, what that cost each agent,
 * and how fast a SIGKILLed agent is invalidated everywhere.
 *
 * Sources (`--source`):
 * - `seeds` (default) and `mdns`: the gossip discovery, agents spread over
 *   `--hosts` emulated hosts (ip netns on a bridge; needs root), one worker
 *   process per host; seeds: the first agent of each of the first `--seeds`
 *   hosts (default: every host, at most 4) is a seed, and every agent is
 *   given the whole seed list (`--seeds 1`: host 1's first agent only).
 * - `etcd`: the etcd plugin, one etcd on 127.0.0.1 started per run (no root),
 *   workers of `--per-process` agents; etcd's request counters are reported.
 *
 * Figures: `spawn→all` (process start, imports, agent creation and discovery)
 * and `ready→all` (from the last agent becoming ready until the last one has
 * loaded everyone: the discovery convergence); then, `--settle-ms` later, per
 * agent: control-plane connections open (libp2p; mean and max), mesh bytes
 * sent (mean, max) and the CPU time of its worker process per agent (in
 * parentheses the part after the worker's last agent was ready; the workers'
 * import of the discovery's modules, counted in the total, is printed per
 * run), and over the `--idle-ms` (default 5000) after that the CPU of the
 * converged cluster at rest, µs per agent per second. Then one
 * agent, alone in its own process (the victim), is SIGKILLed: `kill→all`,
 * from the kill until every other agent has had its peer:leave (compare with
 * the grace period). `leaves` counts every other peer:leave (spurious).
 *
 * Usage (root for seeds/mdns): tsx bench/discovery/scale.ts [--sizes 32,64,128] [--hosts 4]
 *   [--runs 3] [--source seeds|mdns|etcd] [--seeds 4] [--per-process 8] [--grace-ms 10000]
 *   [--settle-ms 3000] [--idle-ms 5000] [--limit-s 300] [--timeline] [--cpu-prof DIR] [--node-args "FLAGS"] [--compiled]
 *   (BENCH_VERBOSE=1 prints progress)
 *
 * `--text-dir DIR`: V8 trace lines of each worker to a file (see textDir).
 * `--timeline` prints, per agent, when it was ready, when every other agent
 * had loaded it (its record's spread) and when it had loaded every other.
 */
import '../../src/polyfills.js';

import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { generateClusterKey } from '../../plugins/gossip/cluster-key.js';
import { EtcdServer } from '../../test/etcd/etcd-server.js';
import { createHosts, type Hosts } from '../../test/netns/netns.js';
import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';
import { diffCounters, etcdCounters, formatCounters } from './etcd-metrics.js';
import { dumpSilentWorkers } from './silent-workers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * `--compiled`: workers run the compiled JavaScript (dist/, from `npm run build`) on plain
 * node, as a deployment does, instead of the TypeScript sources under tsx (whose loader
 * makes each worker's imports cost about twice the CPU).
 */
const compiled = process.argv.includes('--compiled');
const WORKER = compiled
  ? join(ROOT, 'dist/bench/discovery/worker.js')
  : fileURLToPath(new URL('./worker.ts', import.meta.url));

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
const sizes = arg('sizes', '32,64,128').split(',').map(Number);
const maxHosts = Number(arg('hosts', '4'));
const runs = Number(arg('runs', '3'));
const source = arg('source', 'seeds') as 'mdns' | 'seeds' | 'etcd';
const perProcess = Number(arg('per-process', '8'));
const seedHosts = Number(arg('seeds', String(Math.min(maxHosts, 4))));
const graceMs = Number(arg('grace-ms', '10000'));
const settleMs = Number(arg('settle-ms', '3000'));
/** After the settle point, the CPU of a converged, idle cluster is measured over this window. */
const idleMs = Number(arg('idle-ms', '5000'));
const LIMIT_MS = Number(arg('limit-s', '300')) * 1000;
const timeline = process.argv.includes('--timeline');
/** Writes a V8 CPU profile of every worker into this folder (`--cpu-prof DIR`). */
const cpuProfDir = arg('cpu-prof', '');
/** Extra node/V8 flags for every worker, space-separated (`--node-args "--log-deopt --logfile=/tmp/v8-%p.log"`). */
const extraNodeArgs = arg('node-args', '').split(' ').filter(Boolean);
/**
 * `--text-dir DIR`: each worker's stdout lines that are not JSON (what V8 prints for
 * `--node-args "--trace-opt --trace-deopt"`) go to DIR/run-R-nN-worker-W.txt, each line
 * prefixed with the ms since spawn it arrived at, and a `#ready AGENT MS` line when one of
 * the worker's agents is ready: so a trace splits at the worker's last ready.
 */
const textDir = arg('text-dir', '');
if (!['mdns', 'seeds', 'etcd'].includes(source)) throw new Error(`unknown --source ${source}`);

/** A worker's line (worker.ts): an event named by `ev`, stamped with its time. */
interface WorkerEvent {
  ev: string;
  t: number;
  [k: string]: any;
}
type Child = JsonLineChild<JsonLineReply, WorkerEvent>;

interface RunResult {
  spawnToAll: number;
  readyToAll: number;
  connections: number[];
  /** libp2p connections each agent opened or accepted since start (handshakes). */
  opened: number[];
  /**
   * The most connections each agent held at any moment of the run (start,
   * settle and kill): sampled every 100 ms, and as counted when each opened.
   */
  peakSampled: number[];
  peakAtOpen: number[];
  bytes: number[];
  cpuMs: number[];
  /** The part of cpuMs after the worker's last agent was ready. */
  cpuAfterReadyMs: number[];
  /** CPU each worker spent importing the discovery's modules (counted in cpuMs). */
  importCpuMs: number[];
  /** CPU µs per agent per second of the converged cluster at rest (all workers' total / agents). */
  idleCpuUs: number;
  /** The same, main threads only. */
  idleMainUs: number;
  killToAll: number;
  leaves: number;
  errors: number;
  etcd?: string;
}

const VICTIM = 'victim';

async function runOnce(n: number, run: number): Promise<RunResult> {
  let hosts: Hosts | undefined;
  let server: EtcdServer | undefined;
  const children: Child[] = [];
  let victim: Child | undefined;
  const clusterKey = generateClusterKey();
  const cluster = `bench-${n}-${run}-${process.pid}`;
  try {
    // Where each worker runs, and with what names.
    const groups: { host: number; names: string[] }[] = [];
    const names = Array.from({ length: n - 1 }, (_, i) => `a${i}`);
    let seeds: string[] = [];
    // Below Linux's ephemeral range (32768-60999): inside it, one of the host's
    // other agents, listening on port 0, took the seed's port first now and
    // then (EADDRINUSE, the worker exited; 1 of 20 runs on 2026-12-05).
    const seedPort = 20_000 + (process.pid % 10_000);
    if (source === 'etcd') {
      server = await EtcdServer.start();
      for (let i = 0; i < names.length; i += perProcess)
        groups.push({ host: -1, names: names.slice(i, i + perProcess) });
    } else {
      const nHosts = Math.min(n, maxHosts);
      hosts = createHosts(nHosts, 'b');
      const perHost = Math.ceil(names.length / nHosts);
      for (let h = 0; h < nHosts; h++)
        groups.push({ host: h, names: names.slice(h * perHost, (h + 1) * perHost) });
      seeds = hosts.hosts
        .slice(0, Math.max(1, seedHosts))
        .map((h) => `/ip4/${h.ip}/tcp/${seedPort}`);
    }
    groups.push({ host: source === 'etcd' ? -1 : 0, names: [VICTIM] });
    const before = server ? await etcdCounters(server) : undefined;

    let lastReady = 0;
    const readyAt = new Map<string, number>();
    const loadedAllAt = new Map<string, number>();
    const knownBy = new Map<string, number[]>();
    /** Per agent, the last peer it loaded and when. */
    const lastJoin = new Map<string, { peer: string; t: number }>();
    const linkedAt = new Map<string, number>();
    /** Per agent, its discovery's log lines (--timeline: the seed dials), with their times. */
    const logs = new Map<string, { t: number; msg: string }[]>();
    let lastLoaded = 0;
    let loaded = 0;
    let errors = 0;
    let leaves = 0;
    let killedAt = 0;
    const victimLeft = new Set<string>();
    /** The kill's wait is over: workers exit from here on. */
    let finished = false;
    /** Every spurious peer:leave: whom, and the failure-detection steps behind it. */
    const spurious: { peer: string; steps?: Record<string, number> }[] = [];
    /** Per agent: when it invalidated the victim, and its failure-detection steps (gossip). */
    const victimSteps: { t: number; steps?: Record<string, number> }[] = [];
    const stats: WorkerEvent[] = [];
    const peaks = new Map<string, { sampled: number; atOpen: number }>();
    /** When each worker's last line came (a worker whose agents all fall silent shows here). */
    const lastLine = new Map<Child, number>();
    /** --text-dir: each worker's file for its V8 trace lines. */
    const texts = new Map<Child, WriteStream>();
    const t0 = Date.now();
    let settled!: () => void;
    const allStats = new Promise<void>((r) => (settled = r));
    let invalidated!: () => void;
    const allInvalidated = new Promise<void>((r) => (invalidated = r));
    for (const g of groups) {
      const ip = g.host < 0 ? '127.0.0.1' : hosts!.hosts[g.host]!.ip;
      const cfg = {
        names: g.names,
        total: n,
        ip,
        source,
        cluster,
        clusterKey,
        seeds,
        // The first agent of a seed host listens on the seed port.
        firstPort: g.host >= 0 && g.host < seedHosts && g.names[0] !== VICTIM ? seedPort : 0,
        endpoint: server?.endpoint,
        namespace: `/bench/${cluster}/`,
        graceMs,
        statsAfterMs: settleMs,
        idleMs,
        limitMs: LIMIT_MS + 60_000,
        timeline,
      };
      const text = textDir
        ? createWriteStream(join(textDir, `run-${run + 1}-n${n}-worker-${children.length}.txt`))
        : undefined;
      const child: Child = new JsonLineChild<JsonLineReply, WorkerEvent>(
        WORKER,
        `worker ${children.length}`,
        {},
        {
          args: [JSON.stringify(cfg)],
          cwd: ROOT,
          stderr: 'inherit',
          eventField: 'ev',
          ...(text ? { textLine: (line) => text.write(`${Date.now() - t0} ${line}\n`) } : {}),
          ...(cpuProfDir || extraNodeArgs.length
            ? {
                nodeArgs: [
                  ...(cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : []),
                  ...extraNodeArgs,
                  ...(compiled ? [] : ['--import', 'tsx']),
                ],
              }
            : {}),
          ...(g.host >= 0
            ? { spawn: (file, args, options) => hosts!.spawn(g.host, file, args, options) }
            : {}),
        },
      );
      children.push(child);
      if (text) texts.set(child, text);
      if (g.names[0] === VICTIM) victim = child;
    }
    const workers = children.filter((c) => c !== victim);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        dumpSilentWorkers(children, lastLine, t0);
        reject(new Error(`${n} agents: ${loaded} of ${n} loaded all after ${LIMIT_MS} ms`));
      }, LIMIT_MS);
      for (const child of children) {
        child.onEvent((e) => {
          lastLine.set(child, e.t);
          if (e.ev === 'progress' && process.env.BENCH_VERBOSE)
            console.error(`  ${e.t - t0} ms: ${e.counts}`);
          if (e.ev === 'timeout')
            console.error(`  a worker timed out with ${e.complete} agents complete`);
          if (e.ev === 'ready') {
            texts.get(child)?.write(`#ready ${e.agent} ${e.t - t0}\n`);
            lastReady = Math.max(lastReady, e.t);
            readyAt.set(e.agent, e.t);
          }
          if (e.ev === 'linked') linkedAt.set(e.agent, e.t);
          if (e.ev === 'log') {
            const l = logs.get(e.agent) ?? [];
            if (l.length < (source === 'mdns' ? 200 : 20)) l.push({ t: e.t, msg: e.msg });
            logs.set(e.agent, l);
          }
          if (e.ev === 'peak' && e.agent !== VICTIM)
            peaks.set(e.agent, { sampled: e.sampled, atOpen: e.atOpen });
          if (e.ev === 'join') {
            const k = knownBy.get(e.peer) ?? [];
            k.push(e.t);
            knownBy.set(e.peer, k);
            lastJoin.set(e.agent, { peer: e.peer, t: e.t });
          }
          if (e.ev === 'leave') {
            if (e.peer === VICTIM && killedAt) {
              victimLeft.add(e.agent);
              victimSteps.push({ t: e.t, steps: e.steps });
              if (victimLeft.size === n - 1) invalidated();
            } else if (e.agent !== VICTIM) {
              leaves++;
              spurious.push({ peer: e.peer, steps: e.steps });
            }
          }
          if (e.ev === 'error' && errors++ < 3) console.error(`  ${e.agent}: ${e.message}`);
          if (e.ev === 'stats' && child !== victim) {
            stats.push(e);
            if (stats.length === workers.length) settled();
          }
          if (e.ev === 'loaded-all') {
            loadedAllAt.set(e.agent, e.t);
            lastLoaded = Math.max(lastLoaded, e.t);
            if (++loaded === n) {
              clearTimeout(timer);
              resolve();
            }
          }
        });
        void child.exited.then((code) => {
          if (loaded < n) {
            clearTimeout(timer);
            reject(new Error(`a worker exited with ${code} before all agents loaded`));
          } else if (child !== victim && !finished)
            console.error(
              `  worker ${children.indexOf(child)} exited (${code ?? 'a signal'}) mid-run`,
            );
        });
      }
    });
    if (timeline) {
      console.log(`  timeline (ms from spawn; last ready at ${lastReady - t0}):`);
      console.log(
        '  agent | ready | first mesh link | all others loaded it (after its ready) | it loaded all (the last one it loaded)',
      );
      const rows = [...readyAt].sort((a, b) => a[1] - b[1]);
      for (const [agent, r] of rows) {
        const k = knownBy.get(agent) ?? [];
        const spread = k.length >= n - 1 ? Math.max(...k) : NaN;
        console.log(
          `  ${agent} | ${r - t0} | ${(linkedAt.get(agent) ?? NaN) - t0} | ${spread - t0} (+${spread - r}) | ${(loadedAllAt.get(agent) ?? NaN) - t0} (${lastJoin.get(agent)?.peer})`,
        );
      }
      // The seed dials of agents whose first link came over 2 s after they were ready;
      // mDNS: every agent's answers heard and what came of them.
      for (const [agent, r] of rows) {
        if (source !== 'mdns' && (linkedAt.get(agent) ?? Infinity) - r < 2000) continue;
        for (const { t, msg } of logs.get(agent) ?? [])
          console.log(`  ${agent} +${t - t0}: ${msg.replace(/^\S+ /, '')}`);
      }
    }
    await Promise.race([allStats, sleep(settleMs + idleMs + 30_000)]);
    const etcd =
      server && before
        ? formatCounters(diffCounters(before, await etcdCounters(server)))
        : undefined;
    // The crash: SIGKILL the victim's process; every other agent must invalidate it.
    killedAt = Date.now();
    void victim!.kill('SIGKILL');
    const killLimit = graceMs + 30_000;
    const done = await Promise.race([
      allInvalidated.then(() => true),
      sleep(killLimit).then(() => false),
    ]);
    const killToAll = done ? Date.now() - killedAt : NaN;
    if (!done) {
      console.error(`  only ${victimLeft.size} of ${n - 1} invalidated the victim`);
      const quiet = workers.map(
        (c, i) => `worker ${i}: ${Math.round((Date.now() - (lastLine.get(c) ?? t0)) / 1000)} s`,
      );
      console.error(`  time since each worker's last line: ${quiet.join(', ')}`);
    }
    finished = true;
    if (source !== 'etcd') console.error(`  ${victimTimeline(victimSteps, killedAt)}`);
    if (spurious.length) console.error(`  ${spuriousLeaves(spurious)}`);
    const per = stats.flatMap(
      (s) =>
        s.agents as {
          connections: number;
          opened: number;
          openedBy?: Record<string, number>;
          refusedAtBound?: { dials: number; inbound: number };
          bytes: number;
          dropped: number;
          suspicions: number;
          raised: number;
          frames: number;
          shed: number;
          orphaned: number;
          dialed: number;
          verified: number;
          referred: number;
          duplicates?: number;
          flushes?: number;
          saturatedFlushes?: number;
          verifyTime?: { count: number; totalMs: number; medianUs: number; cached?: number };
          recordLoads?: { passes: number; records: number };
        }[],
    );
    if (timeline) {
      console.log('  per agent, settled: connections open / opened since start, KiB sent');
      const rows = per.map(
        (a) => `${(a as any).agent} ${a.connections}/${a.opened} ${(a.bytes / 1024).toFixed(0)}`,
      );
      console.log(`  ${rows.join(', ')}`);
    }
    type Counted =
      | 'dropped'
      | 'suspicions'
      | 'raised'
      | 'frames'
      | 'shed'
      | 'orphaned'
      | 'dialed'
      | 'verified'
      | 'referred';
    const total = (k: Counted) => per.reduce((x, a) => x + (a[k] || 0), 0);
    console.error(
      `  frames dropped ${total('dropped')}, suspicions held ${total('suspicions')} ` +
        `(raised ${total('raised')}), frames sent ${total('frames')}, ` +
        `links shed as extra ${total('shed')}, only links lost ${total('orphaned')}, ` +
        `connections opened to send a frame ${total('dialed')}, ` +
        `newcomers referred at the bound ${total('referred')}, ` +
        `signatures verified per agent ${(total('verified') / per.length).toFixed(1)}`,
    );
    const by = per.filter((a) => a.openedBy);
    if (by.length) {
      const sum = (k: string) => by.reduce((x, a) => x + (a.openedBy![k] ?? 0), 0) / by.length;
      console.error(
        `  connections opened per agent: accepted ${sum('inbound').toFixed(2)}, dialed for ` +
          ['link', 'seed', 'relay', 'probe'].map((k) => `${k} ${sum(k).toFixed(2)}`).join(', '),
      );
    }
    // The join path: connections refused at a bound (inbound: reset at
    // accept, most of them at the seeds; dials: refused by the dialer's own bound).
    const refused = per.filter((a) => a.refusedAtBound);
    if (refused.length) {
      const inbound = refused.map((a) => a.refusedAtBound!.inbound).sort((x, y) => y - x);
      console.error(
        `  join path: inbound refused at the bound ${inbound.reduce((x, y) => x + y, 0)} ` +
          `(the four most: ${inbound.slice(0, 4).join(', ')}), ` +
          `dials refused at own bound ${refused.reduce((x, a) => x + a.refusedAtBound!.dials, 0)}`,
      );
    }
    const timed = per.filter((a) => a.verifyTime && a.verifyTime.count > 0);
    if (timed.length) {
      const count = timed.reduce((x, a) => x + a.verifyTime!.count, 0);
      const totalMs = timed.reduce((x, a) => x + a.verifyTime!.totalMs, 0);
      const medians = timed.map((a) => a.verifyTime!.medianUs).sort((x, y) => x - y);
      console.error(
        `  records and alives heard again per agent ${(per.reduce((x, a) => x + (a.duplicates ?? 0), 0) / per.length).toFixed(1)}, ` +
          `verification wall time per agent ${(totalMs / timed.length).toFixed(1)} ms ` +
          `(mean ${((totalMs / count) * 1000).toFixed(0)} µs a call, median of the agents' medians ${medians[medians.length >> 1]!.toFixed(0)} µs), ` +
          `verified already by another agent of the process per agent ${(timed.reduce((x, a) => x + (a.verifyTime!.cached ?? 0), 0) / timed.length).toFixed(1)}`,
      );
    }
    const flushed = per.filter((a) => a.flushes !== undefined);
    if (flushed.length) {
      const flushes = flushed.reduce((x, a) => x + (a.flushes ?? 0), 0) / flushed.length;
      const wide = flushed.reduce((x, a) => x + (a.saturatedFlushes ?? 0), 0) / flushed.length;
      console.error(
        `  gossip flushes per agent ${flushes.toFixed(1)} (at the saturated window ${wide.toFixed(1)})`,
      );
    }
    const loads = per.filter((a) => a.recordLoads && a.recordLoads.passes > 0);
    if (loads.length) {
      const passes = loads.reduce((x, a) => x + a.recordLoads!.passes, 0);
      const records = loads.reduce((x, a) => x + a.recordLoads!.records, 0);
      console.error(
        `  records loaded into the agent per agent ${(records / loads.length).toFixed(1)}, ` +
          `in ${(passes / loads.length).toFixed(1)} passes (${(records / passes).toFixed(2)} records a pass)`,
      );
    }
    const threadSplits = stats
      .map((s) => s.threadsAfterReadyMsPerAgent as Record<string, number> | undefined)
      .filter((t) => t !== undefined);
    if (threadSplits.length) {
      const m = (k: string) => mean(threadSplits.map((t) => t[k]!)).toFixed(0);
      console.error(
        `  CPU ms/agent after ready by thread: main ${m('main')}, V8/libuv helpers ${m('helpers')}, ` +
          `threads started by the agents (TCP engines) ${m('started')}`,
      );
    }
    // A per-agent breakdown summed over the agents, largest first (bytes shown in KiB).
    const printByKey = (field: 'bytesByKind' | 'framesByKind' | 'sentFor', label: string) => {
      const byKey = new Map<string, number>();
      for (const a of per as { [k in typeof field]?: Record<string, number> }[])
        for (const [k, v] of Object.entries(a[field] ?? {})) byKey.set(k, (byKey.get(k) ?? 0) + v);
      if (!byKey.size) return;
      const unit = field === 'bytesByKind' ? 1024 : 1;
      const parts = [...byKey]
        .sort((x, y) => y[1] - x[1])
        .map(([k, v]) => `${k} ${(v / unit / per.length).toFixed(1)}`);
      console.error(`  ${label}: ${parts.join(', ')}`);
    };
    printByKey('bytesByKind', 'KiB sent per agent by kind');
    printByKey('framesByKind', 'frames sent per agent by kind');
    printByKey('sentFor', 'messages sent per agent by reason');
    return {
      spawnToAll: lastLoaded - t0,
      readyToAll: Math.max(0, lastLoaded - lastReady),
      connections: per.map((a) => a.connections),
      opened: per.map((a) => a.opened),
      peakSampled: [...peaks.values()].map((p) => p.sampled),
      peakAtOpen: [...peaks.values()].map((p) => p.atOpen),
      bytes: per.map((a) => a.bytes),
      cpuMs: stats.map((s) => s.cpuMsPerAgent as number),
      cpuAfterReadyMs: stats.map((s) => (s.cpuAfterReadyMsPerAgent as number) ?? NaN),
      importCpuMs: stats.map((s) => (s.importCpuMs as number) ?? NaN),
      idleCpuUs: perAgentOverWorkers(stats, 'idleCpuUsPerAgentPerS'),
      idleMainUs: perAgentOverWorkers(stats, 'idleMainUsPerAgentPerS'),
      killToAll,
      leaves,
      errors,
      etcd,
    };
  } finally {
    for (const child of children) child.endInput();
    await Promise.all(children.map((c) => c.waitForExit(30_000).catch(() => null)));
    hosts?.destroy();
    await server?.stop();
  }
}

/**
 * Where kill→all went: per failure-detection step (failureTrace), how many
 * agents took it after the kill and when (ms after the kill: first / median /
 * last), then the leaves themselves.
 */
function victimTimeline(rows: { t: number; steps?: Record<string, number> }[], killedAt: number) {
  const at = (xs: number[]) => {
    const s = xs.map((x) => x - killedAt).sort((a, b) => a - b);
    return s.length ? `${s.length} [${s[0]} / ${s[Math.floor(s.length / 2)]} / ${s.at(-1)}]` : '0';
  };
  const step = (k: string) =>
    at(
      rows.flatMap((r) =>
        r.steps?.[k] !== undefined && r.steps[k]! >= killedAt ? [r.steps[k]!] : [],
      ),
    );
  return (
    `victim timeline, agents [first / median / last ms after the kill]: link lost ${step('link-lost')}, ` +
    `raised a suspicion ${step('raised')}, heard one first ${step('suspected')}, ` +
    `confirmed the death ${step('confirmed')}, heard the death ${step('dead')}, ` +
    `peer:leave ${at(rows.map((r) => r.t))}`
  );
}

/** How the spurious leaves came about: which members, and how each agent came to its verdict. */
function spuriousLeaves(rows: { peer: string; steps?: Record<string, number> }[]): string {
  const count = (f: (s: Record<string, number>) => boolean) =>
    rows.filter((r) => r.steps && f(r.steps)).length;
  return (
    `spurious leaves: ${rows.length} of ${new Set(rows.map((r) => r.peer)).size} members; ` +
    `confirmed by the agent itself ${count((s) => s.confirmed !== undefined)} ` +
    `(its own probe raised it ${count((s) => s.confirmed !== undefined && s.raised !== undefined)}, ` +
    `after a lost link ${count((s) => s.confirmed !== undefined && s['link-lost'] !== undefined)}), ` +
    `heard the death ${count((s) => s.confirmed === undefined && s.dead !== undefined)}`
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
/** A figure, or '—' where there is none (etcd agents keep no libp2p links). */
function fixed(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '—';
}

/** Median of the finite values (NaN if none). */
const median = (xs: number[]) => {
  const ok = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return ok.length ? ok[Math.floor(ok.length / 2)]! : NaN;
};
const mean = (xs: number[]) => {
  const ok = xs.filter((x) => Number.isFinite(x));
  return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : NaN;
};
const max = (xs: number[]) => {
  const ok = xs.filter((x) => Number.isFinite(x));
  return ok.length ? Math.max(...ok) : NaN;
};

/** A per-agent figure of each worker, weighted by its agents (the victim's worker has one). */
function perAgentOverWorkers(stats: Record<string, unknown>[], key: string): number {
  let sum = 0;
  let agents = 0;
  for (const s of stats) {
    const v = s[key] as number | undefined;
    const k = (s.agents as unknown[]).length;
    if (v === undefined) return NaN;
    sum += v * k;
    agents += k;
  }
  return agents ? sum / agents : NaN;
}

const results = new Map<number, RunResult[]>();
for (let r = 0; r < runs; r++) {
  // Interleave sizes so that machine noise spreads over all of them.
  for (const n of sizes) {
    const res = await runOnce(n, r);
    console.error(
      `run ${r + 1} n=${n}: spawn→all ${res.spawnToAll} ms, ready→all ${res.readyToAll} ms, ` +
        `kill→all ${res.killToAll} ms, conns mean ${fixed(mean(res.connections), 1)} max ${fixed(max(res.connections), 0)}, ` +
        `opened mean ${fixed(mean(res.opened), 1)} max ${fixed(max(res.opened), 0)}, ` +
        `peak held (100 ms samples) mean ${fixed(mean(res.peakSampled), 1)} max ${fixed(max(res.peakSampled), 0)}, ` +
        `peak at open max ${fixed(max(res.peakAtOpen), 0)}, ` +
        `CPU ms/agent ${fixed(mean(res.cpuMs), 0)} (after ready ${fixed(mean(res.cpuAfterReadyMs), 0)}; ` +
        `imports ${fixed(mean(res.importCpuMs), 0)} ms per worker), ` +
        `idle CPU µs/agent/s ${fixed(res.idleCpuUs, 0)} (main threads ${fixed(res.idleMainUs, 0)}), ` +
        `leaves ${res.leaves}, errors ${res.errors}`,
    );
    if (res.etcd) console.error(`  etcd: ${res.etcd}`);
    (results.get(n) ?? results.set(n, []).get(n)!).push(res);
  }
}
const place =
  source === 'etcd'
    ? `one etcd, ${perProcess} agents per process`
    : `up to ${maxHosts} emulated hosts${source === 'seeds' ? `, ${seedHosts} seed(s)` : ''}`;
console.log(
  `discovery scale (${source}, ${place}, grace ${graceMs} ms, ${runs} run(s), median of runs; per-agent figures ${settleMs} ms after all loaded)`,
);
console.log(
  'agents | spawn→all ms | ready→all ms [min-max] | conns/agent mean (max) | KiB sent/agent mean (max) | CPU ms/agent (after ready) | kill→all ms | spurious leaves | conns opened/agent mean (max) | peak conns held mean (max; at open) | idle CPU µs/agent/s',
);
for (const n of sizes) {
  const rs = results.get(n)!;
  const ready = rs.map((x) => x.readyToAll);
  console.log(
    `${n} | ${median(rs.map((x) => x.spawnToAll))} | ${median(ready)} [${Math.min(...ready)}-${Math.max(...ready)}] | ` +
      `${fixed(median(rs.map((x) => mean(x.connections))), 1)} (${fixed(max(rs.map((x) => max(x.connections))), 0)}) | ` +
      `${fixed(median(rs.map((x) => mean(x.bytes))) / 1024, 1)} (${fixed(max(rs.map((x) => max(x.bytes))) / 1024, 1)}) | ` +
      `${median(rs.map((x) => mean(x.cpuMs))).toFixed(0)} (${fixed(median(rs.map((x) => mean(x.cpuAfterReadyMs))), 0)}) | ` +
      `${median(rs.map((x) => x.killToAll))} | ` +
      `${rs.map((x) => x.leaves).join(', ')} | ` +
      `${fixed(median(rs.map((x) => mean(x.opened))), 1)} (${fixed(max(rs.map((x) => max(x.opened))), 0)}) | ` +
      `${fixed(median(rs.map((x) => mean(x.peakSampled))), 1)} (${fixed(max(rs.map((x) => max(x.peakSampled))), 0)}; ${fixed(max(rs.map((x) => max(x.peakAtOpen))), 0)}) | ` +
      `${fixed(median(rs.map((x) => x.idleCpuUs)), 0)}`,
  );
}
