/**
 * What the gossip discovery knows about each libp2p peer, and which peer owns
 * which agent name (first claim wins; the binding ends when the peer leaves).
 */
import { peerIdFromString } from '@libp2p/peer-id';
import type { PeerId } from '@libp2p/interface';

export type PeerStatus =
  | 'new' // connected or heard of, metadata not fetched yet
  | 'loaded' // its metadata is loaded in the agent; it owns `name`
  | 'refused' // its claim was refused (name taken, other version or cluster, ...)
  | 'foreign' // does not speak the fetch protocol
  | 'left'; // tombstoned or lost past the grace period

export interface PendingUpdate {
  seq: number;
  full: boolean;
  metadata: Uint8Array;
}

export interface PeerState {
  readonly id: string;
  readonly peerId: PeerId;
  status: PeerStatus;
  /** The agent name this peer owns (while loaded). */
  name?: string;
  /** The name a refused peer claimed: retried when that name's owner leaves. */
  claimed?: string;
  /** Sequence number of the last metadata loaded from it; -1 before the first. */
  seq: number;
  /**
   * The newest update not applied yet (one at most: an older one is
   * superseded, a gap is healed by a refetch). Its bytes count against the
   * discovery's pending-bytes bound.
   */
  pending?: PendingUpdate;
  fetching: boolean;
  refetch: boolean;
  graceTimer?: ReturnType<typeof setTimeout>;
  /** A fetch deferred by the fetch rate limit. */
  fetchTimer?: ReturnType<typeof setTimeout>;
}

export class PeerTable {
  private readonly byId = new Map<string, PeerState>();
  private readonly owners = new Map<string, PeerState>();

  find(id: string): PeerState | undefined {
    return this.byId.get(id);
  }

  get(id: string): PeerState {
    let st = this.byId.get(id);
    if (!st) {
      st = {
        id,
        peerId: peerIdFromString(id),
        status: 'new',
        seq: -1,
        fetching: false,
        refetch: false,
      };
      this.byId.set(id, st);
    }
    return st;
  }

  get size(): number {
    return this.byId.size;
  }

  /** Forgets a peer that owns no name and has no timers (it is recreated if it comes back). */
  delete(st: PeerState): void {
    if (st.name !== undefined || st.graceTimer || st.fetchTimer) return;
    this.byId.delete(st.id);
  }

  all(): IterableIterator<PeerState> {
    return this.byId.values();
  }

  ownerOf(name: string): PeerState | undefined {
    return this.owners.get(name);
  }

  bind(st: PeerState, name: string): void {
    st.name = name;
    st.claimed = undefined;
    this.owners.set(name, st);
  }

  unbind(st: PeerState): void {
    if (st.name !== undefined && this.owners.get(st.name) === st) this.owners.delete(st.name);
    st.name = undefined;
  }

  loaded(): PeerState[] {
    return [...this.byId.values()].filter((s) => s.status === 'loaded');
  }

  loadedNames(): string[] {
    return this.loaded().map((s) => s.name!);
  }

  refusedFor(name: string): PeerState[] {
    return [...this.byId.values()].filter((s) => s.status === 'refused' && s.claimed === name);
  }

  clearTimers(): void {
    for (const st of this.byId.values()) {
      if (st.graceTimer) clearTimeout(st.graceTimer);
      if (st.fetchTimer) clearTimeout(st.fetchTimer);
      st.graceTimer = undefined;
      st.fetchTimer = undefined;
    }
  }
}
