/**
 * Metadata gossip: the discovery service that turns found peers into loaded
 * metadata, at a bounded cost per agent whatever the cluster size.
 *
 * Each agent runs a libp2p node (control plane only) and keeps a few links
 * (the mesh `degree`, plus transient ones while a peer joins through it) to
 * other members, never one to every member. Membership and metadata travel
 * as signed, versioned records through that mesh (membership.ts): a joiner
 * syncs the whole directory from its first link, then receives updates;
 * duplicates and stale versions are dropped; anti-entropy heals losses.
 * Failures are found SWIM-style through the mesh (probes, suspicion the
 * member itself can refute, confirmation after the grace period); a closing
 * agent's tombstone travels the same way. Data-plane connections are left to
 * the backends, which connect on first transfer.
 *
 * Membership: every libp2p connection is a private-network connection under
 * the cluster key (a pre-shared key, see cluster-key.ts); a node without it
 * cannot connect at all. Running without a key takes an explicit
 * `insecure: true`.
 *
 * Trust: a record is signed by its owner's libp2p key (its peer id), so it
 * may be relayed by anyone and still proves who wrote it. An agent name
 * belongs to the first live peer whose record for it was loaded; other
 * claimants are refused with a `discovery:error` until the owner leaves.
 *
 * Bounded costs (limits.ts): each connection's reads are metered beneath
 * everything else (private-network.ts); mesh frames are bounded in size and
 * admitted by the delivering peer's message and byte rates; records are
 * bounded in size and number; a peer sending many invalid frames or records
 * is disconnected and refused for a while.
 */
import '../../src/polyfills.js';

import { createPublicKey, KeyObject, verify as cryptoVerify } from 'node:crypto';

import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromString } from '@libp2p/peer-id';
import type { PeerDiscovery, PeerInfo, PrivateKey, PublicKey } from '@libp2p/interface';

import { setNewest } from '../../src/bounded-map.js';
import type { Discovery, DiscoveryHost } from '../../src/discovery.js';
import { InvalidParamError, MismatchError, NixlError, NotAllowedError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { decodeMetadata } from '../../src/metadata.js';
import { ConnectionGate, type DialReason } from '../libp2p-node/connection-gate.js';
import type { ControlNode, PeerDiscoveryFactory } from '../libp2p-node/index.js';
import { withCachedSigning } from '../libp2p-node/signing-key.js';
import type { PeerSource } from '../libp2p-node/peer-source.js';
import { clusterKeyFromEnv, parseClusterKey } from './cluster-key.js';
import { KeyedLimiter, resolveLimits, type GossipLimits } from './limits.js';
import { Membership, type FailureStep, type SendReason, type SignedRecord } from './membership.js';
import { watchLoopLag } from './loop-lag.js';
import { loopUtilisation } from './loop-utilisation.js';
import {
  BUSY_HANDSHAKES,
  DIRECTORY_QUIET_MS,
  FoundPeers,
  FRESH_MS,
  JOIN_DIALS,
  JOIN_ENOUGH_ANSWERS,
  JOIN_GATHER_MS,
  MERGE_AFTER_JOIN_MS,
  MERGE_DIAL_GAP_MS,
  RETRY_FIRST_MS,
  RETRY_MAX_MS,
} from './found-peers.js';
import { AlignedTimer, clearAlignedTimeout, GRID_MS, setAlignedTimeout } from './aligned-timers.js';
import { Libp2pMeshTransport, meshProtocolFor } from './mesh-transport.js';
import { decodePayload, encodePayload, type MemberPayload } from './mesh-wire.js';
import { rememberVerified, signatureKey, wasVerified } from './verified-signatures.js';
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
  /**
   * How long a suspected peer has to answer before it is invalidated
   * everywhere. A crashed peer (its neighbours' connections to it closed) is
   * invalidated about this long after the crash; one that stopped answering
   * with its connections open, after this to three times this (Lifeguard).
   */
  graceMs?: number;
  /** Period of the anti-entropy exchange with one neighbour: it heals missed messages. */
  announceIntervalMs?: number;
  /** Bound on one dial or stream write. */
  fetchTimeoutMs?: number;
  /** Probe period: each agent pings one of its links this often. */
  heartbeatIntervalMs?: number;
  /**
   * Links each agent keeps (the mesh degree); at most twice that are kept
   * open, and its libp2p connections never exceed twice that plus two (a
   * member at the bound refers newcomers elsewhere; see Membership.linkCap).
   */
  degree?: number;
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
  /** Members in the directory (live and remembered dead), and links held now. */
  peers: number;
  links: number;
  /** libp2p connections open now (links plus transient ones). */
  connections: number;
  /** Connections open, inbound ones in their handshakes and our dials in progress: what the bound counts. */
  openOrOpening: number;
  /** Our dials in progress, by what they are for. */
  dialing: Partial<Record<DialReason, number>>;
  /** Our dials and inbound connections refused at the bound (no slot). */
  refusedAtBound: { dials: number; inbound: number };
  /** libp2p connections opened since start, both directions (each one a pnet and noise handshake). */
  opened: number;
  /** The same by who opened them: accepted (`inbound`), or our dials by what they were for. */
  openedBy: Record<DialReason | 'inbound', number>;
  /** The most libp2p connections open at once since start (counted as each one opened). */
  peakConnections: number;
  /** The bound this agent keeps its connections under (see GossipOptions.degree). */
  maxConnections: number;
  /** Mesh frames and bytes sent, and frames dropped (queues full, streams failed). */
  sent: { frames: number; bytes: number; dropped: number; dialed: number };
  /** Bytes of mesh frames queued to send, by message kind (gossip, digest, entries, pull, ping, ...). */
  bytesByKind: Record<string, number>;
  /** Mesh frames queued to send, by message kind. */
  framesByKind: Record<string, number>;
  /** Mesh messages queued to send, by why the membership sent them. */
  sentFor: Partial<Record<SendReason, number>>;
  /** What the membership dropped or did. */
  membership: {
    duplicates: number;
    stale: number;
    invalid: number;
    suspicions: number;
    refutations: number;
    /** Suspicions this agent raised itself (its own probe failed). */
    raised: number;
    /** Probes given up without a verdict (this agent's own event loop stalled while they were out). */
    inconclusive: number;
    /** Gossip flushes armed (each a frame per link with gossip queued). */
    flushes: number;
    /** Of those, flushes armed at the saturated window (the event loop was busy). */
    saturatedFlushes: number;
    /** Links this agent dropped for being extra, and times a peer dropped its only link. */
    shed: number;
    orphaned: number;
    /** Newcomers referred elsewhere at the bound. */
    referred: number;
    /** Record and alive signatures verified (one per new version heard). */
    verified: number;
  };
  /**
   * Wall time of the signature verifications (key import included): their
   * number, the total, and the median of the first 512. Under CPU pressure a
   * call the scheduler preempts carries the wait, so the median is the cost.
   * `cached`: of `count`, those another agent of this process had verified
   * already (verified-signatures.ts).
   */
  verifyTime: { count: number; totalMs: number; medianUs: number; cached: number };
  /**
   * Records loaded into the agent (`records`), and the passes that loaded
   * them (`passes`): the records accepted in one turn of the event loop are
   * loaded in one pass.
   */
  recordLoads: { passes: number; records: number };
}

const CLUSTER_RE = /^[A-Za-z0-9._-]{1,64}$/;
const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0'];
/** Local registrations within this window become one new record version. */
const UPDATE_COALESCE_MS = 50;
/** Addresses taken from one member record. */
const MAX_ADDRS_PER_PEER = 16;
/** Membership timers this long or longer go on the shared grid (aligned-timers.ts): ≤ 25 % late. */
const ALIGN_FROM_MS = 4 * GRID_MS;

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
  private readonly degree: number;
  private readonly protocol: string;
  private readonly clusterKey?: Uint8Array;
  private readonly limits: GossipLimits;
  private readonly errorRate: KeyedLimiter;
  private readonly invalidRate: KeyedLimiter;
  /** Peers refused until a time (ms since the epoch): they sent too much that was invalid. */
  private readonly banned = new Map<string, number>();
  private readonly suppressed = new Map<string, number>();
  private readonly counters = {
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
    opened: 0,
    openedInbound: 0,
    peakConnections: 0,
  };

  private host?: DiscoveryHost;
  private log?: Logger;
  /** What each LAN answer led to (debug; `gossip:lan`). */
  private lanLog?: Logger;
  private node?: ControlNode;
  private key?: PrivateKey;
  private mesh?: Membership;
  private transport?: Libp2pMeshTransport;
  /** The bound every dial and every inbound connection passes. */
  private gate?: ConnectionGate;
  /** Inbound connections of the node in their handshakes (see busyForJoiners). */
  private handshaking?: () => number;
  /** Agent name → owning peer id, and back (loaded members only). */
  private readonly owners = new Map<string, string>();
  private readonly names = new Map<string, string>();
  /** Peers whose claim on a name was refused, retried when the owner leaves. */
  private readonly claimants = new Map<string, Set<string>>();
  /** Peers that do not speak this cluster's mesh (another cluster, not nixl-ts). */
  private readonly foreign = new Set<string>();
  /**
   * Members' public keys; Ed25519 ones as Node key objects, made once per
   * member (@libp2p/crypto builds one from a JWK on every verification).
   */
  private readonly publicKeys = new Map<string, KeyObject | PublicKey>();
  private readonly verifyTimes = { count: 0, totalMs: 0, firstUs: [] as number[], cached: 0 };
  /** The metadata last loaded from each member (its record's bytes, shared). */
  private readonly loadedMetadata = new Map<string, Uint8Array>();
  /**
   * Records the membership accepted that are not loaded into the agent yet,
   * by member (the newest version only): see queueLoad.
   */
  private readonly pendingLoads = new Map<string, SignedRecord>();
  private loadPassScheduled = false;
  /** Load passes run, and the records they loaded (stats().recordLoads). */
  private readonly loadCounts = { passes: 0, records: 0 };
  private stopping = false;
  private started = false;
  private readonly lifetime = new AbortController();
  private readonly cleanups: (() => void)[] = [];
  private updateTimer?: ReturnType<typeof setTimeout>;
  /** Peers mDNS announced, dialed again while this agent has no link (see FoundPeers). */
  private found!: FoundPeers;
  private lanRetry?: ReturnType<typeof setTimeout>;
  /** The gather before the join dials, and the answers heard in it (see joinFromAnswers). */
  private joinGather?: { timer: ReturnType<typeof setTimeout>; heard: number };
  /** When a peer of another part of the cluster was last dialed (see onDiscovered). */
  private lastMergeDial = 0;
  /** When this agent first held a connection (Infinity before). */
  private firstLinkAt = Infinity;
  /** When the membership last accepted a record (a new member or version): see mayMergeDial. */
  private lastRecordAt = 0;
  /** When each failure-detection step last happened here, per member (the most recent 256 members). */
  private readonly failureSteps = new Map<string, Partial<Record<FailureStep, number>>>();
  /** Agent name → peer id of members that left or died (the most recent 256), for failureTrace. */
  private readonly goneIds = new Map<string, string>();

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
    this.announceIntervalMs = positive(opts.announceIntervalMs, 1000, 'announceIntervalMs');
    this.fetchTimeoutMs = positive(opts.fetchTimeoutMs, 30_000, 'fetchTimeoutMs');
    this.heartbeatIntervalMs = positive(opts.heartbeatIntervalMs, 1000, 'heartbeatIntervalMs');
    this.degree = positive(opts.degree, 4, 'degree');
    if (!Number.isInteger(this.degree) || this.degree > 32) {
      throw new InvalidParamError(
        `gossip: degree must be an integer from 1 to 32, got ${opts.degree}`,
        {
          op: 'gossip',
        },
      );
    }
    this.protocol = meshProtocolFor(this.cluster);
    this.limits = resolveLimits(opts.limits);
    this.found = new FoundPeers(Math.min(this.limits.maxPeers, 1024));
    const l = this.limits;
    this.errorRate = new KeyedLimiter(1000 / l.errorIntervalMs, l.errorBurst, l.maxPeers);
    this.invalidRate = new KeyedLimiter(
      l.maxInvalidMessages / 600,
      l.maxInvalidMessages,
      l.maxPeers,
    );

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
    const c = this.mesh?.counters;
    return {
      dropped: { ...this.counters.dropped },
      fetchesRefused: this.counters.fetchesRefused,
      peersBanned: this.counters.peersBanned,
      errorsSuppressed: this.counters.errorsSuppressed,
      pendingBytes: 0,
      peers: this.mesh?.size ?? 0,
      links: this.mesh?.linkIds().length ?? 0,
      connections: this.node?.getConnections().length ?? 0,
      openOrOpening: this.gate?.count ?? 0,
      dialing: { ...this.gate?.dials },
      refusedAtBound: { ...(this.gate?.refused ?? { dials: 0, inbound: 0 }) },
      opened: this.counters.opened,
      openedBy: {
        inbound: this.counters.openedInbound,
        ...(this.gate?.opened ?? { link: 0, probe: 0, relay: 0, seed: 0 }),
      },
      peakConnections: this.counters.peakConnections,
      maxConnections: this.maxConnections,
      sent: { ...(this.transport?.sent ?? { frames: 0, bytes: 0, dropped: 0, dialed: 0 }) },
      bytesByKind: { ...this.transport?.bytesByKind },
      framesByKind: { ...this.transport?.framesByKind },
      sentFor: { ...this.mesh?.sentFor },
      membership: {
        duplicates: c?.duplicates ?? 0,
        stale: c?.stale ?? 0,
        invalid: c?.invalid ?? 0,
        suspicions: c?.suspicions ?? 0,
        refutations: c?.refutations ?? 0,
        raised: c?.raised ?? 0,
        inconclusive: c?.inconclusive ?? 0,
        flushes: c?.flushes ?? 0,
        saturatedFlushes: c?.saturatedFlushes ?? 0,
        shed: c?.shed ?? 0,
        orphaned: c?.orphaned ?? 0,
        referred: c?.referred ?? 0,
        verified: c?.verified ?? 0,
      },
      recordLoads: { ...this.loadCounts },
      verifyTime: {
        count: this.verifyTimes.count,
        totalMs: this.verifyTimes.totalMs,
        medianUs: median(this.verifyTimes.firstUs),
        cached: this.verifyTimes.cached,
      },
    };
  }

  /** libp2p connections open now (cheap: for samplers). */
  get connectionCount(): number {
    return this.node?.getConnections().length ?? 0;
  }

  /** Connections open or being opened, both ways, as the bound counts them (cheap: for samplers). */
  get connectionsOpenOrOpening(): number {
    return this.gate?.count ?? 0;
  }

  /** The most libp2p connections open at once since start (stats().peakConnections, cheaply). */
  get peakConnections(): number {
    return this.counters.peakConnections;
  }

  /**
   * The bound on this agent's libp2p connections: its links (at most twice
   * the degree; a newcomer past them is referred elsewhere), one inbound
   * connection being refused or referred, and one dial for a probe.
   */
  private get maxConnections(): number {
    return 2 * this.degree + 2;
  }

  /**
   * True while a LAN source should not answer questions (NodeRoom.busy): at
   * the connection bound, where a dial would be reset, or with
   * BUSY_HANDSHAKES joiners' handshakes in progress already.
   */
  private busyForJoiners(): boolean {
    if (!this.gate || !this.handshaking) return false;
    return this.gate.count >= this.gate.max || this.handshaking() >= BUSY_HANDSHAKES;
  }

  /** This node's libp2p peer id (after start). */
  get peerId(): string | undefined {
    return this.node?.peerId.toString();
  }

  /** The multiaddrs peers can dial (after start), each ending in /p2p/<peerId>. */
  getMultiaddrs(): string[] {
    return this.node ? this.node.getMultiaddrs().map((a) => a.toString()) : [];
  }

  /**
   * When each step of failure detection about an agent last happened here
   * (ms since the epoch): our link to it lost, a suspicion raised by us or
   * heard, its death confirmed by us or heard. For benchmarks' timelines.
   */
  failureTrace(name: string): Partial<Record<FailureStep, number>> | undefined {
    const id = this.owners.get(name) ?? this.goneIds.get(name);
    return id === undefined ? undefined : { ...this.failureSteps.get(id) };
  }

  /** Agent names this discovery has loaded (live and trusted). */
  loadedPeers(): string[] {
    return [...this.owners.keys()];
  }

  async start(host: DiscoveryHost): Promise<void> {
    if (this.started)
      throw new NotAllowedError('gossip discovery already started', { op: 'gossip.start' });
    this.started = true;
    this.host = host;
    this.log = host.log.extend('gossip');
    this.lanLog = this.log.extend('lan');

    const peerDiscovery: PeerDiscoveryFactory[] = [];
    const room = {
      busy: () => this.busyForJoiners(),
      heard: (peer: PeerInfo) => this.onFound(peer),
    };
    for (const s of this.sources)
      for (const make of (await s.peerDiscovery?.(this.cluster, room)) ?? [])
        peerDiscovery.push((components) => this.hearEveryAnswer(make(components)));

    const { createControlNode, inboundInHandshake } = await import('../libp2p-node/index.js');
    if (this.insecure) {
      this.log('no cluster key (insecure: true): any peer that reaches %o may join', this.listen);
    }
    // Signs every record and every handshake: one native key object for all of them.
    this.key = withCachedSigning(await generateKeyPair('Ed25519'));
    const maxLinks = 2 * this.degree;
    const node = await createControlNode({
      listen: this.listen,
      clusterKey: this.clusterKey,
      privateKey: this.key,
      pubsub: false,
      // The mesh carries addresses in its records and dials its protocol directly.
      identify: false,
      refuse: (peerId) => this.refused(peerId),
      admitInbound: () => this.gate?.admitInbound() ?? true,
      readLimits: {
        bytesPerSecond: this.limits.connectionBytesPerSecond,
        burstBytes: this.limits.connectionBurstBytes,
        turnBytes: this.limits.connectionTurnBytes,
      },
      peerDiscovery,
      // A hard cap only: a seed briefly holds every joiner of a cluster start
      // until the membership drops the extra links (unlink, no failure);
      // libp2p's own pruning past the cap would cut links abruptly.
      maxConnections: Math.max(256, 4 * maxLinks),
      start: false,
    });
    this.node = node;
    // One below the bound: a connection refused at accept is briefly one
    // more (the kernel accepted it before the gate closed it).
    this.handshaking = () => inboundInHandshake(node);
    const gate = new ConnectionGate(node, this.maxConnections - 1, this.handshaking);
    this.gate = gate;
    const transport = new Libp2pMeshTransport(node, {
      protocol: this.protocol,
      maxFrameBytes: this.limits.maxMessageBytes + 64 * 1024,
      maxQueueBytes: Math.max(8 * 1024 * 1024, 2 * this.limits.maxMessageBytes),
      messagesPerSecond: this.limits.messagesPerSecond,
      messageBurst: this.limits.messageBurst,
      bytesPerSecond: this.limits.bytesPerSecond,
      byteBurst: this.limits.byteBurst,
      maxPeers: this.limits.maxPeers,
      dialTimeoutMs: Math.min(this.fetchTimeoutMs, 10_000),
      gate,
      addrsOf: (id) => this.addrsOf(id),
      refused: (id) => this.refused(id),
      receive: (from, msg) => this.mesh?.receive(from, msg),
      invalid: (from, err) => {
        this.counters.dropped.malformed++;
        this.strike(from);
        this.report(from, () => asNixlError(err, `mesh frame from peer ${from}`));
      },
      rateLimited: (from) => {
        this.counters.dropped.rateLimited++;
        this.report(
          from,
          () =>
            new NotAllowedError(`peer ${from} exceeds the gossip rate limit; messages dropped`, {
              op: 'discovery',
            }),
        );
      },
      foreign: (id) => this.onForeign(id),
      refusedByLive: (id) => this.mesh?.refusedByLive(id),
      awaitsAnswer: (id) => this.mesh?.awaitsAnswer(id) ?? false,
      linkRefused: (id) => this.mesh?.linkRefused(id),
      unreachable: (id) => this.mesh?.unreachable(id),
      log: this.log.extend('mesh'),
    });
    this.transport = transport;
    await transport.install();

    this.listen_(node, 'connection:open', (e: any) => {
      this.counters.opened++;
      if (e.detail.direction === 'inbound') this.counters.openedInbound++;
      const open = node.getConnections().length;
      if (open > this.counters.peakConnections) this.counters.peakConnections = open;
      const peer = e.detail.remotePeer.toString();
      setImmediate(() => this.dropDuplicate(peer));
    });
    this.listen_(node, 'peer:connect', (e: any) => this.onConnect(e.detail.toString()));
    this.listen_(node, 'peer:disconnect', (e: any) => this.onDisconnect(e.detail.toString()));
    // A peer new to libp2p's peer store: a connection or a member's record put
    // it there, or a LAN source's first answer (which hearEveryAnswer passed on already).
    this.listen_(node, 'peer:discovery', (e: any) => this.onFound(e.detail));
    this.cleanups.push(host.onRegistrationChange(() => this.scheduleUpdate()));

    try {
      await node.start();
    } catch (err) {
      await this.teardown();
      throw err;
    }
    const key = this.key;
    const lag = watchLoopLag();
    this.cleanups.push(() => lag.stop());
    this.mesh = new Membership(
      node.peerId.toString(),
      this.payload(),
      transport,
      {
        sign: (bytes) => key.sign(bytes) as Uint8Array,
        verify: (id, bytes, sig) => this.verify(id, bytes, sig),
      },
      {
        now: () => Date.now(),
        // The membership's long timers (probes, upkeep, timeouts) share the
        // process's grid, and with it wake-ups; short ones (a 20 ms batch) keep
        // their precision.
        setTimeout: (fn, ms) => {
          if (ms >= ALIGN_FROM_MS) return setAlignedTimeout(fn, ms);
          const t = setTimeout(fn, ms);
          t.unref();
          return t;
        },
        clearTimeout: (h) => {
          if (h instanceof AlignedTimer) clearAlignedTimeout(h);
          else clearTimeout(h as ReturnType<typeof setTimeout>);
        },
        slackMs: GRID_MS,
        lagSince: (t) => lag.since(t),
        utilisation: loopUtilisation,
      },
      {
        alive: (rec) => {
          this.lastRecordAt = Date.now();
          this.queueLoad(rec);
        },
        gone: (id, reason) => {
          // A record accepted in this turn and gone in it too is never loaded.
          this.pendingLoads.delete(id);
          this.onGone(id, reason);
        },
        failure: (id, step) => {
          const steps = this.failureSteps.get(id);
          setNewest(this.failureSteps, id, { ...steps, [step]: Date.now() }, 256);
        },
        invalid: (from, why, kind) => {
          if (kind === 'oversized') this.counters.dropped.oversized++;
          else this.counters.dropped.unsigned++;
          this.strike(from);
          this.report(
            from,
            () =>
              new NotAllowedError(`peer ${from} relayed an invalid ${why}; dropped`, {
                op: 'discovery',
              }),
          );
        },
      },
      {
        degree: this.degree,
        maxLinks,
        linkCap: maxLinks,
        dialsPerRound: Math.ceil(this.degree / 2),
        probeIntervalMs: this.heartbeatIntervalMs,
        // A crash is confirmed about graceMs after its neighbours' links drop.
        probeTimeoutMs: Math.max(250, Math.min(750, this.graceMs / 8)),
        suspicionMs: this.graceMs,
        antiEntropyMs: this.announceIntervalMs,
        minLinkAgeMs: 2000,
        maxMembers: this.limits.maxPeers,
        maxRecordBytes: this.limits.maxMessageBytes,
        maxDirectoryBytes: Math.max(
          4 * this.limits.maxPendingBytes,
          2 * this.limits.maxMessageBytes,
        ),
        maxMessageBytes: Math.min(512 * 1024, this.limits.maxMessageBytes),
      },
    );
    this.mesh.start();
    const timer = setInterval(() => this.tick(), this.announceIntervalMs);
    timer.unref();
    this.cleanups.push(() => clearInterval(timer));
    // Connections and mDNS answers that came before the membership existed.
    for (const c of node.getConnections()) this.onConnect(c.remotePeer.toString());
    for (const id of [...this.found.ids()]) this.onDiscovered(id, this.found.addrsOf(id));
    for (const s of this.sources) {
      s.start?.({
        cluster: this.cluster,
        node,
        dial: (addr, options) => gate.dial(addr, 'seed', options),
        linking: () => node.getConnections().length > 0 || transport.dialsInFlight > 0,
        log: this.log.extend(s.kind),
        signal: this.lifetime.signal,
      });
    }
    this.log('started %s on %o', node.peerId.toString(), this.getMultiaddrs());
  }

  /** Sends our tombstone through the mesh, then stops the node. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.mesh && this.node?.status === 'started') {
      this.mesh.leave();
      // Until every link confirmed the tombstone (bounded): see Membership.leave.
      const deadline = Date.now() + 2000;
      while (this.mesh.unconfirmedLeave > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      await this.transport?.drain(Math.max(0, deadline - Date.now()));
    }
    await this.teardown();
  }

  private async teardown(): Promise<void> {
    this.lifetime.abort();
    this.pendingLoads.clear();
    if (this.updateTimer) clearTimeout(this.updateTimer);
    if (this.lanRetry) clearTimeout(this.lanRetry);
    if (this.joinGather) clearTimeout(this.joinGather.timer);
    this.mesh?.stop();
    this.transport?.close();
    for (const c of this.cleanups.splice(0)) c();
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
   * counted (and the count rides on the next report).
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

  // ---- our record ----

  private payload(): Uint8Array {
    return encodePayload({
      name: this.host!.name,
      addrs: this.getMultiaddrs(),
      metadata: this.host!.getLocalMD(),
    });
  }

  /** Registrations within a short window become one new version of our record. */
  private scheduleUpdate(): void {
    if (this.stopping || !this.mesh || this.updateTimer) return;
    this.updateTimer = setTimeout(() => {
      this.updateTimer = undefined;
      if (this.stopping || !this.mesh) return;
      const payload = this.payload();
      if (payload.byteLength > this.limits.maxMessageBytes) {
        this.error(
          new InvalidParamError(
            `this agent's metadata (${payload.byteLength} bytes) exceeds the discovery record bound ` +
              `(limits.maxMessageBytes = ${this.limits.maxMessageBytes}); peers keep the previous version. ` +
              'Exchange it with getLocalMD/loadRemoteMD, or raise the bound across the cluster',
            { op: 'discovery' },
          ),
        );
        return;
      }
      this.mesh.update(payload);
    }, UPDATE_COALESCE_MS);
    this.updateTimer.unref?.();
  }

  private verify(id: string, bytes: Uint8Array, sig: Uint8Array): boolean {
    const t0 = performance.now();
    try {
      return this.verifyUntimed(id, bytes, sig);
    } finally {
      const ms = performance.now() - t0;
      const t = this.verifyTimes;
      t.count++;
      t.totalMs += ms;
      if (t.firstUs.length < 512) t.firstUs.push(ms * 1000);
    }
  }

  private verifyUntimed(id: string, bytes: Uint8Array, sig: Uint8Array): boolean {
    const triple = signatureKey(id, bytes, sig);
    if (wasVerified(triple)) {
      this.verifyTimes.cached++;
      return true;
    }
    if (!this.verifyWithKey(id, bytes, sig)) return false;
    rememberVerified(triple);
    return true;
  }

  private verifyWithKey(id: string, bytes: Uint8Array, sig: Uint8Array): boolean {
    let key = this.publicKeys.get(id);
    if (!key) {
      try {
        const pk = peerIdFromString(id).publicKey;
        if (!pk) return false;
        key = pk.type === 'Ed25519' ? ed25519KeyObject(pk.raw) : pk;
      } catch {
        return false;
      }
      if (this.publicKeys.size >= this.limits.maxPeers) this.publicKeys.clear();
      this.publicKeys.set(id, key);
    }
    try {
      return key instanceof KeyObject
        ? cryptoVerify(null, bytes, key, sig)
        : key.verify(bytes, sig) === true;
    } catch {
      return false;
    }
  }

  /** A member's addresses from its record; else those a LAN source found it at. */
  private addrsOf(id: string): string[] {
    const rec = this.mesh?.recordOf(id);
    if (!rec) return this.found.addrsOf(id);
    try {
      return decodePayload(rec.payload).addrs.slice(0, MAX_ADDRS_PER_PEER);
    } catch {
      return [];
    }
  }

  // ---- links ----

  private onConnect(peerId: string): void {
    if (!this.mesh || this.foreign.has(peerId)) return;
    if (this.lanLog?.enabled)
      this.lanLog(
        'connected %s (links %d, members %d)',
        peerId.slice(-6),
        this.mesh.linkIds().length,
        this.mesh.size,
      );
    if (this.firstLinkAt === Infinity) this.firstLinkAt = Date.now();
    this.mesh.linkUp(peerId);
  }

  /**
   * Two connections to one peer (both sides dialed at once, as seeds do):
   * each counts against the bound, so one goes. Both sides keep the same
   * one, the connection the smaller peer id dialed.
   */
  private dropDuplicate(peer: string): void {
    if (this.stopping || !this.node) return;
    const conns = this.node.getConnections(peerIdFromString(peer));
    if (conns.length !== 2 || conns[0]!.direction === conns[1]!.direction) return;
    const keepOutbound = this.node.peerId.toString() < peer;
    const extra = conns.find((c) => (c.direction === 'outbound') !== keepOutbound)!;
    extra.close().catch((err) => extra.abort(err as Error));
  }

  private onDisconnect(peerId: string): void {
    this.transport?.peerGone(peerId);
    this.mesh?.linkDown(peerId);
    this.retryLanWhileAlone();
  }

  /**
   * Hands every peer a libp2p peer discovery (mDNS) announces to
   * onDiscovered, not only the first: libp2p's own `peer:discovery` event
   * fires once per peer, when it first enters the peer store. An agent that
   * heard a peer while it could not use it (during a cluster start, or while
   * the peer was unreachable) then never heard of it again, and two groups
   * that formed apart stayed apart (the merge dial below never came).
   */
  private hearEveryAnswer(discovery: PeerDiscovery): PeerDiscovery {
    this.listen_(discovery, 'peer', (e: any) => this.onFound(e.detail));
    return discovery;
  }

  private onFound(peer: PeerInfo): void {
    this.onDiscovered(
      peer.id.toString(),
      peer.multiaddrs.map((a) => a.toString()),
    );
  }

  /**
   * mDNS found a peer: remember it and its addresses; while this agent is
   * joining (fewer than JOIN_DIALS links and dials), dial peers picked among
   * the answers heard within JOIN_GATHER_MS (see joinFromAnswers); otherwise
   * dial it when the membership does not know it (another part of the cluster).
   */
  private onDiscovered(id: string, addrs: readonly string[]): void {
    if (this.foreign.has(id) || this.refused(id)) return;
    this.found.add(id, addrs);
    if (!this.mesh) return;
    this.retryLanWhileAlone();
    const links = this.mesh.linkIds().length;
    if (this.lanLog?.enabled)
      this.lanLog(
        'heard %s: links %d, dials %d, members %d, known %s, connected %s',
        id.slice(-6),
        links,
        this.transport!.dialsInFlight,
        this.mesh.size,
        this.mesh.recordOf(id) !== undefined,
        this.connectedTo(id),
      );
    if (this.connectedTo(id)) return;
    // Dials in flight count too: mDNS finds the whole LAN at once, and one
    // link is enough to join; the membership links on to members itself.
    if (links + this.transport!.dialsInFlight < JOIN_DIALS) {
      this.joinFromAnswers();
      return;
    }
    // A peer the membership does not know is in another part of the cluster:
    // agents that joined each other before they heard of us.
    const now = Date.now();
    if (this.mayMergeDial(now) && this.apart(id)) this.mergeDial(id, now);
  }

  /**
   * Dials, JOIN_GATHER_MS after the first answer that finds this agent
   * joining, or as soon as the answers read with the JOIN_ENOUGH_ANSWERS-th
   * are in, as many peers as it lacks links and dials of JOIN_DIALS, picked
   * at random among the peers heard within that time and before (not the
   * first to answer: those are the same few agents for every joiner).
   */
  private joinFromAnswers(): void {
    let gather = this.joinGather;
    if (!gather) {
      const timer = setTimeout(() => this.joinDial(gather!), JOIN_GATHER_MS);
      timer.unref();
      gather = this.joinGather = { timer, heard: 0 };
    }
    // setImmediate: after the rest of the answers read in this turn.
    const g = gather;
    if (++g.heard === JOIN_ENOUGH_ANSWERS) setImmediate(() => this.joinDial(g));
  }

  private joinDial(gather: NonNullable<typeof this.joinGather>): void {
    if (this.joinGather !== gather) return;
    clearTimeout(gather.timer);
    this.joinGather = undefined;
    if (this.stopping || !this.mesh) return;
    const lacking = JOIN_DIALS - this.mesh.linkIds().length - this.transport!.dialsInFlight;
    if (lacking <= 0) return;
    const now = Date.now();
    const usable = (id: string) => this.found.heardWithin(id, FRESH_MS, now) && this.dialable(id);
    if (this.lanLog?.enabled) this.lanLog('join after %d answers', gather.heard);
    for (const id of this.found.pick(lacking, usable)) {
      if (this.lanLog?.enabled) this.lanLog('join dial %s', id.slice(-6));
      this.transport!.connect(id);
    }
  }

  /**
   * A found peer the membership has no record of, live or dead, and that we
   * hold no connection to: another part of the cluster, or an agent alone.
   */
  private apart(id: string): boolean {
    return !this.mesh!.recordOf(id) && !this.mesh!.isDead(id) && this.dialable(id);
  }

  /** A found peer we may dial: not of another cluster, not refused, not connected already. */
  private dialable(id: string): boolean {
    return !this.foreign.has(id) && !this.refused(id) && !this.connectedTo(id);
  }

  /**
   * Whether a dial to merge another part of the cluster may go now: one link
   * merges the two directories, so one such dial at a time, at most one a
   * second, and only once we are linked and the cluster has stopped forming
   * around us: our directory quiet for DIRECTORY_QUIET_MS (no record on its
   * way), or MERGE_AFTER_JOIN_MS after our first link whatever comes.
   */
  private mayMergeDial(now: number): boolean {
    if (!this.mesh || this.mesh.linkIds().length === 0) return false;
    if (this.transport!.dialsInFlight > 0 || now - this.lastMergeDial < MERGE_DIAL_GAP_MS)
      return false;
    const linkedFor = now - this.firstLinkAt;
    return (
      linkedFor >= MERGE_AFTER_JOIN_MS ||
      (linkedFor >= DIRECTORY_QUIET_MS && now - this.lastRecordAt >= DIRECTORY_QUIET_MS)
    );
  }

  private mergeDial(id: string, now: number): void {
    this.lastMergeDial = now;
    if (this.lanLog?.enabled) this.lanLog('merge dial %s', id.slice(-6));
    this.transport!.connect(id);
  }

  /**
   * Periodic: dials a peer mDNS found that the directory still lacks, from
   * what we remember of the answers. A cluster's groups that formed apart
   * heard each other's answers in the first second, while merge dials could
   * not go yet; waiting for the next answer (the next question, seconds
   * later, and the answer filter passes a peer once per half period) left
   * the groups apart that long.
   */
  private mergeApart(): void {
    const now = Date.now();
    if (this.found.size === 0 || !this.mayMergeDial(now)) return;
    const [id] = this.found.pick(
      1,
      (p) => this.found.heardWithin(p, FRESH_MS, now) && this.apart(p),
    );
    if (id !== undefined) this.mergeDial(id, now);
  }

  private connectedTo(id: string): boolean {
    return this.node!.getConnections().some((c) => c.remotePeer.toString() === id);
  }

  /**
   * While this agent has no link, dials a few of the peers mDNS announced,
   * again and again (250 ms, doubling to 4 s), until one link holds: their
   * announcements are not repeated before the next query.
   */
  private retryLanWhileAlone(): void {
    if (this.lanRetry || this.stopping || !this.mesh || this.found.size === 0) return;
    if (this.mesh.linkIds().length > 0) return;
    const attempt = (delayMs: number) => {
      this.lanRetry = setTimeout(() => {
        this.lanRetry = undefined;
        if (this.stopping || !this.mesh || this.mesh.linkIds().length > 0) return;
        if (this.transport!.dialsInFlight === 0) {
          for (const id of this.found.pick(JOIN_DIALS, (p) => this.dialable(p)))
            this.transport!.connect(id);
        }
        attempt(Math.min(2 * delayMs, RETRY_MAX_MS));
      }, delayMs);
      this.lanRetry.unref();
    };
    attempt(RETRY_FIRST_MS);
  }

  private onForeign(id: string): void {
    if (this.foreign.has(id)) return;
    if (this.foreign.size >= this.limits.maxPeers) this.foreign.clear();
    this.foreign.add(id);
    this.found.delete(id);
    this.mesh?.linkDown(id);
    this.report(
      id,
      () =>
        new NotAllowedError(
          `peer ${id} is in another cluster (or not a nixl-ts agent): it does not speak this cluster's mesh`,
          { op: 'discovery' },
        ),
    );
    void this.node
      ?.hangUp(peerIdFromString(id))
      .catch((err) => this.log?.('hanging up on %s: %s', id, err?.message));
  }

  // ---- records → the agent ----

  /**
   * Loads a member's record into the agent once the frames read in this turn
   * of the event loop are handled (setImmediate), together with every other
   * record accepted meanwhile. During a start a process reads frames from
   * many links in one turn, each with a record or two: loaded one by one,
   * each load ran cold (the metadata decoding, the backend's addPeer) and
   * woke the TCP engine's sleeping thread; loaded in one pass, the code is
   * warm after the first and one wake-up serves them all.
   */
  private queueLoad(rec: SignedRecord): void {
    if (this.stopping) return;
    this.pendingLoads.set(rec.id, rec);
    if (this.loadPassScheduled) return;
    this.loadPassScheduled = true;
    setImmediate(() => this.loadPending());
  }

  private loadPending(): void {
    this.loadPassScheduled = false;
    if (this.stopping || !this.pendingLoads.size) return;
    const records = [...this.pendingLoads.values()];
    this.pendingLoads.clear();
    this.loadCounts.passes++;
    this.loadCounts.records += records.length;
    for (const rec of records) this.onAlive(rec);
  }

  private onAlive(rec: SignedRecord): void {
    if (this.stopping || !this.host) return;
    const id = rec.id;
    let p: MemberPayload;
    let name: string;
    let partial: boolean;
    try {
      p = decodePayload(rec.payload);
      ({ name, partial } = decodeMetadata(p.metadata));
    } catch (err) {
      return this.report(id, () => asNixlError(err, `record of peer ${id}`));
    }
    if (name !== p.name || partial) {
      return this.report(
        id,
        () =>
          new MismatchError(
            `peer ${id}'s record names '${p.name}' but carries metadata of '${name}'`,
            {
              op: 'discovery',
              agent: name,
            },
          ),
      );
    }
    if (name === this.host.name) {
      return this.refuseClaim(
        id,
        name,
        new NotAllowedError(`peer ${id} claims this agent's own name '${name}'; refused`, {
          op: 'discovery',
          agent: name,
        }),
      );
    }
    const held = this.names.get(id);
    if (held !== undefined && held !== name) {
      return this.report(
        id,
        () =>
          new NotAllowedError(
            `peer ${id} owns agent name '${held}' and now claims '${name}'; refused`,
            {
              op: 'discovery',
              agent: name,
            },
          ),
      );
    }
    const owner = this.owners.get(name);
    if (owner !== undefined && owner !== id) {
      if (this.mesh?.recordOf(owner)) {
        return this.refuseClaim(
          id,
          name,
          new NotAllowedError(
            `agent name '${name}' is owned by peer ${owner}; peer ${id} claims it too and is refused`,
            { op: 'discovery', agent: name },
          ),
        );
      }
      this.onGone(owner, 'dead');
    }
    const wasLoaded = held === name && this.host.checkRemoteMD(name);
    // A refutation republishes the same metadata under a new version: nothing to load.
    const last = this.loadedMetadata.get(id);
    if (wasLoaded && last && Buffer.compare(last, p.metadata) === 0) return;
    try {
      this.host.loadRemoteMD(p.metadata);
    } catch (err) {
      return this.report(id, () =>
        asNixlError(err, `loading metadata of '${name}' from peer ${id}`),
      );
    }
    this.owners.set(name, id);
    this.names.set(id, name);
    this.loadedMetadata.set(id, p.metadata);
    this.log?.('loaded %s from %s (version %d)', name, id, rec.version);
    this.host.emitPeerEvent(wasLoaded ? 'peer:update' : 'peer:join', name);
  }

  private refuseClaim(id: string, name: string, err: NixlError): void {
    let set = this.claimants.get(name);
    if (!set) {
      if (this.claimants.size >= this.limits.maxPeers) return this.report(id, () => err);
      this.claimants.set(name, (set = new Set()));
    }
    const known = set.has(id);
    if (set.size < 64) set.add(id);
    if (!known) this.error(err);
  }

  private onGone(id: string, reason: 'left' | 'dead'): void {
    const name = this.names.get(id);
    if (name === undefined || !this.host) return;
    this.names.delete(id);
    this.loadedMetadata.delete(id);
    setNewest(this.goneIds, name, id, 256);
    if (this.owners.get(name) === id) this.owners.delete(name);
    this.log?.('%s (%s) %s', name, id, reason === 'left' ? 'left' : 'is gone (confirmed dead)');
    try {
      if (this.host.checkRemoteMD(name)) this.host.invalidateRemoteMD(name);
    } catch (err) {
      this.log?.('invalidating %s: %s', name, (err as Error).message);
    }
    this.host.emitPeerEvent('peer:leave', name);
    // A claimant refused while the owner held the name may take it now.
    const waiting = this.claimants.get(name);
    this.claimants.delete(name);
    for (const other of waiting ?? []) {
      const rec = this.mesh?.recordOf(other);
      if (rec && !this.owners.has(name)) this.onAlive(rec);
    }
  }

  /** Periodic: reload peers the agent dropped on its own (a backend saw them disconnect), keep bookkeeping bounded. */
  private tick(): void {
    if (this.stopping || !this.host) return;
    const now = Date.now();
    for (const [id, until] of this.banned) if (now >= until) this.banned.delete(id);
    this.invalidRate.sweep();
    this.errorRate.sweep();
    this.transport?.sweep();
    this.mergeApart();
    if (this.suppressed.size > this.limits.maxPeers) this.suppressed.clear();
    // Every second over every member: forEach makes no entry array or copy of the map
    // (at 128 members that garbage was the gossip plugin's largest own allocation).
    const dropped: string[] = [];
    const host = this.host;
    this.owners.forEach((_, name) => {
      if (!host.checkRemoteMD(name)) dropped.push(name);
    });
    for (const name of dropped) {
      // Reloading one may have changed another's state since the pass above.
      const id = this.owners.get(name);
      if (id === undefined || host.checkRemoteMD(name)) continue;
      this.log?.('agent dropped %s; reloading', name);
      this.host.emitPeerEvent('peer:leave', name);
      this.owners.delete(name);
      this.names.delete(id);
      this.loadedMetadata.delete(id);
      const rec = this.mesh?.recordOf(id);
      if (rec) this.onAlive(rec);
    }
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
   * Counts an invalid frame or record against the peer that delivered it;
   * past `maxInvalidMessages` the peer is disconnected and refused for `banMs`.
   */
  private strike(peer: string): void {
    if (this.stopping || this.refused(peer) || this.invalidRate.take(peer)) return;
    setNewest(this.banned, peer, Date.now() + this.limits.banMs, this.limits.maxPeers);
    this.counters.peersBanned++;
    this.error(
      new NotAllowedError(
        `peer ${peer} sent more than ${this.limits.maxInvalidMessages} invalid gossip messages; ` +
          `disconnected and refused for ${this.limits.banMs} ms`,
        { op: 'discovery' },
      ),
    );
    this.transport?.disconnect(peer);
  }
}

/**
 * A member's verification key, from the raw key its peer id holds. Imported
 * as JWK: OpenSSL 3 decodes a DER SubjectPublicKeyInfo several times slower
 * (~90 µs against ~13 µs here), once per member per agent.
 */
function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function ed25519KeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}

function asNixlError(err: unknown, what: string): NixlError {
  if (err instanceof NixlError) return err;
  return new MismatchError(`${what}: ${(err as Error)?.message ?? String(err)}`, {
    op: 'discovery',
    cause: err,
  });
}
