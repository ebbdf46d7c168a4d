/**
 * One agent with the gossip discovery in its own process, for discovery tests
 * that need a member outside the test's event loop. Run with
 * `node --import tsx member-process.ts '<json>'` ({name, clusterKey, seed?, graceMs}; without
 * a seed it is one: `ready` carries its multiaddr);
 * commands on stdin (JSON lines): `close` emits `closing`, closes the agent
 * and replies once close() resolved. The process exits when stdin ends.
 */
import '../../src/polyfills.js';

import { Agent } from '../../src/agent.js';
import { gossip } from '../../plugins/gossip/index.js';
import { seeds } from '../../plugins/seeds/index.js';
import { serveJsonLines } from '../../testing/json-line-server.js';

interface MemberConfig {
  name: string;
  clusterKey: string;
  seed?: string;
  graceMs: number;
  /** Listen multiaddr (default: any port on 127.0.0.1). */
  listen?: string;
}

const cfg = JSON.parse(process.argv[2]!) as MemberConfig;
const discovery = gossip({
  cluster: 'test',
  clusterKey: cfg.clusterKey,
  listen: [cfg.listen ?? '/ip4/127.0.0.1/tcp/0'],
  sources: cfg.seed ? [seeds([cfg.seed], { retryMs: 100, maxRetryMs: 1000 })] : [],
  graceMs: cfg.graceMs,
});
const agent = await Agent.create({
  name: cfg.name,
  backends: [{ type: 'TCP', params: { bind_addr: '127.0.0.1', port: '0' } }],
  discovery,
});

const server = serveJsonLines<{ cmd: 'close' }>(
  {
    close: async () => {
      server.emit('closing');
      await agent.close();
    },
  },
  { onEnd: () => process.exit(0) },
);
server.emit('ready', { addr: discovery.getMultiaddrs()[0] });
