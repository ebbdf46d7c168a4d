/**
 * The shared libp2p node factory for the control plane: tcp, a private
 * network (pre-shared cluster key), noise, yamux, identify and gossipsub. Data
 * never flows through it; only metadata and discovery messages do. Loaded
 * only when an agent configures discovery.
 */
import '../../src/polyfills.js';

import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@libp2p/noise';
import { yamux } from '@libp2p/yamux';
import { identify, type Identify } from '@libp2p/identify';
import { gossipsub, type GossipSub } from '@libp2p/gossipsub';
import type { PeerDiscovery, PrivateKey } from '@libp2p/interface';

import { withQuietDecoder } from './length-prefix.js';
import { nativeNoiseCrypto } from './noise-crypto.js';
import { withCachedSigning } from './signing-key.js';
import { libp2pLoggerOption } from './silent-logger.js';
import { DEFAULT_READ_LIMITS, privateNetwork, type ReadLimits } from './private-network.js';
import { dropStreamProtocolRecords } from './stream-protocols.js';
import { tcpRefusingAtAccept } from './refuse-at-accept.js';

/** identify is absent when created with `identify: false`, pubsub with `pubsub: false`. */
export type ControlServices = { identify: Identify; pubsub: GossipSub };
/** A message as it arrives in a gossipsub RPC: unverified, undecoded. */
export interface GossipRpcMessage {
  from?: Uint8Array;
  data?: Uint8Array;
  topic: string;
}
/** Longest stretch of gossip RPC handling before it yields to the event loop. */
const RPC_SLICE_MS = 5;
export type ControlNode = Libp2p<ControlServices>;
/** A libp2p peer-discovery component factory (e.g. `mdns(...)`). */
export type PeerDiscoveryFactory = (components: any) => PeerDiscovery;

export interface ControlNodeOptions {
  /** Multiaddrs to listen on, e.g. `/ip4/127.0.0.1/tcp/0`. */
  listen: string[];
  /**
   * The cluster key (32 bytes): every connection is a libp2p private-network
   * connection under it, so only holders of the key can connect. Undefined
   * only for an explicitly insecure (open) cluster.
   */
  clusterKey?: Uint8Array;
  /** Per-connection read limits of the private network (see private-network.ts). */
  readLimits?: Partial<ReadLimits>;
  /** Only these pubsub topics are tracked (subscriptions and messages for others are dropped). */
  topics?: string[];
  /** Largest gossipsub RPC frame read; a peer sending a larger one loses its gossip stream. */
  maxRpcBytes?: number;
  /**
   * Admission control for gossip, run on each received RPC's messages before
   * gossipsub verifies their signatures or looks at them at all: returns the
   * messages to keep. With it, RPC handling also yields to the event loop
   * every few milliseconds, so a flood from one peer is read at the pace it
   * can be handled (TCP backpressure) instead of stalling the process.
   */
  gate?: (source: string, messages: GossipRpcMessage[]) => GossipRpcMessage[];
  peerDiscovery?: PeerDiscoveryFactory[];
  /** Gossipsub heartbeat; shorter spreads subscriptions (and so the mesh) faster. */
  heartbeatIntervalMs?: number;
  /** Upper bound on open connections; every agent keeps one to each peer. */
  maxConnections?: number;
  /** Peers refused outright (not dialed, their connections closed once they are identified). */
  refuse?: (peerId: string) => boolean;
  /**
   * Admission of an inbound connection, asked when its socket is accepted,
   * before libp2p sees it (a ConnectionGate's admitInbound): false resets it
   * there (refuse-at-accept.ts), and the dialer sees its dial fail and tries
   * elsewhere.
   */
  admitInbound?: () => boolean;
  /** Create stopped, so protocol handlers can be installed before the first peer arrives. */
  start?: boolean;
  /**
   * The node's identity (default: a new Ed25519 key, made by libp2p); the discovery signs
   * its records with it. A given Ed25519 key signs with one cached key object (signing-key.ts).
   */
  privateKey?: PrivateKey;
  /** Run gossipsub (default true); the discovery mesh has its own protocol and turns it off. */
  pubsub?: boolean;
  /**
   * Run identify (default true). Each connection then exchanges signed peer
   * records both ways (an Ed25519 signature and a verification each, peer
   * store writes); the discovery mesh carries addresses in its own records
   * and dials its protocol directly, so it turns it off.
   */
  identify?: boolean;
}

export async function createControlNode(opts: ControlNodeOptions): Promise<ControlNode> {
  const node = (await createLibp2p({
    start: opts.start ?? true,
    ...(opts.privateKey ? { privateKey: withCachedSigning(opts.privateKey) } : {}),
    ...libp2pLoggerOption(),
    addresses: { listen: opts.listen },
    transports: [opts.admitInbound ? tcpRefusingAtAccept(opts.admitInbound) : tcp()],
    ...(opts.clusterKey
      ? {
          connectionProtector: privateNetwork(opts.clusterKey, {
            ...DEFAULT_READ_LIMITS,
            ...opts.readLimits,
          }),
        }
      : {}),
    connectionEncrypters: [controlNoise()],
    streamMuxers: [yamux()],
    peerDiscovery: opts.peerDiscovery ?? [],
    ...(opts.refuse ? { connectionGater: gaterFor(opts.refuse) } : {}),
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
      ...(opts.identify === false ? {} : { identify: identify() }),
      ...(opts.pubsub === false
        ? {}
        : {
            pubsub: gossipsub({
              allowPublishToZeroTopicPeers: true,
              emitSelf: false,
              floodPublish: true,
              heartbeatInterval: opts.heartbeatIntervalMs ?? 1000,
              ...(opts.topics ? { allowedTopics: opts.topics } : {}),
              maxInboundDataLength: opts.maxRpcBytes ?? 4 * 1024 * 1024,
              // Each peer's RPCs are handled one after another (see gate): a slow
              // handler slows that peer's stream, not the process.
              awaitRpcHandler: opts.gate !== undefined,
            }),
          }),
    },
  })) as ControlNode;
  if (opts.gate && opts.pubsub !== false) installGate(node.services.pubsub, opts.gate);
  if (opts.identify === false && opts.pubsub === false) dropStreamProtocolRecords(node);
  return node;
}

/**
 * The control plane's noise: the standard handshake, its key operations on
 * Node's crypto, and each secured connection's message decoder given a length
 * decoder that does not build an error per socket read (length-prefix.ts).
 */
export function controlNoise(): ReturnType<typeof noise> {
  const factory = noise({ crypto: nativeNoiseCrypto });
  return (components) => {
    const encrypter = factory(components);
    const secureInbound = encrypter.secureInbound.bind(encrypter);
    const secureOutbound = encrypter.secureOutbound.bind(encrypter);
    encrypter.secureInbound = async (...args) => withQuietDecoder(await secureInbound(...args));
    encrypter.secureOutbound = async (...args) => withQuietDecoder(await secureOutbound(...args));
    return encrypter;
  };
}

function gaterFor(refuse: (peerId: string) => boolean) {
  const deny = (peerId: { toString(): string }) => refuse(peerId.toString());
  return {
    denyDialPeer: deny,
    denyInboundEncryptedConnection: deny,
    denyOutboundEncryptedConnection: deny,
  };
}

/**
 * Inbound connections in their handshakes (the connection manager counts
 * one from the moment libp2p takes its socket): its own field, which has no
 * public accessor.
 */
export function inboundInHandshake(node: ControlNode): number {
  const cm = (node as unknown as { components?: { connectionManager?: any } }).components
    ?.connectionManager;
  return cm?.incomingPendingConnections ?? 0;
}

/**
 * Wraps gossipsub's RPC handler (a public method of its implementation) with
 * the gate and with time slicing. gossipsub reads each peer's stream in a
 * loop that awaits this handler (awaitRpcHandler), so awaiting here holds
 * that peer's stream while the event loop runs.
 */
function installGate(pubsub: GossipSub, gate: NonNullable<ControlNodeOptions['gate']>): void {
  const impl = pubsub as unknown as {
    handleReceivedRpc(
      from: { toString(): string },
      rpc: { messages: GossipRpcMessage[] },
    ): Promise<void>;
  };
  if (typeof impl.handleReceivedRpc !== 'function') {
    throw new Error('gossipsub has no handleReceivedRpc: the gossip gate cannot be installed');
  }
  const handle = impl.handleReceivedRpc.bind(pubsub);
  let sliceStart = performance.now();
  impl.handleReceivedRpc = async (from, rpc) => {
    if (performance.now() - sliceStart > RPC_SLICE_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
    if (rpc.messages?.length) rpc.messages = gate(from.toString(), rpc.messages);
    return handle(from, rpc);
  };
}
