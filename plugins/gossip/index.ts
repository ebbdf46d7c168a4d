/**
 * Metadata gossip: the discovery service that turns found peers into loaded
 * metadata. It runs a libp2p node (control plane only), fetches each
 * connected peer's full metadata over a request/response protocol, spreads
 * registration changes as partial-metadata updates on the cluster's topic,
 * gossips a tombstone on close, and invalidates a peer whose connection is
 * lost and not back within a grace period.
 *
 * Trust: an agent name belongs to the first libp2p peer that claims it (its
 * noise-authenticated peer id); every later message about that name must come
 * from that peer (gossip messages are signed). Other claimants are refused
 * with a `discovery:error` until the owner leaves.
 */
import '../../src/polyfills.js';

import type { Discovery, DiscoveryHost, RegistrationChange } from '../../src/discovery.js';
import { InvalidParamError, MismatchError, NixlError, NotAllowedError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { decodeMetadata } from '../../src/metadata.js';
import type { ControlNode } from '../libp2p-node/index.js';
import type { PeerSource } from '../libp2p-node/peer-source.js';
import { PeerTable, type PeerState } from './peer-table.js';
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
  type PeerAddrs,
} from './wire.js';

export interface GossipOptions {
  /** Cluster name: agents of other clusters are never loaded. */
  cluster: string;
  /** Where peers come from: `mdns()`, `seeds([...])`; none means only peers that dial us. */
  sources?: PeerSource[];
  /** libp2p listen multiaddrs; default `/ip4/0.0.0.0/tcp/0`. */
  listen?: string[];
  /** How long a lost peer may stay away before it is invalidated everywhere. */
  graceMs?: number;
  /** Period of the hello (our addresses, update sequence and loaded peers): it heals missed messages. */
  announceIntervalMs?: number;
  /** Bound on one metadata fetch. */
  fetchTimeoutMs?: number;
  heartbeatIntervalMs?: number;
}

const CLUSTER_RE = /^[A-Za-z0-9._-]{1,64}$/;
const HELLO_COALESCE_MS = 300;
const DIAL_DEFER_MS = 2000;
const DIAL_RETRY_MS = 5000;

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
    this.listen = opts.listen ?? ['/ip4/0.0.0.0/tcp/0'];
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
    const node = await createControlNode({
      listen: this.listen,
      peerDiscovery,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      start: false,
    });
    this.node = node;

    // Handlers first, then start: a peer that connects at once finds them in place.
    await node.handle(FETCH_PROTOCOL, (stream) => this.serveFetch(stream), {
      maxInboundStreams: 256,
    });
    const pubsub = node.services.pubsub;
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

  // ---- finding and connecting peers ----

  private onDiscovered(peerId: { toString(): string }): void {
    const id = peerId.toString();
    const last = this.lastDial.get(id) ?? 0;
    if (Date.now() - last < DIAL_RETRY_MS || this.connected(id)) return;
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
    this.lastDial.set(peer.peerId, Date.now());
    const { peerIdFromString } = await import('@libp2p/peer-id');
    const { multiaddr } = await import('@multiformats/multiaddr');
    let id;
    try {
      id = peerIdFromString(peer.peerId);
      const addrs = peer.addrs.map((a) => multiaddr(a));
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
    const st = this.peers.get(peerId);
    if (st.graceTimer) {
      clearTimeout(st.graceTimer);
      st.graceTimer = undefined;
      this.log?.('%s (%s) is back within the grace period', st.name, peerId);
    }
    void this.fetch(st);
  }

  private onDisconnect(peerId: string): void {
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

  private connected(peerId: string): boolean {
    return this.node!.getConnections().some(
      (c) => c.remotePeer.toString() === peerId && c.status === 'open',
    );
  }

  // ---- the fetch protocol ----

  private async serveFetch(stream: any): Promise<void> {
    const { lpStream } = await import('@libp2p/utils');
    const lp = lpStream(stream, { maxDataLength: MAX_FETCH_BYTES });
    const signal = AbortSignal.timeout(this.fetchTimeoutMs);
    try {
      const req = decodeFetchRequest((await lp.read({ signal })).subarray());
      let res: FetchResponse;
      if (req.cluster !== this.cluster) {
        res = this.response({
          error: `this agent is in cluster '${this.cluster}', not '${req.cluster}'`,
        });
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
    st.fetching = true;
    try {
      for (let attempt = 0; attempt < 3 && !this.stopping; attempt++) {
        if (!this.connected(st.id)) return;
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
      return this.refuse(
        st,
        undefined,
        new NotAllowedError(`peer ${st.id} refused us: ${res.error}`, { op: 'discovery' }),
      );
    }
    if (res.cluster !== this.cluster) {
      return this.refuse(
        st,
        undefined,
        new NotAllowedError(`peer ${st.id} is in cluster '${res.cluster}', not '${this.cluster}'`, {
          op: 'discovery',
        }),
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

  private onLocalChange(change: RegistrationChange): void {
    if (this.stopping || !this.node) return;
    this.seq += 1;
    // Registrations travel as partial metadata; a deregistration sends the
    // full metadata, which replaces what peers hold.
    const full = change.kind === 'deregister';
    const metadata = full ? this.host!.getLocalMD() : this.host!.getLocalPartialMD(change.descs);
    void this.publish({ kind: 'update', seq: this.seq, full, metadata }).catch((err) => {
      this.log?.('update %d not published: %s', this.seq, err?.message);
    });
  }

  private onGossip(msg: any): void {
    if (msg.topic !== this.topic) return;
    if (msg.type !== 'signed') return; // unsigned messages name no sender: never trusted
    const from: string = msg.from.toString();
    if (from === this.node!.peerId.toString()) return;
    let decoded;
    try {
      decoded = decodeGossip(msg.data);
    } catch (err) {
      return this.error(asNixlError(err, `gossip from peer ${from}`));
    }
    if (decoded.cluster !== this.cluster) return;
    const st = this.peers.get(from);
    const { body, agent } = decoded;

    if (body.kind === 'hello') {
      for (const p of body.peers) {
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
      return this.error(
        new NotAllowedError(
          `gossip ${body.kind} for agent '${agent}' came from peer ${from}, not its owner ${owner.id}; ignored`,
          { op: 'discovery', agent },
        ),
      );
    }
    if (st.status !== 'loaded') {
      // Not loaded yet: keep updates for after the fetch; a fetch also catches up.
      if (body.kind === 'update') st.pending.push(body);
      if (st.status === 'new' && this.connected(from)) void this.fetch(st);
      return;
    }
    if (st.name !== agent) {
      return this.error(
        new NotAllowedError(
          `peer ${from} owns '${st.name}' but gossiped about '${agent}'; ignored`,
          {
            op: 'discovery',
            agent,
          },
        ),
      );
    }
    if (body.kind === 'tombstone') return this.leave(st, 'tombstone');
    st.pending.push(body);
    this.applyPending(st);
  }

  /** Applies queued updates in sequence order; a gap means one was missed: refetch. */
  private applyPending(st: PeerState): void {
    if (st.status !== 'loaded') return;
    st.pending.sort((a, b) => a.seq - b.seq);
    while (st.pending.length) {
      const u = st.pending[0]!;
      if (u.seq <= st.seq) {
        st.pending.shift();
        continue;
      }
      if (u.seq > st.seq + 1) {
        st.pending.length = 0;
        void this.fetch(st);
        return;
      }
      st.pending.shift();
      const name = this.checkClaim(st, u.metadata, u.full);
      if (name === undefined) return;
      try {
        this.host!.loadRemoteMD(u.metadata);
      } catch (err) {
        this.error(asNixlError(err, `loading update ${u.seq} of '${name}'`));
        st.pending.length = 0;
        void this.fetch(st);
        return;
      }
      st.seq = u.seq;
      this.host!.emitPeerEvent('peer:update', name);
    }
  }

  /** Forgets a peer: invalidates its metadata and lets its name be claimed again. */
  private leave(st: PeerState, reason: string): void {
    const name = st.name;
    if (st.graceTimer) clearTimeout(st.graceTimer);
    st.graceTimer = undefined;
    st.pending.length = 0;
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
