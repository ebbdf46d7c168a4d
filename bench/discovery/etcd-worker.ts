/**
 * One process of the etcd scale benchmark: starts K agents here (each with
 * its own etcd plugin and client, and the TCP backend on 127.0.0.1), and
 * reports as JSON lines when each agent is ready and when it has loaded every
 * other agent of the run. Stays up until its input ends (peers may still be
 * loading), or exits after the time limit.
 *
 * argv: JSON { names: string[], total: number, endpoint: string, namespace: string, limitMs: number }
 */
import '../../src/polyfills.js';

import { Agent } from '../../src/agent.js';
import { etcd } from '../../plugins/etcd/index.js';

interface WorkerConfig {
  names: string[];
  total: number;
  endpoint: string;
  namespace: string;
  limitMs: number;
}

const cfg = JSON.parse(process.argv[2]!) as WorkerConfig;
const out = (o: object) => process.stdout.write(JSON.stringify({ ...o, t: Date.now() }) + '\n');
process.stdout.on('error', () => void shutdown(1));

const agents: Agent[] = [];
let complete = 0;
const limit = setTimeout(() => {
  out({ ev: 'timeout', complete });
  void shutdown(1);
}, cfg.limitMs);

await Promise.all(
  cfg.names.map(async (name) => {
    const agent = await Agent.create({
      name,
      backends: [{ type: 'TCP', params: { bind_addr: '127.0.0.1', port: '0' } }],
      discovery: etcd({
        endpoints: cfg.endpoint,
        namespace: cfg.namespace,
        connectTimeoutMs: 60_000,
      }),
    });
    agents.push(agent);
    out({ ev: 'ready', agent: name });
    const check = () => {
      if (agent.remoteAgents.length === cfg.total - 1) {
        agent.off('peer:join', check);
        out({ ev: 'loaded-all', agent: name });
        complete++;
      }
    };
    agent.on('peer:join', (peer) => out({ ev: 'join', agent: name, peer }));
    agent.on('peer:join', check);
    agent.on('peer:leave', (peer) => out({ ev: 'leave', agent: name, peer }));
    agent.on('discovery:error', (e) => out({ ev: 'error', agent: name, message: e.message }));
    check();
  }),
);

async function shutdown(code: number): Promise<void> {
  clearTimeout(limit);
  await Promise.all(agents.map((a) => a.close().catch(() => {})));
  process.exit(code);
}
process.stdin.on('end', () => void shutdown(complete === cfg.names.length ? 0 : 1));
process.stdin.resume();
