/**
 * Bounds on what a peer can make the gossip discovery spend: message sizes,
 * per-peer rates (token buckets, O(1) a check), pending-update memory, and the
 * number of peers it tracks. Every check runs before the work it guards.
 */
import { InvalidParamError } from '../../src/errors.js';

export interface GossipLimits {
  /** Largest gossip message accepted (checked before decoding); own updates over it go out as a hello and peers refetch. */
  maxMessageBytes: number;
  /** Gossip messages per second a peer may deliver (sustained), and the burst above that. */
  messagesPerSecond: number;
  messageBurst: number;
  /** Gossip bytes per second a peer may deliver (sustained), and the burst above that. */
  bytesPerSecond: number;
  byteBurst: number;
  /** Bytes of updates held for peers whose metadata has not loaded yet, all peers together (each keeps only its newest). */
  maxPendingBytes: number;
  /** Metadata fetches per second served to one peer (sustained), and the burst; over it the stream is reset. */
  fetchesPerSecond: number;
  fetchBurst: number;
  /** libp2p peers tracked (connected, loaded, or heard of); gossip naming more is ignored. */
  maxPeers: number;
  /** Dials of peers learned from hellos and peer lists, per second (sustained), and the burst. */
  dialsPerSecond: number;
  dialBurst: number;
  /**
   * Invalid gossip messages (malformed, oversized, unsigned, naming another
   * cluster) a peer may send within 10 minutes; past that it is disconnected
   * and refused for `banMs`. Honest peers of this version send none.
   */
  maxInvalidMessages: number;
  banMs: number;
  /** Bytes a second one libp2p connection may deliver (sustained), the burst, and the most per event-loop turn (cluster key only). */
  connectionBytesPerSecond: number;
  connectionBurstBytes: number;
  connectionTurnBytes: number;
  /** discovery:error events per peer: a burst, then one every this many ms (the rest are counted). */
  errorBurst: number;
  errorIntervalMs: number;
}

export const DEFAULT_LIMITS: GossipLimits = {
  maxMessageBytes: 1024 * 1024,
  messagesPerSecond: 64,
  messageBurst: 256,
  bytesPerSecond: 2 * 1024 * 1024,
  byteBurst: 8 * 1024 * 1024,
  maxPendingBytes: 16 * 1024 * 1024,
  fetchesPerSecond: 4,
  fetchBurst: 16,
  maxPeers: 4096,
  dialsPerSecond: 16,
  dialBurst: 64,
  maxInvalidMessages: 32,
  banMs: 60_000,
  connectionBytesPerSecond: 8 * 1024 * 1024,
  connectionBurstBytes: 16 * 1024 * 1024,
  connectionTurnBytes: 64 * 1024,
  errorBurst: 8,
  errorIntervalMs: 5000,
};

/** Largest fetch request read (a version and a cluster name). */
export const MAX_FETCH_REQUEST_BYTES = 4096;

export function resolveLimits(given: Partial<GossipLimits> | undefined): GossipLimits {
  const out = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(given ?? {})) {
    if (!(k in DEFAULT_LIMITS)) {
      throw new InvalidParamError(`gossip: unknown limit '${k}'`, { op: 'gossip' });
    }
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new InvalidParamError(`gossip: limits.${k} must be a positive number, got ${v}`, {
        op: 'gossip',
      });
    }
    (out as Record<string, number>)[k] = v;
  }
  if (out.byteBurst < out.maxMessageBytes) {
    throw new InvalidParamError(
      'gossip: limits.byteBurst must be at least limits.maxMessageBytes (or no message that large is ever accepted)',
      { op: 'gossip' },
    );
  }
  return out;
}

/** A token bucket: `rate` tokens a second, at most `burst` saved. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now = performance.now(),
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes `n` tokens if there are that many (refilling first); false leaves the bucket as it was. */
  take(n = 1, now = performance.now()): boolean {
    this.refill(now);
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** True when the bucket is full again: it remembers nothing and may be dropped. */
  full(now = performance.now()): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  private refill(now: number): void {
    const dt = (now - this.last) / 1000;
    this.last = now;
    if (dt > 0) this.tokens = Math.min(this.burst, this.tokens + dt * this.rate);
  }
}

/**
 * Token buckets per key (a peer id), at most `maxKeys` of them. Full buckets
 * carry no state and are swept; when the table is full of busy buckets a new
 * key is refused (fails closed) rather than growing the table.
 */
export class KeyedLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly maxKeys: number,
  ) {}

  take(key: string, n = 1): boolean {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) {
        this.sweep();
        if (this.buckets.size >= this.maxKeys) return false;
      }
      b = new TokenBucket(this.rate, this.burst);
      this.buckets.set(key, b);
    }
    return b.take(n);
  }

  /** Drops full buckets. */
  sweep(): void {
    const now = performance.now();
    for (const [k, b] of this.buckets) if (b.full(now)) this.buckets.delete(k);
  }

  get size(): number {
    return this.buckets.size;
  }
}
