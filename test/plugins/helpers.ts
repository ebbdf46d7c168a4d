/**
 * Helpers for discovery tests: agents in this process with the gossip
 * discovery on 127.0.0.1, and waits on agent events with generous timeouts.
 */
import { Agent } from '../../src/agent.js';
import type { NixlError } from '../../src/errors.js';
import {
  generateClusterKey,
  gossip,
  type GossipDiscovery,
  type GossipOptions,
} from '../../plugins/gossip/index.js';
import { seeds } from '../../plugins/seeds/index.js';

/** The cluster key the agents of one test file share (a fresh one per process). */
export const TEST_CLUSTER_KEY = generateClusterKey();

export interface TestAgent {
  agent: Agent;
  disc: GossipDiscovery;
  /** Every peer event and discovery error, in order: 'peer:join b', 'error NIXL_ERR_NOT_ALLOWED ...'. */
  events: string[];
  errors: NixlError[];
}

export async function startAgent(
  name: string,
  opts: Partial<GossipOptions> & { seedAddrs?: string[] } = {},
): Promise<TestAgent> {
  const { seedAddrs, ...rest } = opts;
  const disc = gossip({
    cluster: 'test',
    clusterKey: TEST_CLUSTER_KEY,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    sources: seedAddrs ? [seeds(seedAddrs, { retryMs: 100, maxRetryMs: 1000 })] : [],
    graceMs: 2000,
    announceIntervalMs: 500,
    heartbeatIntervalMs: 200,
    ...rest,
  });
  const agent = await Agent.create({
    name,
    backends: [{ type: 'TCP', params: { bind_addr: '127.0.0.1', port: '0' } }],
    discovery: disc,
  });
  const t: TestAgent = { agent, disc, events: [], errors: [] };
  for (const kind of ['peer:join', 'peer:update', 'peer:leave'] as const) {
    agent.on(kind, (peer: string) => t.events.push(`${kind} ${peer}`));
  }
  agent.on('discovery:error', (err: NixlError) => {
    t.errors.push(err);
    t.events.push(`error ${err.code} ${err.message}`);
  });
  return t;
}

/** The seed address of an agent: its first listen multiaddr without /p2p/. */
export function seedOf(t: TestAgent): string {
  const a = t.disc.getMultiaddrs()[0];
  if (!a) throw new Error('agent has no listen address');
  return a.replace(/\/p2p\/.*$/, '');
}

/** Polls a condition until true, failing with `what` after timeoutMs. */
export async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function closeAll(ts: (TestAgent | undefined)[]): Promise<void> {
  await Promise.all(ts.map((t) => t?.agent.close().catch(() => {})));
}
