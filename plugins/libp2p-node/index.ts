/**
 * The shared libp2p node factory for the control plane: tcp, noise, yamux,
 * identify and gossipsub. Data never flows through it; only metadata and
 * discovery messages do. Loaded only when an agent configures discovery.
 */
import '../../src/polyfills.js';

import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@libp2p/noise';
import { yamux } from '@libp2p/yamux';
import { identify, type Identify } from '@libp2p/identify';
import { gossipsub, type GossipSub } from '@libp2p/gossipsub';
import type { PeerDiscovery } from '@libp2p/interface';

export type ControlServices = { identify: Identify; pubsub: GossipSub };
export type ControlNode = Libp2p<ControlServices>;
/** A libp2p peer-discovery component factory (e.g. `mdns(...)`). */
export type PeerDiscoveryFactory = (components: any) => PeerDiscovery;

export interface ControlNodeOptions {
  /** Multiaddrs to listen on, e.g. `/ip4/0.0.0.0/tcp/0`. */
  listen: string[];
  peerDiscovery?: PeerDiscoveryFactory[];
  /** Gossipsub heartbeat; shorter spreads subscriptions (and so the mesh) faster. */
  heartbeatIntervalMs?: number;
  /** Upper bound on open connections; every agent keeps one to each peer. */
  maxConnections?: number;
  /** Create stopped, so protocol handlers can be installed before the first peer arrives. */
  start?: boolean;
}

export async function createControlNode(opts: ControlNodeOptions): Promise<ControlNode> {
  return createLibp2p({
    start: opts.start ?? true,
    addresses: { listen: opts.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: opts.peerDiscovery ?? [],
    connectionManager: {
      maxConnections: opts.maxConnections ?? 1024,
      // Many agents share one host address (one machine, one namespace): the
      // default per-host inbound rate limit (5/s) would refuse a cluster start.
      inboundConnectionThreshold: 10_000,
      maxIncomingPendingConnections: 1024,
      // A busy host (a cluster starting, a loaded machine) slows handshakes;
      // a handshake that times out is retried, which loads the host more.
      dialTimeout: 30_000,
      addressDialTimeout: 20_000,
      inboundUpgradeTimeout: 30_000,
    },
    // Pings find peers that vanished without closing their sockets. On a
    // starved host a ping can take seconds: a 5 s limit (the default) would
    // cut healthy connections and make peers leave and rejoin.
    connectionMonitor: {
      pingInterval: 10_000,
      pingTimeout: { minTimeout: 20_000, maxTimeout: 60_000 },
    },
    services: {
      identify: identify(),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        floodPublish: true,
        heartbeatInterval: opts.heartbeatIntervalMs ?? 1000,
      }),
    },
  }) as Promise<ControlNode>;
}
