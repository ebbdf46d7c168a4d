/**
 * One emulated host of the discovery scale benchmark: starts K agents in this
 * process (each with its own libp2p node on the host's address), and reports
 * as JSON lines when each agent is ready and when it has loaded every other
 * agent of the cluster. Exits after all are loaded or after the time limit.
 *
 * argv: JSON { names: string[], total: number, ip: string, cluster: string, clusterKey: string,
 *              source: 'mdns' | 'seeds', seeds?: string[], limitMs: number }
 */
import '../../src/polyfills.js';

import { Agent } from '../../src/agent.js';
import { gossip } from '../../plugins/gossip/index.js';
import { mdns } from '../../plugins/mdns/index.js';
import { seeds } from '../../plugins/seeds/index.js';

interface WorkerConfig {
  names: string[];
  total: number;
  ip: string;
  cluster: string;
  /** The cluster key all agents of the run share. */
  clusterKey: string;
  source: 'mdns' | 'seeds';
  seeds?: string[];
  /** Listen port of the first agent (the seed), 0 for any. */
  firstPort?: number;
  limitMs: number;
}

const cfg = JSON.parse(process.argv[2]!) as WorkerConfig;
const out = (o: object) => process.stdout.write(JSON.stringify({ ...o, t: Date.now() }) + '\n');
// The parent gone (it timed out or was stopped): stop too.
process.stdout.on('error', () => void shutdown(1));

const agents: Agent[] = [];
let complete = 0;
const limit = setTimeout(() => {
  out({ ev: 'timeout', complete });
  void shutdown(1);
}, cfg.limitMs);

const progress = setInterval(() => {
  out({ ev: 'progress', counts: agents.map((a) => a.remoteAgents.length) });
}, 5000);
progress.unref();

await Promise.all(
  cfg.names.map(async (name, i) => {
    const port = i === 0 && cfg.firstPort ? cfg.firstPort : 0;
    const disc = gossip({
      cluster: cfg.cluster,
      clusterKey: cfg.clusterKey,
      listen: [`/ip4/${cfg.ip}/tcp/${port}`],
      sources: cfg.source === 'mdns' ? [mdns()] : [seeds(cfg.seeds ?? [])],
      graceMs: 10_000,
    });
    const agent = await Agent.create({
      name,
      // The real data plane, bound to this emulated host's address: what a
      // peer loads is exactly what it would transfer with.
      backends: [{ type: 'TCP', params: { bind_addr: cfg.ip, port: '0' } }],
      discovery: disc,
    });
    agents.push(agent);
    out({ ev: 'ready', agent: name });
    const check = () => {
      if (agent.remoteAgents.length === cfg.total - 1) {
        agent.off('peer:join', check);
        out({ ev: 'loaded-all', agent: name });
        if (++complete === cfg.names.length) void shutdownWhenTold();
      }
    };
    agent.on('peer:join', check);
    agent.on('peer:leave', (peer) => out({ ev: 'leave', agent: name, peer }));
    agent.on('discovery:error', (e) => out({ ev: 'error', agent: name, message: e.message }));
    check();
  }),
);

// Stay up (serving our metadata) until the parent closes stdin: peers on other
// hosts may still be fetching from us.
async function shutdownWhenTold(): Promise<void> {
  process.stdin.resume();
  process.stdin.once('end', () => void shutdown(0));
}

async function shutdown(code: number): Promise<void> {
  clearTimeout(limit);
  await Promise.all(agents.map((a) => a.close().catch(() => {})));
  process.exit(code);
}
process.stdin.on('end', () => void shutdown(complete === cfg.names.length ? 0 : 1));
process.stdin.resume();
