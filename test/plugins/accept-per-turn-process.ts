/**
 * A control node whose event loop is kept busy, in its own process, for the
 * test of how many connections it accepts per loop iteration. Every inbound
 * connection is refused at accept (admitInbound answers false, as a seed at
 * its bound does): the count of admission calls is the count of accepts. Run
 * with `node --import tsx accept-per-turn-process.ts '<json>'` ({clusterKey,
 * listen}); it emits `ready` with its TCP port.
 * Command `block` {queued}: replies at once, then blocks the loop (a busy
 * worker) until the kernel's accept queue of its port holds `queued`
 * connections (at most 5 s), then counts the accepts between consecutive loop
 * iterations until it has seen `queued` (at most 3 s). Command `counts`: once
 * that is done, the accepts per iteration that accepted any, and the queue
 * length seen when the loop was let go. Command `stop`: stops the node (the
 * process stays). The process exits when stdin ends.
 */
import '../../src/polyfills.js';

import { readFileSync } from 'node:fs';

import { parseClusterKey } from '../../plugins/gossip/cluster-key.js';
import { createControlNode } from '../../plugins/libp2p-node/index.js';
import { serveJsonLines } from '../../testing/json-line-server.js';

const cfg = JSON.parse(process.argv[2]!) as { clusterKey: string; listen: string };
let accepted = 0;
const node = await createControlNode({
  listen: [cfg.listen],
  clusterKey: parseClusterKey(cfg.clusterKey),
  identify: false,
  pubsub: false,
  admitInbound: () => {
    accepted++;
    return false;
  },
});
// `/ip4/HOST/tcp/PORT/p2p/ID`
const port = Number(node.getMultiaddrs()[0]!.toString().split('/')[4]);

/** The accept queue of this process's listening sockets on `port` (rx_queue of a LISTEN row). */
function queuedOnPort(): number {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let queued = 0;
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    for (const row of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const c = row.trim().split(/\s+/);
      if (c[1]?.endsWith(hexPort) && c[3] === '0A') queued += parseInt(c[4]!.split(':')[1]!, 16);
    }
  }
  return queued;
}

type Counts = { perIteration: number[]; queuedAtRelease: number };
let counted: Promise<Counts> | undefined;

function blockThenCount(queued: number): Promise<Counts> {
  return new Promise((resolve) =>
    setImmediate(() => {
      const blockedAt = Date.now();
      while (queuedOnPort() < queued && Date.now() - blockedAt < 5000) {}
      const queuedAtRelease = queuedOnPort();
      accepted = 0;
      const perIteration: number[] = [];
      const countedAt = Date.now();
      const tick = () => {
        if (accepted) perIteration.push(accepted);
        accepted = 0;
        const total = perIteration.reduce((a, b) => a + b, 0);
        if (total < queued && Date.now() - countedAt < 3000) setImmediate(tick);
        else resolve({ perIteration, queuedAtRelease });
      };
      setImmediate(tick);
    }),
  );
}

const server = serveJsonLines<
  { cmd: 'block'; queued: number } | { cmd: 'counts' } | { cmd: 'stop' }
>(
  {
    block: (c) => {
      counted = blockThenCount(c.queued);
    },
    counts: () => counted ?? Promise.reject(new Error('no block command yet')),
    stop: async () => {
      await node.stop();
    },
  },
  { onEnd: () => void Promise.resolve(node.stop()).finally(() => process.exit(0)) },
);
server.emit('ready', { port });
