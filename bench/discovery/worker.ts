/**
 * One process of the discovery scale benchmark (scale.ts): starts K agents in
 * this process, each with its own discovery (gossip over seeds or mDNS, with
 * its libp2p node on this host's address; or the etcd plugin with its own
 * client) and the TCP backend, and reports as JSON lines when each agent is
 * ready, when it has loaded every other agent of the run, every peer:leave,
 * and, `statsAfterMs` after its agents are complete, what each agent holds
 * and spent (control-plane connections and links, mesh bytes sent, this
 * process's CPU time per agent). Stays up until its input ends (peers may
 * still be loading), or exits after the time limit.
 *
 * argv: JSON { names, total, ip, source: 'seeds' | 'mdns' | 'etcd', cluster, clusterKey,
 *              seeds?, firstPort?, endpoint?, namespace?, graceMs?, statsAfterMs?, limitMs }
 */
import '../../src/polyfills.js';

import { Agent } from '../../src/agent.js';
import type { Discovery } from '../../src/discovery.js';
import { splitSince, threadCpuMs } from './thread-cpu.js';

interface WorkerConfig {
  names: string[];
  total: number;
  ip: string;
  source: 'mdns' | 'seeds' | 'etcd';
  cluster: string;
  /** The cluster key all agents of the run share (gossip). */
  clusterKey?: string;
  seeds?: string[];
  /** Listen port of the first agent (the seed), 0 for any. */
  firstPort?: number;
  /** etcd: the endpoint and the run's namespace. */
  endpoint?: string;
  namespace?: string;
  graceMs?: number;
  /** Report every peer:join (the timeline of a run). */
  timeline?: boolean;
  statsAfterMs?: number;
  /** After the stats snapshot, the CPU of this long a window is measured (idle, converged). */
  idleMs?: number;
  limitMs: number;
}

const cfg = JSON.parse(process.argv[2]!) as WorkerConfig;
const out = (o: object) => process.stdout.write(JSON.stringify({ ...o, t: Date.now() }) + '\n');
// The parent gone (it timed out or was stopped): stop too.
process.stdout.on('error', () => void shutdown(1));

const agents: Agent[] = [];
const discs: Discovery[] = [];
let complete = 0;
const limit = setTimeout(() => {
  out({ ev: 'timeout', complete });
  void shutdown(1);
}, cfg.limitMs);

const progress = setInterval(() => {
  out({ ev: 'progress', counts: agents.map((a) => a.remoteAgents.length) });
}, 5000);
progress.unref();

/**
 * The most control-plane connections each agent held at any moment: sampled
 * every 100 ms, and the discovery's own count taken as each connection opened
 * (it sees one that is closed again within the same turn). Reported as a
 * `peak` line whenever an agent's peak grows, until the worker exits (the
 * kill's probes included).
 */
const peaks = new Map<string, { sampled: number; atOpen: number }>();
const sampler = setInterval(() => {
  for (const [i, d] of discs.entries()) {
    const agent = agents[i]!.name;
    // (stats().connections where the discovery has no cheap count: an older build, for A/B runs.)
    const sampled = (d as any).connectionCount ?? (d as any).stats?.().connections ?? 0;
    const atOpen = (d as any).peakConnections ?? 0;
    const p = peaks.get(agent) ?? { sampled: 0, atOpen: 0 };
    if (sampled <= p.sampled && atOpen <= p.atOpen) continue;
    peaks.set(agent, { sampled: Math.max(sampled, p.sampled), atOpen: Math.max(atOpen, p.atOpen) });
    out({ ev: 'peak', agent, ...peaks.get(agent) });
  }
}, 100);
sampler.unref();

async function discoveryModules(): Promise<void> {
  if (cfg.source === 'etcd') await import('../../plugins/etcd/index.js');
  else {
    await import('../../plugins/gossip/index.js');
    await import('../../plugins/libp2p-node/index.js');
    if (cfg.source === 'mdns') await import('../../plugins/mdns/index.js');
    else await import('../../plugins/seeds/index.js');
  }
}

async function discoveryFor(port: number): Promise<Discovery> {
  if (cfg.source === 'etcd') {
    const { etcd } = await import('../../plugins/etcd/index.js');
    return etcd({ endpoints: cfg.endpoint!, namespace: cfg.namespace!, connectTimeoutMs: 60_000 });
  }
  const { gossip } = await import('../../plugins/gossip/index.js');
  const source =
    cfg.source === 'mdns'
      ? (await import('../../plugins/mdns/index.js')).mdns()
      : (await import('../../plugins/seeds/index.js')).seeds(cfg.seeds ?? [], {
          retryMs: 100,
          maxRetryMs: 1000,
        });
  return gossip({
    cluster: cfg.cluster,
    clusterKey: cfg.clusterKey,
    listen: [`/ip4/${cfg.ip}/tcp/${port}`],
    sources: [source],
    graceMs: cfg.graceMs ?? 10_000,
  });
}

// CPU from here on: the agents and their discovery (the discovery's modules,
// imported on the first agent's creation, included), not the worker's own imports.
// Timeline: each agent's seed dials (the seeds source's debug lines), as events.
// mDNS: each answer heard and what the discovery did with it (the `lan` lines).
const traced = cfg.source === 'seeds' ? 'seeds' : 'lan';
if (cfg.timeline && cfg.source !== 'etcd') {
  process.env.NIXL_LOG_LEVEL = 'warn';
  process.env.DEBUG = cfg.names
    .flatMap((n) => [
      `nixl:agent:${n}:discovery:gossip:${traced}`,
      ...(traced === 'lan' ? [`nixl:agent:${n}:discovery:gossip:mesh`] : []),
    ])
    .join(',');
}
const logSink = (name: string) => {
  const line = (msg: string) => out({ ev: 'log', agent: name, msg });
  return { error: line, warn: line, info: line, debug: line, trace: line };
};
const cpu0 = process.cpuUsage();
const threadsBefore = threadCpuMs();
let threadsAtReady = threadsBefore;
/** CPU until this process's last agent was ready (imports, agent creation, joining). */
let cpuToReady: NodeJS.CpuUsage | undefined;
// The discovery's modules, loaded once per process (the agents below find them
// cached): their CPU is counted in the total, and reported on its own.
await discoveryModules();
const importCpu = process.cpuUsage(cpu0);
await Promise.all(
  cfg.names.map(async (name, i) => {
    const port = i === 0 && cfg.firstPort ? cfg.firstPort : 0;
    const disc = await discoveryFor(port);
    const agent = await Agent.create({
      name,
      // The real data plane, bound to this emulated host's address: what a
      // peer loads is exactly what it would transfer with.
      backends: [{ type: 'TCP', params: { bind_addr: cfg.ip, port: '0' } }],
      discovery: disc,
      ...(cfg.timeline && cfg.source !== 'etcd' ? { logger: logSink(name) } : {}),
    });
    agents.push(agent);
    discs.push(disc);
    if (agents.length === cfg.names.length) {
      cpuToReady = process.cpuUsage(cpu0);
      threadsAtReady = threadCpuMs();
    }
    out({ ev: 'ready', agent: name });
    const check = () => {
      if (agent.remoteAgents.length === cfg.total - 1) {
        agent.off('peer:join', check);
        out({ ev: 'loaded-all', agent: name });
        if (++complete === cfg.names.length) reportStatsLater();
      }
    };
    agent.on('peer:join', check);
    agent.on('peer:leave', (peer) =>
      // With when each step of failure detection about it happened here (gossip).
      out({ ev: 'leave', agent: name, peer, steps: (disc as any).failureTrace?.(peer) }),
    );
    if (cfg.timeline) {
      agent.on('peer:join', (peer) => out({ ev: 'join', agent: name, peer }));
      // When this agent first holds a mesh link (polled: the discovery has no event for it).
      const poll = setInterval(() => {
        if (((disc as any).stats?.().links ?? 0) > 0) {
          clearInterval(poll);
          out({ ev: 'linked', agent: name });
        }
      }, 20);
      poll.unref();
    }
    agent.on('discovery:error', (e) => out({ ev: 'error', agent: name, message: e.message }));
    check();
  }),
);

/** What each agent holds and spent, once the cluster has settled a little. */
function reportStatsLater(): void {
  const t = setTimeout(() => {
    const cpu = process.cpuUsage(cpu0);
    const threads = splitSince(threadsAtReady, threadCpuMs(), new Set(threadsBefore.keys()));
    const perAgent = discs.map((d, i) => {
      const s = (d as any).stats?.();
      return s && s.sent
        ? {
            agent: agents[i]!.name,
            connections: s.connections,
            opened: s.opened,
            openedBy: s.openedBy,
            links: s.links,
            bytes: s.sent.bytes,
            frames: s.sent.frames,
            dropped: s.sent.dropped,
            dialed: s.sent.dialed,
            bytesByKind: s.bytesByKind,
            framesByKind: s.framesByKind,
            sentFor: s.sentFor,
            suspicions: s.membership.suspicions,
            raised: s.membership.raised,
            shed: s.membership.shed,
            orphaned: s.membership.orphaned,
            referred: s.membership.referred,
            refusedAtBound: s.refusedAtBound,
            verified: s.membership.verified,
            duplicates: s.membership.duplicates,
            flushes: s.membership.flushes,
            saturatedFlushes: s.membership.saturatedFlushes,
            verifyTime: s.verifyTime,
            recordLoads: s.recordLoads,
          }
        : {
            connections: NaN,
            opened: NaN,
            links: NaN,
            bytes: NaN,
            frames: NaN,
            dropped: 0,
            dialed: 0,
            suspicions: 0,
            raised: 0,
            shed: 0,
            orphaned: 0,
          };
    });
    const stats = {
      agents: perAgent,
      cpuMsPerAgent: (cpu.user + cpu.system) / 1000 / agents.length,
      importCpuMs: (importCpu.user + importCpu.system) / 1000,
      // What came after this process's last agent was ready: the discovery's work proper.
      cpuAfterReadyMsPerAgent:
        (cpu.user + cpu.system - (cpuToReady ? cpuToReady.user + cpuToReady.system : 0)) /
        1000 /
        agents.length,
      // The same, by thread (ms per agent).
      threadsAfterReadyMsPerAgent: {
        main: threads.main / agents.length,
        helpers: threads.helpers / agents.length,
        started: threads.started / agents.length,
      },
    };
    // Then the converged cluster at rest: what its timers and probes cost.
    const idleMs = cfg.idleMs ?? 0;
    if (idleMs <= 0) return out({ ev: 'stats', ...stats });
    const idleFrom = process.cpuUsage();
    const idleAt = performance.now();
    const threadsIdle = threadCpuMs();
    setTimeout(() => {
      const used = process.cpuUsage(idleFrom);
      const seconds = (performance.now() - idleAt) / 1000;
      const perAgentPerS = (us: number) => us / agents.length / seconds;
      const split = splitSince(threadsIdle, threadCpuMs(), new Set(threadsBefore.keys()));
      out({
        ev: 'stats',
        ...stats,
        idleCpuUsPerAgentPerS: perAgentPerS(used.user + used.system),
        idleMainUsPerAgentPerS: perAgentPerS(split.main * 1000),
      });
    }, idleMs).unref();
  }, cfg.statsAfterMs ?? 3000);
  t.unref();
}

async function shutdown(code: number): Promise<void> {
  clearTimeout(limit);
  await Promise.all(agents.map((a) => a.close().catch(() => {})));
  process.exit(code);
}
process.stdin.on('end', () => void shutdown(complete === cfg.names.length ? 0 : 1));
process.stdin.resume();
