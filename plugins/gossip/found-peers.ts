/**
 * Peers a LAN source (mDNS) announced, with their addresses, kept so that an
 * agent with no link can keep dialing them. mDNS announces a peer once per
 * query: an answer that came before the membership existed, or whose dial
 * failed (the peer was at its connection bound), is not repeated until the
 * next query, seconds later. Without this list an agent that started last in
 * a cluster start heard every answer to its own query while still starting
 * and then sat alone until its next query (10 s).
 *
 * A found peer the membership does not know belongs to another part of the
 * cluster (agents that joined each other before they heard of us): it is
 * dialed by its announced addresses, which merges the two directories (see
 * GossipDiscovery.onDiscovered and mergeApart). Each peer's last answer is
 * dated: a peer not heard for FRESH_MS is not dialed on our memory alone.
 */
import { setNewest } from '../../src/bounded-map.js';

/** Dials at once of an agent that is joining through the peers mDNS found (one link is enough). */
export const JOIN_DIALS = 2;

/**
 * How long a joiner gathers answers before its join dials, which then go to
 * peers picked at random among all it heard. Every joiner of a cluster start
 * hears the few agents up first before the others (they are idle, the rest
 * are still creating agents); dialing the first answers sent every joiner to
 * those few, each then holding a handshake per joiner at its connection
 * bound (32 agents: 9 at once on one agent, a quarter of the dials reset).
 * The answers to one question come within tens of ms of each other.
 */
export const JOIN_GATHER_MS = 150;

/**
 * Answers at which a joiner's gather ends early: its join dials go once the
 * answers read in that turn of the event loop are in, picked among them
 * all. In a start the joiner's loop is busy and reads the answers to its
 * question in one batch, a dozen or more; the timer of JOIN_GATHER_MS then
 * fired a loop's lag late (a median 250-320 ms after the first answer at
 * 32 agents), on every joiner's path to its first link.
 */
export const JOIN_ENOUGH_ANSWERS = 8;

/**
 * Inbound handshakes in progress at which an agent stops answering mDNS
 * questions (see GossipDiscovery.busyForJoiners): two joiners already on their
 * way is a full hand, the next joiner is better off dialing an agent with room.
 */
export const BUSY_HANDSHAKES = 2;

/**
 * Least time between two dials of found peers the membership does not know
 * (another part of the cluster; see GossipDiscovery.onDiscovered).
 */
export const MERGE_DIAL_GAP_MS = 1000;

/**
 * How long after its first link an agent starts those dials at the latest:
 * in a cluster start every peer is unknown for a second or two, and the
 * records are on their way.
 */
export const MERGE_AFTER_JOIN_MS = 5000;

/**
 * Sooner than that once no record has arrived for this long: the directory
 * has stopped growing, so a found peer it still lacks is in another part of
 * the cluster (or alone), not a record on its way. In a start the records
 * keep coming every few hundred ms until the directory is whole.
 */
export const DIRECTORY_QUIET_MS = 1000;

/** A found peer last heard longer ago than this is not dialed on our memory alone (it may be gone). */
export const FRESH_MS = 60_000;

/** Addresses kept per found peer (as many as an mDNS answer carries). */
const MAX_ADDRS = 16;

/** First retry delay of an agent with no link; doubles up to RETRY_MAX_MS. */
export const RETRY_FIRST_MS = 250;
export const RETRY_MAX_MS = 4000;

export class FoundPeers {
  /** Peer id → the addresses it announced last. */
  readonly #addrs = new Map<string, string[]>();
  /** Peer id → when it was last heard (ms since the epoch). */
  readonly #heardAt = new Map<string, number>();

  constructor(private readonly max: number) {}

  /**
   * Remembers a peer and its addresses (an empty list keeps those known), the
   * oldest forgotten first past `max`.
   */
  add(id: string, addrs: readonly string[], now = Date.now()): void {
    const kept = addrs.length ? addrs.slice(0, MAX_ADDRS) : this.addrsOf(id);
    setNewest(this.#addrs, id, kept, this.max);
    setNewest(this.#heardAt, id, now, this.max);
  }

  /** True when the peer was heard within the last `ms`. */
  heardWithin(id: string, ms: number, now = Date.now()): boolean {
    const t = this.#heardAt.get(id);
    return t !== undefined && now - t <= ms;
  }

  delete(id: string): void {
    this.#addrs.delete(id);
    this.#heardAt.delete(id);
  }

  get size(): number {
    return this.#addrs.size;
  }

  ids(): IterableIterator<string> {
    return this.#addrs.keys();
  }

  /** The addresses a peer announced (none if it was not found). */
  addrsOf(id: string): string[] {
    return this.#addrs.get(id) ?? [];
  }

  /** Up to `n` distinct peers chosen at random among those `usable` accepts. */
  pick(n: number, usable: (id: string) => boolean): string[] {
    const pool = [...this.#addrs.keys()].filter(usable);
    const out: string[] = [];
    while (out.length < n && pool.length) {
      const k = Math.floor(Math.random() * pool.length);
      out.push(pool[k]!);
      pool[k] = pool[pool.length - 1]!;
      pool.pop();
    }
    return out;
  }
}
