import type { Agent, XferOptions } from '../agent.js';
import type { XferOp } from '../backend.js';
import { DescList } from '../descriptors.js';
import { InvalidParamError, NotAllowedError, NotFoundError } from '../errors.js';
import { toRegDescList, type RawRegion } from '../memory-input.js';
import type { PreppedDlist } from '../prepped-dlist.js';
import type { Registration } from '../registration.js';
import type { XferRequest } from '../xfer-request.js';
import { BlockIdChecker, blockPairs } from './block-transfer.js';
import { checkCompatible, kvCompatHash } from './compat.js';
import {
  closedLayoutLabel,
  decodeLayout,
  encodeLayout,
  KvLayout,
  type KvLayoutSpec,
} from './layout.js';

/** The label a cache publishes its layout under unless told otherwise. */
export const DEFAULT_KV_LABEL = 'kv-layout';

export interface KvCacheOptions {
  /** Metadata label of the layout; one cache per label per agent (default 'kv-layout'). */
  label?: string;
  /** The cache's memory, one entry per region of the layout; allocated here when absent. */
  regions?: ReadonlyArray<ArrayBufferView | RawRegion>;
  /** Backends to register with and transfer over (default: all that take the memory). */
  backends?: readonly string[];
}

export interface BlockXferOptions {
  /** Delivered to the peer once the blocks' data is visible there. */
  notif?: Uint8Array | string;
  /** Only these layers, [start, end) (default: all): layer-wise transfers as prefill computes. */
  layers?: { start: number; end: number };
}

/** What a cache knows of a peer's cache: its layout and the prepared list of its slices. */
interface PeerCache {
  readonly layout: KvLayout;
  readonly dlist: PreppedDlist;
  readonly check: BlockIdChecker;
}

// Caches by agent and label, so that a loopback transfer finds its sibling's layout.
const caches = new WeakMap<Agent, Map<string, KvCache>>();

/**
 * A paged KV cache registered with an agent: its layout is published with the
 * agent's metadata under a label, its slices are prepared once, and blocks
 * move to and from peers by block id (never by address).
 */
export class KvCache {
  readonly agent: Agent;
  readonly layout: KvLayout;
  readonly label: string;
  readonly registration: Registration;
  /** Base address of each region. */
  readonly bases: Float64Array;
  /** The bytes of each region where JavaScript can see them (memory allocated here, or given as buffers). */
  readonly views: readonly (Uint8Array | undefined)[];
  readonly #backends: readonly string[] | undefined;
  readonly #localDlist: PreppedDlist;
  readonly #check: BlockIdChecker;
  readonly #peers = new Map<string, PeerCache>();
  readonly #onLoaded = (name: string) => this.#dropPeer(name);
  #closed = false;

  private constructor(
    agent: Agent,
    layout: KvLayout,
    label: string,
    registration: Registration,
    backends: readonly string[] | undefined,
  ) {
    this.agent = agent;
    this.layout = layout;
    this.label = label;
    this.registration = registration;
    this.#backends = backends;
    const descs = registration.descs;
    this.bases = descs.addrs.slice(0, descs.length);
    this.views = descs.views.slice();
    const addrs = layout.sliceAddresses(this.bases);
    this.#localDlist = agent.prepXferDlist('', sliceList(layout, addrs), { backends });
    this.#check = new BlockIdChecker(layout.blocks);
    agent.on('metadata:loaded', this.#onLoaded);
    agent.on('peer:disconnect', this.#onLoaded);
  }

  /** Registers a KV cache of the given layout with the agent and publishes the layout. */
  static create(agent: Agent, layout: KvLayout | KvLayoutSpec, opts: KvCacheOptions = {}): KvCache {
    const l = layout instanceof KvLayout ? layout : new KvLayout(layout);
    const label = opts.label ?? DEFAULT_KV_LABEL;
    if (typeof label !== 'string' || label.length === 0)
      throw new InvalidParamError('KvCache: the label must be a non-empty string');
    let byLabel = caches.get(agent);
    if (byLabel?.has(label))
      throw new InvalidParamError(
        `KvCache: agent '${agent.name}' has a cache labelled '${label}' already`,
      );
    let memory: ReadonlyArray<ArrayBufferView | RawRegion>;
    if (opts.regions) {
      if (opts.regions.length !== l.regionCount)
        throw new InvalidParamError(
          `KvCache: the ${l.arrangement} arrangement needs ${l.regionCount} regions, got ${opts.regions.length}`,
        );
      opts.regions.forEach((r, i) => {
        const len = ArrayBuffer.isView(r) ? r.byteLength : r.len;
        if (len !== l.regionBytes)
          throw new InvalidParamError(
            `KvCache: region ${i} has ${len} bytes, the layout needs ${l.regionBytes}`,
          );
      });
      memory = opts.regions;
    } else {
      if (l.memType !== 'DRAM')
        throw new InvalidParamError(`KvCache: ${l.memType} memory must be given in opts.regions`);
      memory = Array.from({ length: l.regionCount }, () => agent.alloc(l.regionBytes).buffer);
    }
    const list = toRegDescList(memory as ArrayBufferView[], l.memType);
    // Published before the memory is registered, so that any metadata that
    // carries the regions (e.g. sent by discovery on registration) carries the layout too.
    agent.setLabel(
      label,
      encodeLayout(l, list.addrs.subarray(0, list.length), kvCompatHash(l.compatFields())),
    );
    let registration: Registration | undefined;
    let cache: KvCache;
    try {
      registration = agent.registerMem(list, { backends: opts.backends, memType: l.memType });
      cache = new KvCache(agent, l, label, registration, opts.backends);
    } catch (err) {
      registration?.close();
      agent.setLabel(label, closedLayoutLabel());
      throw err;
    }
    if (!byLabel) caches.set(agent, (byLabel = new Map()));
    byLabel.set(label, cache);
    return cache;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The bytes of one slice (a block of one layer and plane), where visible. */
  sliceView(layer: number, plane: number, block: number): Uint8Array {
    const { region, offset } = this.layout.locate(layer, plane, block);
    const v = this.views[region];
    if (!v) throw new NotAllowedError('KvCache: this region is not visible to JavaScript');
    return v.subarray(offset, offset + this.layout.blockBytes);
  }

  /**
   * Partial metadata for peers: connection info, this cache's regions and
   * its layout label. A peer passes it to its own cache's loadPeer.
   */
  getMetadata(opts: { includeConnInfo?: boolean } = {}): Uint8Array {
    this.#checkOpen('kv.getMetadata');
    return this.agent.getLocalPartialMD(this.registration, {
      labels: [this.label],
      includeConnInfo: opts.includeConnInfo ?? true,
      backends: this.#backends,
    });
  }

  /** Loads a peer's metadata (full, or a peer cache's getMetadata) and connects to its cache. */
  loadPeer(blob: Uint8Array, opts: { label?: string } = {}): string {
    this.#checkOpen('kv.loadPeer');
    const name = this.agent.loadRemoteMD(blob);
    this.connectPeer(name, opts);
    return name;
  }

  /**
   * Reads a peer's published layout from its loaded metadata (or, for this
   * agent's own name, a sibling cache's), refuses it if incompatible, and
   * prepares its slices once. Metadata loaded later for the peer drops this
   * (the next transfer connects again).
   */
  connectPeer(name: string, opts: { label?: string } = {}): KvLayout {
    const ctx = { op: 'kv.connectPeer', agent: this.agent.name };
    this.#checkOpen(ctx.op);
    const label = opts.label ?? this.label;
    let published;
    if (name === this.agent.name) {
      const sibling = caches.get(this.agent)?.get(label);
      if (!sibling || sibling.closed)
        throw new NotFoundError(`no KV cache labelled '${label}' on this agent`, ctx);
      published = {
        layout: sibling.layout,
        bases: Array.from(sibling.bases),
        compatHash: kvCompatHash(sibling.layout.compatFields()),
      };
    } else {
      if (!this.agent.remoteAgents.includes(name))
        throw new NotFoundError(`no metadata loaded for '${name}'`, ctx);
      const bytes = this.agent.getRemoteLabel(name, label);
      if (!bytes)
        throw new NotFoundError(`'${name}' published no KV layout under label '${label}'`, ctx);
      published = decodeLayout(bytes, `'${name}'`);
    }
    checkCompatible(this.layout, published, name);
    const addrs = published.layout.sliceAddresses(published.bases);
    let dlist: PreppedDlist;
    try {
      dlist = this.agent.prepXferDlist(name, sliceList(published.layout, addrs), {
        backends: this.#backends,
      });
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      throw new NotFoundError(
        `the KV regions of '${name}' are not in its loaded metadata (load the metadata its cache's getMetadata() returns): ${(err as Error).message}`,
        { ...ctx, cause: err },
      );
    }
    this.#dropPeer(name);
    this.#peers.set(name, {
      layout: published.layout,
      dlist,
      check: new BlockIdChecker(published.layout.blocks),
    });
    return published.layout;
  }

  /** The layout of a connected peer's cache, or undefined. */
  peerLayout(name: string): KvLayout | undefined {
    return this.#peers.get(name)?.layout;
  }

  /**
   * A request (not yet posted) moving blocks: READ fills local blocks from the
   * peer's, WRITE fills the peer's from local ones; localIds[k] pairs with
   * remoteIds[k]. Runs of consecutive ids on both sides become one descriptor
   * per slice run. O(blocks × layers × planes), independent of block size.
   */
  makeBlockXfer(
    op: XferOp,
    localIds: ArrayLike<number>,
    peer: string,
    remoteIds: ArrayLike<number>,
    opts: BlockXferOptions = {},
  ): XferRequest {
    this.#checkOpen('kv.transferBlocks');
    if (op !== 'READ' && op !== 'WRITE')
      throw new InvalidParamError(`op must be 'READ' or 'WRITE', got '${String(op)}'`, {
        op: 'kv.transferBlocks',
      });
    const p = this.#peers.get(peer) ?? (this.connectPeer(peer), this.#peers.get(peer)!);
    const { lidx, ridx } = blockPairs(
      op,
      this.layout,
      localIds,
      this.#check,
      p.layout,
      remoteIds,
      p.check,
      opts.layers,
    );
    const xo: XferOptions = { backends: this.#backends };
    if (opts.notif !== undefined) xo.notif = opts.notif;
    return this.agent.makeXferReq(op, this.#localDlist, lidx, p.dlist, ridx, xo);
  }

  /** Builds, posts and awaits a block transfer, releasing the request whatever happens. */
  async transferBlocks(
    op: XferOp,
    localIds: ArrayLike<number>,
    peer: string,
    remoteIds: ArrayLike<number>,
    opts: BlockXferOptions & { signal?: AbortSignal } = {},
  ): Promise<void> {
    opts.signal?.throwIfAborted();
    const req = this.makeBlockXfer(op, localIds, peer, remoteIds, opts);
    try {
      if (this.agent.postXferReq(req) === 'DONE') return;
      await req.wait({ signal: opts.signal });
    } finally {
      req.release();
    }
  }

  /** Releases prepared lists, deregisters the memory and marks the published layout closed. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.agent.off('metadata:loaded', this.#onLoaded);
    this.agent.off('peer:disconnect', this.#onLoaded);
    for (const name of [...this.#peers.keys()]) this.#dropPeer(name);
    this.#localDlist.release();
    this.registration.close();
    // Labels cannot be removed: leave a tombstone so peers get a clear error.
    if (!this.agent.closed) this.agent.setLabel(this.label, closedLayoutLabel());
    const byLabel = caches.get(this.agent);
    if (byLabel?.get(this.label) === this) byLabel.delete(this.label);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #dropPeer(name: string): void {
    const p = this.#peers.get(name);
    if (!p) return;
    this.#peers.delete(name);
    p.dlist.release();
  }

  #checkOpen(op: string): void {
    if (this.#closed)
      throw new NotAllowedError('the KV cache is closed', { op, agent: this.agent.name });
  }
}

function sliceList(layout: KvLayout, addrs: Float64Array): DescList {
  const n = addrs.length;
  const lens = new Float64Array(n).fill(layout.blockBytes);
  const devIds = new Float64Array(n).fill(layout.devId);
  return DescList.fromArrays(layout.memType, addrs, lens, devIds);
}
