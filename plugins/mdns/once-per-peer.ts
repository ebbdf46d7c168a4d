/**
 * A peer-discovery wrapper that passes each peer on once per `windowMs`, or at
 * once when its addresses change. mDNS answers every query with a multicast
 * response that every listener hears, so a cluster of N agents starting
 * together delivers about N² answers to each agent; libp2p stores each one in
 * the peer store (one serialized write apiece), and dials wait behind those
 * writes. Every answer after the first repeats what the store already holds.
 */
import { peerDiscoverySymbol, type PeerDiscovery, type PeerInfo } from '@libp2p/interface';

import { setNewest } from '../../src/bounded-map.js';

interface Startable {
  start?(): void | Promise<void>;
  stop?(): void | Promise<void>;
}

export class OncePerPeer extends EventTarget {
  readonly [peerDiscoverySymbol] = this;
  readonly [Symbol.toStringTag] = 'nixl-ts mdns (once per peer)';
  /** Peer id → its addresses and when they were passed on. */
  readonly #passed = new Map<string, { addrs: string; at: number }>();
  /** Answers heard and answers passed on, for tests and benchmarks. */
  readonly counts = { heard: 0, passed: 0 };
  readonly #listeners = new Map<string, number>();

  constructor(
    private readonly inner: PeerDiscovery & Startable,
    private readonly windowMs: number,
    private readonly maxPeers: number,
  ) {
    super();
    inner.addEventListener('peer', (e) => this.#onPeer((e as CustomEvent<PeerInfo>).detail));
  }

  /** TypedEventTarget's count (libp2p's peer-discovery type asks for it). */
  listenerCount(type: string): number {
    return this.#listeners.get(type) ?? 0;
  }

  override addEventListener(...args: Parameters<EventTarget['addEventListener']>): void {
    this.#listeners.set(args[0], this.listenerCount(args[0]) + 1);
    super.addEventListener(...args);
  }

  override removeEventListener(...args: Parameters<EventTarget['removeEventListener']>): void {
    this.#listeners.set(args[0], Math.max(0, this.listenerCount(args[0]) - 1));
    super.removeEventListener(...args);
  }

  safeDispatchEvent<T>(type: string, init?: { detail?: T }): boolean {
    return this.dispatchEvent(new CustomEvent(type, init));
  }

  start(): void | Promise<void> {
    return this.inner.start?.();
  }

  stop(): void | Promise<void> {
    return this.inner.stop?.();
  }

  #onPeer(peer: PeerInfo): void {
    this.counts.heard++;
    const id = peer.id.toString();
    const addrs = peer.multiaddrs
      .map((a) => a.toString())
      .sort()
      .join(' ');
    const now = Date.now();
    const last = this.#passed.get(id);
    if (last && last.addrs === addrs && now - last.at < this.windowMs) return;
    setNewest(this.#passed, id, { addrs, at: now }, this.maxPeers);
    this.counts.passed++;
    this.safeDispatchEvent('peer', { detail: peer });
  }
}
