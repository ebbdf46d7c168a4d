/**
 * Metadata gossip: the discovery service that turns found peers into loaded
 * metadata. It runs a libp2p node (control plane only), fetches each
 * connected peer's full metadata over a request/response protocol, spreads
 * registration changes as partial-metadata updates on the cluster's topic,
 * gossips a tombstone on close, and invalidates a peer whose connection is
 * lost and not back within a grace period.
 *
 * Membership: every libp2p connection is a private-network connection under
 * the cluster key (a pre-shared key, see cluster-key.ts); a node without it
 * cannot connect at all. Running without a key takes an explicit
 * `insecure: true`.
 *
 * Trust: an agent name belongs to the first libp2p peer that claims it (its
 * noise-authenticated peer id); every later message about that name must come
 * from that peer (gossip messages are signed). Other claimants are refused
 * with a `discovery:error` until the owner leaves.
 *
 * Bounded costs (limits.ts): each connection's reads are metered beneath
 * everything else (private-network.ts); each gossip message is admitted by
 * size and the delivering peer's message and byte rates before gossipsub
 * verifies or decodes it (O(1) a message), and RPC handling yields to the
 * event loop every few ms; admitted messages are decoded in gossipsub's
 * validator and malformed ones rejected (never forwarded); a peer sending
 * many invalid messages is disconnected and refused for a while. Pending
 * updates keep only the newest per peer, under a total byte bound; the peer
 * table, the dial memory, learned dials and error reports are bounded too.
 * Our own updates are paced below the receivers' rates (a burst of
 * registrations becomes one hello, and peers refetch).
 */
import '../../src/polyfills.js';

import type { TopicValidatorResult } from '@libp2p/gossipsub';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';

import type { Discovery, DiscoveryHost, RegistrationChange } from '../../src/discovery.js';
import { InvalidParamError, MismatchError, NixlError, NotAllowedError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { decodeMetadata } from '../../src/metadata.js';
import type { ControlNode, GossipRpcMessage } from '../libp2p-node/index.js';
import type { PeerSource } from '../libp2p-node/peer-source.js';
import { clusterKeyFromEnv, parseClusterKey } from './cluster-key.js';
import {
  KeyedLimiter,
  MAX_FETCH_REQUEST_BYTES,
  TokenBucket,
  resolveLimits,
  type GossipLimits,
} from './limits.js';
import { PeerTable, type PendingUpdate, type PeerState } from './peer-table.js';
import {
  DISCOVERY_FORMAT_VERSION,
  FETCH_PROTOCOL,
  MAX_FETCH_BYTES,
  decodeFetchRequest,
  decodeFetchResponse,
  decodeGossip,
  encodeFetchRequest,
  encodeFetchResponse,
  encodeGossip,
  topicFor,
  type FetchResponse,
  type GossipBody,
  type GossipMessage,
  type PeerAddrs,
} from './wire.js';

export {
  CLUSTER_KEY_ENV,
  CLUSTER_KEY_FILE_ENV,
  generateClusterKey,
  parseClusterKey,
} from './cluster-key.js';
export { DEFAULT_LIMITS, type GossipLimits } from './limits.js';

export interface GossipOptions {
  /** Cluster name: agents of other clusters are never loaded. */
  cluster: string;
  /**
   * The cluster credential: a 32-byte pre-shared key (64 hex characters, a
   * libp2p swarm.key, or 32 raw bytes) that every member holds. Default: the
   * NIXL_TS_CLUSTER_KEY environment variable, else the file named by
   * NIXL_TS_CLUSTER_KEY_FILE. Without a key the discovery refuses to start
   * unless `insecure` is true.
   */
  clusterKey?: string | Uint8Array;
  /**
   * Run an open cluster, with no cluster key: any libp2p peer that can reach
   * the listen address and names the cluster may read every member's
   * metadata. For tests and demos on one host.
   */
  insecure?: boolean;
  /** Where peers come from: `mdns()`, `seeds([...])`; none means only peers that dial us. */
  sources?: PeerSource[];
  /**
   * libp2p listen multiaddrs; default `/ip4/127.0.0.1/tcp/0` (this host only).
   * Peers on other hosts need an address they can reach, given here.
   */
  listen?: string[];
  /** How long a lost peer may stay away before it is invalidated everywhere. */
  graceMs?: number;
  /** Period of the hello (our addresses, update sequence and loaded peers): it heals missed messages. */
  announceIntervalMs?: number;
  /** Bound on one metadata fetch. */
  fetchTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** What one peer may make this agent spend (sizes, rates, queues); see `DEFAULT_LIMITS`. */
  limits?: Partial<GossipLimits>;
}

/** Counters of what the discovery dropped, for tests and benchmarks. */
export interface GossipStats {
  /** Gossip messages dropped, by reason. */
  dropped: {
    oversized: number;
    rateLimited: number;
    malformed: number;
    unsigned: number;
    otherCluster: number;
    untracked: number;
    pending: number;
  };
  /** Metadata fetches refused to peers over the fetch rate. */
  fetchesRefused: number;
  /** Peers disconnected and refused for sending too many invalid messages. */
  peersBanned: number;
  /** discovery:error events not emitted (over the per-peer report rate). */
  errorsSuppressed: number;
  /** Bytes of updates held for peers whose metadata has not loaded. */
  pendingBytes: number;
  /** libp2p peers tracked. */
  peers: number;
}

const CLUSTER_RE = /^[A-Za-z0-9._-]{1,64}$/;
const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0'];
const HELLO_COALESCE_MS = 300;
const DIAL_DEFER_MS = 2000;
const DIAL_RETRY_MS = 5000;
/** Addresses taken from one peer record in a hello or peer list. */
const MAX_ADDRS_PER_PEER = 16;
/** Longest error text taken from a peer's fetch response. */
const MAX_REMOTE_ERROR_CHARS = 200;

function positive(value: number | undefined, fallback: number, what: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) {
    throw new InvalidParamError(`gossip: ${what} must be a positive number, got ${value}`, {
      op: 'gossip',
    });
  }
  return v;
}

export function gossip(opts: GossipOptions): GossipDiscovery {
  return new GossipDiscovery(opts);
}

export class GossipDiscovery implements Discovery {
  readonly name = 'gossip';
  readonly cluster: string;
  private readonly sources: PeerSource[];
  private readonly listen: string[];
  private readonly graceMs: number;
  private readonly announceIntervalMs: number;
  private readonly fetchTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly topic: string;
  private readonly clusterKey?: Uint8Array;
  private readonly limits: GossipLimits;
  private readonly msgRate: KeyedLimiter;
  private readonly byteRate: KeyedLimiter;
  private readonly fetchServeRate: KeyedLimiter;
  private readonly fetchRate: KeyedLimiter;
  private readonly errorRate: KeyedLimiter;
  private readonly invalidRate: KeyedLimiter;
  private readonly dialRate: TokenBucket;
  /** Pacing of our own updates, below what receivers admit. */
  private readonly publishRate: TokenBucket;
  private readonly publishBytes: TokenBucket;
  private announceTimer?: ReturnType<typeof setTimeout>;
  /** Peers refused until a time (ms since the epoch): they sent too much that was invalid. */
  private readonly banned = new Map<string, number>();
  /** Decoded messages between the validator and the message event. */
  private readonly decoded = new WeakMap<object, GossipMessage>();
  /** Connected libp2p peers (peer:connect / peer:disconnect). */
  private readonly connectedIds = new Set<string>();
  private pendingBytes = 0;
  private readonly suppressed = new Map<string, number>();
  private readonly counters: Omit<GossipStats, 'pendingBytes' | 'peers'> = {
    dropped: {
      oversized: 0,
      rateLimited: 0,
      malformed: 0,
      unsigned: 0,
      otherCluster: 0,
      untracked: 0,
      pending: 0,
    },
    fetchesRefused: 0,
    peersBanned: 0,
    errorsSuppressed: 0,
  };

  private host?: DiscoveryHost;
  private log?: Logger;
  private node?: ControlNode;
  private readonly peers = new PeerTable();
  private seq = 0;
  private stopping = false;
  private started = false;
  private readonly lifetime = new AbortController();
  private readonly cleanups: (() => void)[] = [];
  private helloTimer?: ReturnType<typeof setTimeout>;
  private readonly intros = new Set<PeerState>();
  /** When each learned peer was last dialed (see dialKnown). */
  private readonly lastDial = new Map<string, number>();

  constructor(opts: GossipOptions) {
    if (!opts || typeof opts.cluster !== 'string' || !CLUSTER_RE.test(opts.cluster)) {
      throw new InvalidParamError(
        `gossip: cluster must be 1-64 characters of [A-Za-z0-9._-], got ${JSON.stringify(opts?.cluster)}`,
        { op: 'gossip' },
      );
    }
    this.cluster = opts.cluster;
    this.sources = opts.sources ?? [];
    this.listen = opts.listen ?? DEFAULT_LISTEN;
    if (!Array.isArray(this.listen) || this.listen.length === 0) {
      throw new InvalidParamError('gossip: listen must be a non-empty array of multiaddrs', {
        op: 'gossip',
      });
    }
    this.graceMs = positive(opts.graceMs, 5000, 'graceMs');
    this.announceIntervalMs = positive(opts.announceIntervalMs, 5000, 'announceIntervalMs');
    this.fetchTimeoutMs = positive(opts.fetchTimeoutMs, 30_000, 'fetchTimeoutMs');
    this.heartbeatIntervalMs = positive(opts.heartbeatIntervalMs, 1000, 'heartbeatIntervalMs');
    this.topic = topicFor(this.cluster);
    this.limits = resolveLimits(opts.limits);
    const l = this.limits;
    this.msgRate = new KeyedLimiter(l.messagesPerSecond, l.messageBurst, l.maxPeers);
    this.byteRate = new KeyedLimiter(l.bytesPerSecond, l.byteBurst, l.maxPeers);
    this.fetchServeRate = new KeyedLimiter(l.fetchesPerSecond, l.fetchBurst, l.maxPeers);
    this.fetchRate = new KeyedLimiter(l.fetchesPerSecond, l.fetchBurst, l.maxPeers);
    this.errorRate = new KeyedLimiter(1000 / l.errorIntervalMs, l.errorBurst, l.maxPeers);
    this.invalidRate = new KeyedLimiter(
      l.maxInvalidMessages / 600,
      l.maxInvalidMessages,
      l.maxPeers,
    );
    this.dialRate = new TokenBucket(l.dialsPerSecond, l.dialBurst);
    this.publishRate = new TokenBucket(l.messagesPerSecond / 2, l.messageBurst / 2);
    this.publishBytes = new TokenBucket(l.bytesPerSecond / 2, l.byteBurst / 2);

    if (opts.insecure !== undefined && typeof opts.insecure !== 'boolean') {
      throw new InvalidParamError('gossip: insecure must be a boolean', { op: 'gossip' });
    }
    if (opts.insecure && opts.clusterKey !== undefined) {
      throw new InvalidParamError('gossip: give either clusterKey or insecure: true, not both', {
        op: 'gossip',
      });
    }
    if (!opts.insecure) {
      this.clusterKey =
        opts.clusterKey !== undefined ? parseClusterKey(opts.clusterKey) : clusterKeyFromEnv();
      if (!this.clusterKey) {
        throw new InvalidParamError(
          'gossip: a cluster key is required: pass clusterKey, or set NIXL_TS_CLUSTER_KEY ' +
            '(or NIXL_TS_CLUSTER_KEY_FILE); make one with generateClusterKey(). ' +
            'insecure: true runs an open cluster that any reachable libp2p peer may join',
          { op: 'gossip' },
        );
      }
    }
  }

  /** True when this discovery runs without a cluster key (`insecure: true`). */
  get insecure(): boolean {
    return this.clusterKey === undefined;
  }

  /** What the discovery dropped or refused so far, and what it holds. */
  stats(): GossipStats {
    return {
      dropped: { ...this.counters.dropped },
      fetchesRefused: this.counters.fetchesRefused,
      peersBanned: this.counters.peersBanned,
      errorsSuppressed: this.counters.errorsSuppressed,
      pendingBytes: this.pendingBytes,
      peers: this.peers.size,
    };
  }

  /** This node's libp2p peer id (after start). */
  get peerId(): string | undefined {
    return this.node?.peerId.toString();
  }

  /** The multiaddrs peers can dial (after start), each ending in /p2p/<peerId>. */
  getMultiaddrs(): string[] {
    return this.node ? this.node.getMultiaddrs().map((a) => a.toString()) : [];
  }

  /** Agent names this discovery has loaded (connected and trusted). */
  loadedPeers(): string[] {
    return this.peers.loadedNames();
  }

  async start(host: DiscoveryHost): Promise<void> {
    if (this.started)
      throw new NotAllowedError('gossip discovery already started', { op: 'gossip.start' });
    this.started = true;
    this.host = host;
    this.log = host.log.extend('gossip');

    const peerDiscovery = [];
    for (const s of this.sources)
      if (s.peerDiscovery) peerDiscovery.push(...(await s.peerDiscovery(this.cluster)));

    const { createControlNode } = await import('../libp2p-node/index.js');
    if (this.insecure) {
      this.log('no cluster key (insecure: true): any peer that reaches %o may join', this.listen);
    }
    const node = await createControlNode({
      listen: this.listen,
      clusterKey: this.clusterKey,
      topics: [this.topic],
      refuse: (peerId) => this.refused(peerId),
      readLimits: {
        bytesPerSecond: this.limits.connectionBytesPerSecond,
        burstBytes: this.limits.connectionBurstBytes,
        turnBytes: this.limits.connectionTurnBytes,
      },
      gate: (source, messages) => messages.filter((m) => this.admit(source, m)),
      // A gossipsub frame may batch a few messages; past this the peer loses its gossip stream.
      maxRpcBytes: Math.max(4 * 1024 * 1024, 2 * this.limits.maxMessageBytes + 65536),
      peerDiscovery,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      start: false,
    });
    this.node = node;

    // Handlers first, then start: a peer that connects at once finds them in place.
    await node.handle(
      FETCH_PROTOCOL,
      (stream, connection) => this.serveFetch(stream, connection.remotePeer.toString()),
      { maxInboundStreams: 16 },
    );
    const pubsub = node.services.pubsub;
    // Every message is checked here, before gossipsub delivers or forwards it.
    pubsub.topicValidators.set(
      this.topic,
      (source, msg) => this.validate(source.toString(), msg) as unknown as TopicValidatorResult,
    );
    this.cleanups.push(() => pubsub.topicValidators.delete(this.topic));
    this.listen_(node, 'peer:connect', (e: any) => this.onConnect(e.detail.toString()));
    this.listen_(node, 'peer:disconnect', (e: any) => this.onDisconnect(e.detail.toString()));
    this.listen_(node, 'peer:discovery', (e: any) => this.onDiscovered(e.detail.id));
    this.listen_(pubsub, 'message', (e: any) => this.onGossip(e.detail));
    this.cleanups.push(host.onRegistrationChange((c) => this.onLocalChange(c)));

    try {
      await node.start();
      pubsub.subscribe(this.topic);
    } catch (err) {
      await this.teardown();
      throw err;
    }
    const timer = setInterval(() => this.tick(), this.announceIntervalMs);
    timer.unref();
    this.cleanups.push(() => clearInterval(timer));
    for (const s of this.sources) {
      s.start?.({
        cluster: this.cluster,
        node,
        log: this.log.extend(s.kind),
        signal: this.lifetime.signal,
      });
    }
    this.log('started %s on %o', node.peerId.toString(), this.getMultiaddrs());
  }

  /** Gossips a tombstone, then stops the node. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const node = this.node;
    if (node && this.host && node.status === 'started') {
      try {
        await withTimeout(this.publish({ kind: 'tombstone' }), 2000);
      } catch (err) {
        this.log?.('tombstone not sent: %s', (err as Error).message);
      }
    }
    await this.teardown();
  }

  private async teardown(): Promise<void> {
    this.lifetime.abort();
    if (this.helloTimer) clearTimeout(this.helloTimer);
    if (this.announceTimer) clearTimeout(this.announceTimer);
    for (const c of this.cleanups.splice(0)) c();
    this.peers.clearTimers();
    const node = this.node;
    if (node) await node.stop();
  }

  private listen_(target: EventTarget, type: string, fn: (e: Event) => void): void {
    const guarded = (e: Event) => {
      if (this.stopping) return;
      try {
        fn(e);
      } catch (err) {
        this.log?.error('%s handler failed: %s', type, (err as Error)?.stack ?? err);
      }
    };
    target.addEventListener(type, guarded);
    this.cleanups.push(() => target.removeEventListener(type, guarded));
  }

  private error(err: NixlError): void {
    this.log?.('discovery error: %s', err.message);
    this.host?.emitError(err);
  }

  /**
   * Reports a peer's misbehaviour as a discovery:error, at most `errorBurst`
   * at once and then one per `errorIntervalMs` per peer; the rest are only
   * counted (and the count rides on the next report). The error is built only
   * when it is emitted, so a flood costs O(1) a message.
   */
  private report(peer: string, make: () => NixlError): void {
    if (this.stopping) return;
    if (!this.errorRate.take(peer)) {
      this.counters.errorsSuppressed++;
      if (this.suppressed.size < this.limits.maxPeers || this.suppressed.has(peer))
        this.suppressed.set(peer, (this.suppressed.get(peer) ?? 0) + 1);
      return;
    }
    const err = make();
    const skipped = this.suppressed.get(peer);
    if (skipped) {
      this.suppressed.delete(peer);
      err.message += ` (${skipped} similar reports about peer ${peer} suppressed)`;
    }
    this.error(err);
  }

  // ---- finding and connecting peers ----

  private onDiscovered(peerId: { toString(): string }): void {
    const id = peerId.toString();
    const last = this.lastDial.get(id) ?? 0;
    if (Date.now() - last < DIAL_RETRY_MS || this.connected(id)) return;
    if (!last && this.lastDial.size >= this.limits.maxPeers) return;
    if (this.refused(id) || !this.dialRate.take()) return;
    this.lastDial.set(id, Date.now());
    this.dialSoon(id, () =>
      this.node!.dial(peerId as any, { signal: AbortSignal.timeout(this.fetchTimeoutMs) }),
    );
  }

  /**
   * Two peers that learn of each other at once would both dial, making two
   * connections (two handshakes) per pair. The one with the smaller peer id
   * dials now; the other only if no connection has come after a while.
   */
  private dialSoon(id: string, dial: () => Promise<unknown>): void {
    const node = this.node!;
    const self = node.peerId.toString();
    if (id === self || this.stopping) return;
    const run = () => {
      if (this.stopping || this.connected(id)) return;
      dial().catch((err) => this.log?.('dial of %s failed: %s', id, err?.message));
    };
    if (self < id) return run();
    const timer = setTimeout(run, DIAL_DEFER_MS);
    timer.unref?.();
  }

  /** Learns addresses (peer lists, hellos) and dials peers we are not connected to. */
  private async dialKnown(peer: PeerAddrs): Promise<void> {
    const node = this.node!;
    if (peer.peerId === node.peerId.toString() || this.stopping) return;
    // Every hello lists every peer: attempt each peer at most once per
    // DIAL_RETRY_MS, and record its addresses once, or a cluster that is still
    // connecting spends its CPU on repeated dials and peer-store writes.
    const last = this.lastDial.get(peer.peerId) ?? 0;
    if (Date.now() - last < DIAL_RETRY_MS || this.connected(peer.peerId)) return;
    // Bounded: at most maxPeers distinct peers learned per DIAL_RETRY_MS (tick prunes).
    if (!last && this.lastDial.size >= this.limits.maxPeers) return;
    if (this.refused(peer.peerId) || !this.dialRate.take()) return; // retried on a later hello
    this.lastDial.set(peer.peerId, Date.now());
    let id;
    try {
      id = peerIdFromString(peer.peerId);
      const addrs = peer.addrs.slice(0, MAX_ADDRS_PER_PEER).map((a) => multiaddr(a));
      if (addrs.length) await node.peerStore.merge(id, { multiaddrs: addrs });
    } catch (err) {
      this.log?.(
        'ignoring bad peer address record for %s: %s',
        peer.peerId,
        (err as Error).message,
      );
      return;
    }
    if (this.stopping) return;
    const target = id;
    this.dialSoon(peer.peerId, () =>
      node.dial(target, { signal: AbortSignal.timeout(this.fetchTimeoutMs) }),
    );
  }

  private onConnect(peerId: string): void {
    this.connectedIds.add(peerId);
    const st = this.peers.get(peerId);
    if (st.graceTimer) {
      clearTimeout(st.graceTimer);
      st.graceTimer = undefined;
      this.log?.('%s (%s) is back within the grace period', st.name, peerId);
    }
    void this.fetch(st);
  }

  private onDisconnect(peerId: string): void {
    this.connectedIds.delete(peerId);
    const st = this.peers.find(peerId);
    if (!st || st.status !== 'loaded' || st.graceTimer) return;
    this.log?.('lost %s (%s); grace %d ms', st.name, peerId, this.graceMs);
    const deadline = Date.now() + this.graceMs;
    const retry = async () => {
      st.graceTimer = undefined;
      if (this.stopping || st.status !== 'loaded') return;
      if (this.connected(peerId)) return;
      if (Date.now() >= deadline) return this.leave(st, 'connection lost');
      st.graceTimer = setTimeout(
        retry,
        Math.min(deadline - Date.now(), Math.max(100, this.graceMs / 4)),
      );
      st.graceTimer.unref?.();
      try {
        await this.node!.dial(st.peerId, {
          signal: AbortSignal.timeout(Math.max(100, this.graceMs / 4)),
        });
      } catch {
        // Still away: the timer tries again until the deadline.
      }
    };
    st.graceTimer = setTimeout(retry, Math.min(this.graceMs, Math.max(100, this.graceMs / 4)));
    st.graceTimer.unref?.();
  }

  /** O(1): a hello may list thousands of peers. */
  private connected(peerId: string): boolean {
    return this.connectedIds.has(peerId);
  }

  // ---- the fetch protocol ----

  private async serveFetch(stream: any, peer: string): Promise<void> {
    if (this.stopping || this.refused(peer) || !this.fetchServeRate.take(peer)) {
      // Over the fetch rate: the stream is reset before anything is read or built.
      this.counters.fetchesRefused++;
      stream.abort?.(new Error('metadata fetch rate exceeded'));
      return;
    }
    const { lpStream } = await import('@libp2p/utils');
    const lp = lpStream(stream, { maxDataLength: MAX_FETCH_REQUEST_BYTES });
    const signal = AbortSignal.timeout(this.fetchTimeoutMs);
    try {
      const req = decodeFetchRequest((await lp.read({ signal })).subarray());
      let res: FetchResponse;
      if (req.cluster !== this.cluster) {
        // Neither name is echoed: the asker learns only that it asked the wrong cluster.
        res = this.response({ cluster: '', error: 'not a member of the requested cluster' });
      } else {
        res = this.response({
          metadata: this.host!.getLocalMD(),
          seq: this.seq,
          peers: await this.directory(),
        });
      }
      await lp.write(encodeFetchResponse(res), { signal });
      await stream.close({ signal });
    } catch (err) {
      this.log?.('serving a fetch failed: %s', (err as Error)?.message);
      stream.abort?.(err as Error);
    }
  }

  private response(part: Partial<FetchResponse>): FetchResponse {
    return {
      version: DISCOVERY_FORMAT_VERSION,
      cluster: this.cluster,
      error: '',
      seq: 0,
      metadata: new Uint8Array(0),
      peers: [],
      ...part,
    };
  }

  /** Loaded peers and their listen addresses, so a newcomer can reach all of them. */
  private async directory(of: PeerState[] = this.peers.loaded()): Promise<PeerAddrs[]> {
    const out: PeerAddrs[] = [];
    for (const st of of) {
      try {
        const p = await this.node!.peerStore.get(st.peerId);
        out.push({ peerId: st.id, addrs: p.addresses.map((a) => a.multiaddr.toString()) });
      } catch {
        out.push({ peerId: st.id, addrs: [] });
      }
    }
    return out;
  }

  /** Fetches a peer's full metadata and loads it if the peer may own that name. */
  private async fetch(st: PeerState): Promise<void> {
    if (st.fetching) {
      st.refetch = true;
      return;
    }
    if (st.fetchTimer || this.stopping) return; // a deferred fetch is already due
    if (!this.fetchRate.take(st.id)) {
      // Over the fetch rate (a peer forcing refetches): one deferred fetch catches up.
      st.fetchTimer = setTimeout(() => {
        st.fetchTimer = undefined;
        if (!this.stopping && this.connected(st.id)) void this.fetch(st);
      }, 1000 / this.limits.fetchesPerSecond);
      st.fetchTimer.unref?.();
      return;
    }
    st.fetching = true;
    try {
      for (let attempt = 0; attempt < 3 && !this.stopping; attempt++) {
        if (attempt > 0) await sleep(200 * attempt);
        if (this.stopping || !this.connected(st.id)) return;
        let res: FetchResponse;
        try {
          res = await this.request(st);
        } catch (err) {
          if (err instanceof MismatchError) return this.refuse(st, undefined, err);
          const msg = (err as Error)?.message ?? String(err);
          if (/protocol selection failed|UnsupportedProtocol/i.test(msg + (err as Error)?.name)) {
            this.log?.('%s does not speak %s: not a nixl-ts agent', st.id, FETCH_PROTOCOL);
            st.status = 'foreign';
            return;
          }
          this.log?.('fetch from %s failed (attempt %d): %s', st.id, attempt + 1, msg);
          continue;
        }
        this.acceptFetched(st, res);
        if (st.status === 'loaded') for (const p of res.peers) void this.dialKnown(p);
        return;
      }
    } finally {
      st.fetching = false;
      if (st.refetch && !this.stopping) {
        st.refetch = false;
        void this.fetch(st);
      }
    }
  }

  private async request(st: PeerState): Promise<FetchResponse> {
    const { lpStream } = await import('@libp2p/utils');
    const signal = AbortSignal.timeout(this.fetchTimeoutMs);
    const stream = await this.node!.dialProtocol(st.peerId, FETCH_PROTOCOL, { signal });
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_FETCH_BYTES });
      await lp.write(
        encodeFetchRequest({ version: DISCOVERY_FORMAT_VERSION, cluster: this.cluster }),
        { signal },
      );
      const res = decodeFetchResponse((await lp.read({ signal })).subarray());
      await stream.close({ signal }).catch(() => {});
      return res;
    } catch (err) {
      stream.abort(err as Error);
      throw err;
    }
  }

  private acceptFetched(st: PeerState, res: FetchResponse): void {
    if (res.error) {
      const said = res.error.slice(0, MAX_REMOTE_ERROR_CHARS).replace(/[^\x20-\x7e]/g, '?');
      return this.refuse(
        st,
        undefined,
        new NotAllowedError(`peer ${st.id} refused us: ${said}`, { op: 'discovery' }),
      );
    }
    if (res.cluster !== this.cluster) {
      // Names stay out of the error: it may be logged or shown where the peer's is not wanted.
      return this.refuse(
        st,
        undefined,
        new NotAllowedError(`peer ${st.id} is in another cluster`, { op: 'discovery' }),
      );
    }
    const name = this.checkClaim(st, res.metadata, true);
    if (name === undefined) return;
    if (
      st.status === 'loaded' &&
      st.name === name &&
      res.seq === st.seq &&
      this.host!.checkRemoteMD(name)
    ) {
      return this.applyPending(st);
    }
    const wasLoaded = st.status === 'loaded' && this.host!.checkRemoteMD(name);
    try {
      this.host!.loadRemoteMD(res.metadata);
    } catch (err) {
      return this.refuse(
        st,
        name,
        asNixlError(err, `loading metadata of '${name}' from peer ${st.id}`),
      );
    }
    this.peers.bind(st, name);
    st.status = 'loaded';
    st.seq = res.seq;
    this.log?.('loaded %s from %s (seq %d)', name, st.id, res.seq);
    this.host!.emitPeerEvent(wasLoaded ? 'peer:update' : 'peer:join', name);
    // A newcomer that dialed us may know only us (we are its seed): introduce it.
    if (!wasLoaded && this.node!.getConnections(st.peerId).some((c) => c.direction === 'inbound')) {
      this.introduce(st);
    }
    this.applyPending(st);
  }

  /**
   * Checks a metadata blob from a peer: well-formed, of our format version,
   * not our own name, and naming an agent this peer owns (or may claim).
   * Returns the agent name, or undefined after refusing the peer.
   */
  private checkClaim(st: PeerState, blob: Uint8Array, mustBeFull: boolean): string | undefined {
    let name: string;
    let partial: boolean;
    try {
      ({ name, partial } = decodeMetadata(blob));
    } catch (err) {
      this.refuse(st, undefined, asNixlError(err, `metadata from peer ${st.id}`));
      return undefined;
    }
    if (mustBeFull && partial) {
      this.refuse(
        st,
        name,
        new MismatchError(`peer ${st.id} served partial metadata for '${name}'`, {
          op: 'discovery',
        }),
      );
      return undefined;
    }
    if (name === this.host!.name) {
      this.refuse(
        st,
        name,
        new NotAllowedError(`peer ${st.id} claims this agent's own name '${name}'; refused`, {
          op: 'discovery',
          agent: name,
        }),
      );
      return undefined;
    }
    if (st.name !== undefined && st.name !== name) {
      this.refuse(
        st,
        name,
        new NotAllowedError(
          `peer ${st.id} owns agent name '${st.name}' and now claims '${name}'; refused`,
          {
            op: 'discovery',
            agent: name,
          },
        ),
      );
      return undefined;
    }
    const owner = this.peers.ownerOf(name);
    if (owner !== undefined && owner !== st) {
      this.refuse(
        st,
        name,
        new NotAllowedError(
          `agent name '${name}' is owned by peer ${owner.id}; peer ${st.id} claims it too and is refused`,
          { op: 'discovery', agent: name },
        ),
      );
      return undefined;
    }
    return name;
  }

  private refuse(st: PeerState, claimed: string | undefined, err: NixlError): void {
    if (st.status !== 'loaded') {
      st.status = 'refused';
      st.claimed = claimed;
    }
    this.error(err);
  }

  // ---- gossip ----

  /**
   * Publishes a hello: our addresses, our update sequence (a peer that missed
   * an update refetches) and peers we have loaded (a peer not connected to one
   * of them dials it). The periodic hello lists every loaded peer; between
   * them, newcomers that dialed us are introduced, a burst of them in one
   * message, so a seed spreads a joining cluster in a few small messages.
   */
  private hello(peers: PeerState[]): void {
    if (this.stopping || !this.node) return;
    void (async () => {
      const list = await this.directory(peers);
      if (this.stopping) return;
      await this.publish({
        kind: 'hello',
        addrs: this.getMultiaddrs(),
        seq: this.seq,
        peers: list,
      });
    })().catch((err) => {
      this.log?.('hello not published: %s', err?.message);
    });
  }

  private introduce(st: PeerState): void {
    this.intros.add(st);
    if (this.helloTimer || this.stopping) return;
    this.helloTimer = setTimeout(() => {
      this.helloTimer = undefined;
      const peers = [...this.intros].filter((p) => p.status === 'loaded');
      this.intros.clear();
      if (peers.length) this.hello(peers);
    }, HELLO_COALESCE_MS);
    this.helloTimer.unref?.();
  }

  private async publish(body: GossipBody): Promise<void> {
    const data = encodeGossip({
      version: DISCOVERY_FORMAT_VERSION,
      cluster: this.cluster,
      agent: this.host!.name,
      body,
    });
    await this.node!.services.pubsub.publish(this.topic, data);
  }

  /** Periodic: announce ourselves, and reload peers the agent dropped on its own (backend disconnect). */
  private tick(): void {
    if (this.stopping) return;
    this.prune();
    this.hello(this.peers.loaded());
    for (const st of this.peers.loaded()) {
      if (!this.host!.checkRemoteMD(st.name!)) {
        this.log?.('agent dropped %s; reloading', st.name);
        this.host!.emitPeerEvent('peer:leave', st.name!);
        this.peers.unbind(st);
        st.status = 'new';
        st.seq = -1;
        if (this.connected(st.id)) void this.fetch(st);
      }
    }
  }

  /**
   * Keeps the bookkeeping bounded: forgets peers that are neither loaded nor
   * connected (they are tracked again if they come back), old dial times,
   * full rate buckets and stale suppression counts.
   */
  private prune(): void {
    const now = Date.now();
    for (const [id, t] of this.lastDial) if (now - t >= DIAL_RETRY_MS) this.lastDial.delete(id);
    for (const st of [...this.peers.all()]) {
      if (st.status === 'loaded' || st.fetching || this.connected(st.id)) continue;
      this.clearPending(st);
      this.intros.delete(st);
      this.peers.delete(st);
    }
    for (const l of [this.msgRate, this.byteRate, this.fetchServeRate, this.fetchRate]) l.sweep();
    this.errorRate.sweep();
    if (this.suppressed.size > this.limits.maxPeers) this.suppressed.clear();
    for (const [id, until] of this.banned) if (now >= until) this.banned.delete(id);
    this.invalidRate.sweep();
  }

  private onLocalChange(change: RegistrationChange): void {
    if (this.stopping || !this.node) return;
    this.seq += 1;
    // Registrations travel as partial metadata; a deregistration sends the
    // full metadata, which replaces what peers hold.
    const full = change.kind === 'deregister';
    const metadata = full ? this.host!.getLocalMD() : this.host!.getLocalPartialMD(change.descs);
    const size = metadata.byteLength + 1024;
    if (
      size > this.limits.maxMessageBytes ||
      !this.publishRate.take() ||
      !this.publishBytes.take(size)
    ) {
      // Too large for gossip (peers would drop it unread), or faster than
      // peers admit: a hello with the new sequence number makes them refetch
      // the full metadata instead (one hello for a whole burst).
      this.log?.('update %d (%d bytes) announced for refetch', this.seq, metadata.byteLength);
      this.announceSoon();
      return;
    }
    const seq = this.seq;
    void this.publish({ kind: 'update', seq, full, metadata }).catch((err) => {
      this.log?.('update %d not published: %s', seq, err?.message);
    });
  }

  /** One hello shortly, however many updates asked for it. */
  private announceSoon(): void {
    if (this.announceTimer || this.stopping) return;
    this.announceTimer = setTimeout(() => {
      this.announceTimer = undefined;
      this.hello([]);
    }, HELLO_COALESCE_MS);
    this.announceTimer.unref?.();
  }

  /** True while a peer is refused (see strike). */
  private refused(peerId: string): boolean {
    const until = this.banned.get(peerId);
    if (until === undefined) return false;
    if (Date.now() < until) return true;
    this.banned.delete(peerId);
    return false;
  }

  /**
   * Counts an invalid message against the peer that delivered it; past
   * `maxInvalidMessages` the peer is disconnected and refused for `banMs`
   * (it is a member with the cluster key, so only its identity can be
   * refused: a new identity starts again within the same bounds).
   */
  private strike(peer: string): void {
    if (this.stopping || this.refused(peer) || this.invalidRate.take(peer)) return;
    if (this.banned.size >= this.limits.maxPeers) {
      const oldest = this.banned.keys().next().value;
      if (oldest !== undefined) this.banned.delete(oldest);
    }
    this.banned.set(peer, Date.now() + this.limits.banMs);
    this.counters.peersBanned++;
    this.error(
      new NotAllowedError(
        `peer ${peer} sent more than ${this.limits.maxInvalidMessages} invalid gossip messages; ` +
          `disconnected and refused for ${this.limits.banMs} ms`,
        { op: 'discovery' },
      ),
    );
    const st = this.peers.find(peer);
    if (st && st.status === 'loaded') this.leave(st, 'refused: invalid gossip');
    void this.node
      ?.hangUp(peerIdFromString(peer))
      .catch((err) => this.log?.('hanging up on %s: %s', peer, err?.message));
  }

  /**
   * Admission, for each message of a gossipsub RPC before gossipsub verifies
   * its signature or decodes anything in it: O(1) a message. Size first, then
   * the delivering peer's message and byte rates.
   */
  private admit(source: string, m: GossipRpcMessage): boolean {
    if (this.stopping || m.topic !== this.topic || this.refused(source)) return false;
    const size = m.data?.byteLength ?? 0;
    const l = this.limits;
    if (size > l.maxMessageBytes) {
      this.counters.dropped.oversized++;
      this.strike(source);
      this.report(
        source,
        () =>
          new MismatchError(
            `gossip message of ${size} bytes from peer ${source} exceeds the ${l.maxMessageBytes}-byte limit; dropped`,
            { op: 'discovery' },
          ),
      );
      return false;
    }
    if (!this.msgRate.take(source) || !this.byteRate.take(source, size)) {
      this.counters.dropped.rateLimited++;
      this.report(
        source,
        () =>
          new NotAllowedError(`peer ${source} exceeds the gossip rate limit; messages dropped`, {
            op: 'discovery',
          }),
      );
      return false;
    }
    return true;
  }

  /**
   * gossipsub's topic validator: runs for each admitted message once its
   * signature is verified, before it is delivered or forwarded. A message
   * forwarded for another peer counts against that peer's rates too; only
   * then is it decoded. Rejected messages are not forwarded; ignored ones
   * (over a rate) neither.
   */
  private validate(source: string, msg: any): 'accept' | 'reject' | 'ignore' {
    if (this.stopping) return 'ignore';
    if (msg.type !== 'signed') {
      this.counters.dropped.unsigned++;
      this.strike(source);
      return 'reject';
    }
    const data: Uint8Array = msg.data;
    const size = data.byteLength;
    if (size > this.limits.maxMessageBytes) {
      this.counters.dropped.oversized++;
      return 'reject';
    }
    const from: string = msg.from.toString();
    if (from !== source && (!this.msgRate.take(from) || !this.byteRate.take(from, size))) {
      this.counters.dropped.rateLimited++;
      return 'ignore';
    }
    let decoded: GossipMessage;
    try {
      decoded = decodeGossip(data);
    } catch (err) {
      this.counters.dropped.malformed++;
      this.strike(source);
      this.report(from, () => asNixlError(err, `gossip from peer ${from}`));
      return 'reject';
    }
    if (decoded.cluster !== this.cluster) {
      // Our topic is derived from our cluster name: a message naming another is forged.
      this.counters.dropped.otherCluster++;
      this.strike(source);
      this.report(
        from,
        () =>
          new NotAllowedError(`gossip from peer ${from} names another cluster; dropped`, {
            op: 'discovery',
          }),
      );
      return 'reject';
    }
    this.decoded.set(msg, decoded);
    return 'accept';
  }

  private onGossip(msg: any): void {
    if (msg.topic !== this.topic) return;
    // Only messages that passed validate() (signed, within the bounds, well formed).
    const decoded = this.decoded.get(msg);
    if (!decoded) return;
    this.decoded.delete(msg);
    const from: string = msg.from.toString();
    if (from === this.node!.peerId.toString()) return;
    let st = this.peers.find(from);
    if (!st) {
      if (this.peers.size >= this.limits.maxPeers) {
        this.counters.dropped.untracked++;
        return;
      }
      st = this.peers.get(from);
    }
    const { body, agent } = decoded;

    if (body.kind === 'hello') {
      // Only a loaded member's directory is followed: a peer whose metadata
      // has not loaded cannot make us dial anyone but itself.
      for (const p of st.status === 'loaded' ? body.peers : []) {
        const known = this.peers.find(p.peerId);
        if (known?.status === 'left' || known?.status === 'refused' || known?.status === 'foreign')
          continue;
        if (p.peerId !== this.node!.peerId.toString() && !this.connected(p.peerId))
          void this.dialKnown(p);
      }
      if (!this.connected(from)) void this.dialKnown({ peerId: from, addrs: body.addrs });
      else if (st.status === 'loaded' && body.seq > st.seq) void this.fetch(st);
      else if (st.status === 'new' && !st.fetching) void this.fetch(st);
      return;
    }

    const owner = this.peers.ownerOf(agent);
    if (owner !== undefined && owner !== st) {
      return this.report(
        from,
        () =>
          new NotAllowedError(
            `gossip ${body.kind} for agent '${agent}' came from peer ${from}, not its owner ${owner.id}; ignored`,
            { op: 'discovery', agent },
          ),
      );
    }
    if (st.status !== 'loaded') {
      // Metadata not loaded yet: keep the newest update for after the fetch
      // (a fetch also catches up). Peers that will not load keep nothing.
      if (body.kind === 'update' && st.status === 'new') this.holdUpdate(st, body);
      if (st.status === 'new' && this.connected(from)) void this.fetch(st);
      return;
    }
    if (st.name !== agent) {
      return this.report(
        from,
        () =>
          new NotAllowedError(
            `peer ${from} owns '${st.name}' but gossiped about '${agent}'; ignored`,
            { op: 'discovery', agent },
          ),
      );
    }
    if (body.kind === 'tombstone') return this.leave(st, 'tombstone');
    this.holdUpdate(st, body);
    this.applyPending(st);
  }

  /**
   * Keeps `u` as the peer's pending update if it is newer than the one held,
   * within the total pending-bytes bound; its bytes are copied, so the gossip
   * frame they came in is not kept alive.
   */
  private holdUpdate(st: PeerState, u: PendingUpdate): void {
    if (st.pending && st.pending.seq >= u.seq) {
      this.counters.dropped.pending++;
      return;
    }
    this.clearPending(st);
    if (this.pendingBytes + u.metadata.byteLength > this.limits.maxPendingBytes) {
      this.counters.dropped.pending++;
      return;
    }
    st.pending = { seq: u.seq, full: u.full, metadata: new Uint8Array(u.metadata) };
    this.pendingBytes += u.metadata.byteLength;
  }

  private clearPending(st: PeerState): void {
    if (!st.pending) return;
    this.pendingBytes -= st.pending.metadata.byteLength;
    st.pending = undefined;
  }

  /** Applies the pending update if it is the next in sequence; a gap means one was missed: refetch. */
  private applyPending(st: PeerState): void {
    if (st.status !== 'loaded') return;
    const u = st.pending;
    if (!u) return;
    this.clearPending(st);
    if (u.seq <= st.seq) return;
    if (u.seq > st.seq + 1) {
      void this.fetch(st);
      return;
    }
    const name = this.checkClaim(st, u.metadata, u.full);
    if (name === undefined) return;
    try {
      this.host!.loadRemoteMD(u.metadata);
    } catch (err) {
      this.error(asNixlError(err, `loading update ${u.seq} of '${name}'`));
      void this.fetch(st);
      return;
    }
    st.seq = u.seq;
    this.host!.emitPeerEvent('peer:update', name);
  }

  /** Forgets a peer: invalidates its metadata and lets its name be claimed again. */
  private leave(st: PeerState, reason: string): void {
    const name = st.name;
    if (st.graceTimer) clearTimeout(st.graceTimer);
    st.graceTimer = undefined;
    this.clearPending(st);
    st.status = 'left';
    st.seq = -1;
    if (name === undefined) return;
    this.peers.unbind(st);
    this.log?.('%s (%s) left: %s', name, st.id, reason);
    try {
      if (this.host!.checkRemoteMD(name)) this.host!.invalidateRemoteMD(name);
    } catch (err) {
      this.log?.('invalidating %s: %s', name, (err as Error).message);
    }
    this.host!.emitPeerEvent('peer:leave', name);
    // A claimant refused while the owner held the name may take it now.
    for (const other of this.peers.refusedFor(name)) {
      other.status = 'new';
      if (this.connected(other.id)) void this.fetch(other);
    }
  }
}

function asNixlError(err: unknown, what: string): NixlError {
  if (err instanceof NixlError) return err;
  return new MismatchError(`${what}: ${(err as Error)?.message ?? String(err)}`, {
    op: 'discovery',
    cause: err,
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e)),
    );
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}
