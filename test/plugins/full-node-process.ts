/**
 * A control node at its connection bound, in its own process, for tests of
 * what a refused dial costs: every inbound connection is refused
 * (admitInbound answers false, as a ConnectionGate at its bound does). Run
 * with `node --import tsx full-node-process.ts '<json>'` ({clusterKey}); it
 * emits `ready` with its multiaddr (without /p2p/, as a seed list gives it)
 * and its peer id.
 * Command `counts`: how many sockets admission was asked about, and how many
 * reached libp2p's connection manager (its acceptIncomingConnection, the
 * first step of every inbound upgrade). The process exits when stdin ends.
 */
import '../../src/polyfills.js';

import { parseClusterKey } from '../../plugins/gossip/cluster-key.js';
import { createControlNode } from '../../plugins/libp2p-node/index.js';
import { serveJsonLines } from '../../testing/json-line-server.js';

const cfg = JSON.parse(process.argv[2]!) as { clusterKey: string };
let asked = 0;
let reachedLibp2p = 0;
const node = await createControlNode({
  listen: ['/ip4/127.0.0.1/tcp/0'],
  clusterKey: parseClusterKey(cfg.clusterKey),
  identify: false,
  pubsub: false,
  admitInbound: () => {
    asked++;
    return false;
  },
});
const cm = (node as unknown as { components: { connectionManager: any } }).components
  .connectionManager;
const accept = cm.acceptIncomingConnection.bind(cm);
cm.acceptIncomingConnection = (maConn: unknown) => {
  reachedLibp2p++;
  return accept(maConn);
};

const server = serveJsonLines<{ cmd: 'counts' }>(
  { counts: () => ({ asked, reachedLibp2p }) },
  { onEnd: () => void Promise.resolve(node.stop()).finally(() => process.exit(0)) },
);
server.emit('ready', {
  addr: node.getMultiaddrs()[0]!.decapsulateCode(421).toString(),
  peerId: node.peerId.toString(),
});
