/**
 * Which mDNS answers are read: a peer (its mDNS instance) once per
 * `windowMs`, or at once when its addresses change. Each of an agent's
 * questions is answered by every agent on the LAN; an answer that repeats
 * what was heard lately is dropped here, before its addresses are parsed
 * and handed to the discovery.
 */
import { setNewest } from '../../src/bounded-map.js';

export class OncePerPeer {
  /** Peer (instance name) → its addresses and when they were passed on. */
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
