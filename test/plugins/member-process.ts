/**
 * One agent with the gossip discovery in its own process, for discovery tests
 * that need a member outside the test's event loop. Run with
 * `node --import tsx member-process.ts '<json>'` ({name, clusterKey, seed?, graceMs}; without
 * a seed it is one: `ready` carries its multiaddr);
 * commands on stdin (JSON lines): `close` emits `closing`, closes the agent
 * and replies once close() resolved; `peak` replies with the most TCP
 * connections the process held at once (with `sampleMs`: its own sockets,
 * established or connecting, as the kernel lists them, sampled that often)
 * and what they were at that moment. The process exits when stdin ends.
 */
import '../../src/polyfills.js';

import { readFileSync } from 'node:fs';

import { ownSockets } from '../../bench/cli/path.js';
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
  /** Sample this process's TCP connections this often (ms). */
  sampleMs?: number;
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

const listenPort = Number(/\/tcp\/(\d+)/.exec(discovery.getMultiaddrs()[0] ?? '')?.[1]);
let peak = {
  count: 0,
  sockets: [] as TcpSocket[],
  /** The discovery's dials in progress at that moment, by what they were for. */
  dialing: {} as object,
  /** The connections libp2p held at that moment. */
  connections: 0,
  /** The most connections open or opening the discovery counted at once. */
  openOrOpening: 0,
};
if (cfg.sampleMs) {
  const sampler = setInterval(() => {
    // Only the control plane listens on listenPort; the data plane holds no connection here.
    const sockets = ownTcpSockets().filter((s) => s.localPort === listenPort || s.outbound);
    // (0 where a build has no such count: the test also runs against older code.)
    const openOrOpening = (discovery as any).connectionsOpenOrOpening ?? 0;
    if (sockets.length > peak.count) {
      const { dialing, connections } = discovery.stats();
      peak = { ...peak, count: sockets.length, sockets, dialing, connections };
    }
    peak.openOrOpening = Math.max(peak.openOrOpening, openOrOpening);
  }, cfg.sampleMs);
  sampler.unref();
}

const server = serveJsonLines<{ cmd: 'close' | 'peak' }>(
  {
    close: async () => {
      server.emit('closing');
      await agent.close();
    },
    // (refusedAtBound: where a build has it, the dials and accepts its bound refused so far.)
    peak: () => ({ ...peak, refusedAtBound: discovery.stats().refusedAtBound }),
  },
  { onEnd: () => process.exit(0) },
);
server.emit('ready', { addr: discovery.getMultiaddrs()[0] });

interface TcpSocket {
  localPort: number;
  remotePort: number;
  /** 01 established, 02 connecting (SYN sent). */
  state: string;
  /** Not accepted on a listening port of this process: dialed by it. */
  outbound: boolean;
}

/** This process's TCP sockets that are established or connecting, from /proc. */
function ownTcpSockets(): TcpSocket[] {
  const inodes = ownSockets();
  // By inode: a read of the table while it changes can list a socket twice.
  const byInode = new Map<string, string[]>();
  for (const table of ['tcp', 'tcp6'])
    for (const line of readFileSync(`/proc/self/net/${table}`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && inodes.has(f[9]!)) byInode.set(f[9]!, f);
    }
  const rows = [...byInode.values()];
  const port = (addr: string) => parseInt(addr.split(':')[1]!, 16);
  const listening = new Set(rows.filter((f) => f[3] === '0A').map((f) => port(f[1]!)));
  return rows
    .filter((f) => f[3] === '01' || f[3] === '02')
    .map((f) => ({
      localPort: port(f[1]!),
      remotePort: port(f[2]!),
      state: f[3]!,
      outbound: !listening.has(port(f[1]!)),
    }));
}
