/**
 * Which mDNS answers go on to libp2p: a peer once per `windowMs`, or at once
 * when its addresses change. libp2p writes every peer it is given into its
 * peer store (one serialized write apiece), and dials wait behind those
 * writes; an answer that repeats what the store holds is dropped here.
 */
import { setNewest } from '../../src/bounded-map.js';

export class OncePerPeer {
  /** Peer id → its addresses and when they were passed on. */
  readonly #passed = new Map<string, { addrs: string; at: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly maxPeers: number,
  ) {}

  /** True when this answer (a peer id and its addresses) should be passed on. */
  pass(id: string, addrs: readonly string[]): boolean {
    const key = [...addrs].sort().join(' ');
    const now = Date.now();
    const last = this.#passed.get(id);
    if (last && last.addrs === key && now - last.at < this.windowMs) return false;
    setNewest(this.#passed, id, { addrs: key, at: now }, this.maxPeers);
    return true;
  }
}
