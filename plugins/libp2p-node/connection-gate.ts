/**
 * The one bound on a control node's connections: those open, the inbound
 * ones still in their handshakes and our own dials in progress, counted
 * together, both ways. Every dial (mesh links, probes, relays, seeds) asks
 * it for a slot before it starts, and every inbound connection is admitted
 * by it when its socket is accepted, before libp2p sees it (refuse-at-accept.ts);
 * a dial it refuses fails at once with a
 * ConnectionBoundError, which callers handle (another member, or later).
 */
import type { Connection, PeerId } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';

/** Why a dial was made, for the bound's accounting and for traces. */
export type DialReason = 'link' | 'probe' | 'relay' | 'seed';

/** A dial refused by our own bound: nothing was sent, no socket opened. */
export class ConnectionBoundError extends Error {
  override readonly name = 'ConnectionBoundError';
  constructor(
    readonly reason: DialReason,
    readonly counted: number,
    readonly max: number,
  ) {
    super(`${reason} dial refused: ${counted} connections open or opening (bound ${max})`);
  }
}

/** What the gate needs of the node (a libp2p node). */
export interface GatedNode {
  getConnections(peer?: PeerId): Connection[];
  dial(target: PeerId | Multiaddr, options?: object): Promise<Connection>;
  dialProtocol(target: PeerId, protocol: string, options?: object): Promise<any>;
}

export class ConnectionGate {
  /** Our dials in progress that may open a connection, by reason. */
  private readonly dialing: Record<DialReason, number> = {
    link: 0,
    probe: 0,
    relay: 0,
    seed: 0,
  };
  /** Dials and inbound connections refused at the bound, for stats. */
  readonly refused = { dials: 0, inbound: 0 };
  /** Our dials that opened a connection (each a handshake), by reason, for stats. */
  readonly opened: Record<DialReason, number> = { link: 0, probe: 0, relay: 0, seed: 0 };

  /**
   * @param pendingInbound the inbound connections in their handshakes (the
   *   connection manager's count; the socket being admitted is not in it yet).
   */
  constructor(
    private readonly node: GatedNode,
    readonly max: number,
    private readonly pendingInbound: () => number,
  ) {}

  /** Connections open, inbound in handshake and dials in progress, together. */
  get count(): number {
    let dials = 0;
    for (const n of Object.values(this.dialing)) dials += n;
    return this.node.getConnections().length + this.pendingInbound() + dials;
  }

  /** Our dials in progress, by reason (for traces). */
  get dials(): Readonly<Record<DialReason, number>> {
    return this.dialing;
  }

  /** The check of an inbound socket at accept (not counted in pendingInbound yet). */
  admitInbound(): boolean {
    if (this.count < this.max) return true;
    this.refused.inbound++;
    return false;
  }

  /** Dials a peer (by id or address); to a peer already connected it opens nothing and takes no slot. */
  dial(target: PeerId | Multiaddr, reason: DialReason, options?: object): Promise<Connection> {
    return this.gated(target, reason, () => this.node.dial(target, options));
  }

  /** Opens a protocol stream to a peer, dialing it first if not connected (one slot while it dials). */
  dialProtocol(target: PeerId, protocol: string, reason: DialReason, options?: object) {
    return this.gated(target, reason, () => this.node.dialProtocol(target, protocol, options));
  }

  private async gated<T>(
    target: PeerId | Multiaddr,
    reason: DialReason,
    open: () => Promise<T>,
  ): Promise<T> {
    // A connected peer is found by libp2p in the same turn (no new connection).
    if (isPeerId(target) && this.node.getConnections(target).length) return open();
    const counted = this.count;
    if (counted >= this.max) {
      this.refused.dials++;
      throw new ConnectionBoundError(reason, counted, this.max);
    }
    this.dialing[reason]++;
    try {
      const opened = await open();
      this.opened[reason]++;
      return opened;
    } finally {
      this.dialing[reason]--;
    }
  }
}

function isPeerId(t: PeerId | Multiaddr): t is PeerId {
  return typeof (t as PeerId).toMultihash === 'function';
}
