/**
 * A peer source finds candidate peers for the gossip discovery: mDNS on a LAN,
 * a static seed list in a datacenter. Sources only find peers; the gossip
 * discovery dials them, fetches and checks their metadata.
 */
import type { Connection, PeerInfo } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';

import type { Logger } from '../../src/logger.js';
import type { ControlNode, PeerDiscoveryFactory } from './index.js';

export interface PeerSourceContext {
  readonly cluster: string;
  readonly node: ControlNode;
  /**
   * Dials through the node's connection bound: a dial with no slot fails at
   * once with a ConnectionBoundError (try again later).
   */
  dial(addr: Multiaddr, options?: object): Promise<Connection>;
  /**
   * True while the node holds a connection or the discovery is dialing a
   * member it knows (a joiner its seed referred elsewhere and hung up on
   * links with the members it was given): a bootstrap source has nothing
   * to dial then.
   */
  linking(): boolean;
  readonly log: Logger;
  /** Aborted when the discovery stops. */
  readonly signal: AbortSignal;
}

/** What a source that answers other agents (mDNS) may ask of the node. */
export interface NodeRoom {
  /**
   * True while the node should not invite more connections: at its
   * connection bound (a dial would be refused), or already taking joiners'
   * handshakes. A LAN source stays silent then, so that joiners hear, and
   * dial, agents with room.
   */
  busy(): boolean;
  /**
   * A peer this source heard of: handed to the discovery as it comes, not
   * through libp2p's peer discovery (which writes each one into the peer
   * store; the discovery's dial writes the addresses it uses itself).
   */
  heard(peer: PeerInfo): void;
}

export interface PeerSource {
  readonly kind: string;
  /**
   * libp2p peer-discovery components to install in the node, created before
   * the node starts. May throw to refuse starting (the mDNS namespace guard).
   */
  peerDiscovery?(cluster: string, room?: NodeRoom): Promise<PeerDiscoveryFactory[]>;
  /** Runs once the node has started; stops when `ctx.signal` aborts. */
  start?(ctx: PeerSourceContext): void;
}
