import { checkNotifSize, maxNotifBytes, type Backend, type XferOp } from './backend.js';
import { DescList, type DescInput, type MemType } from './descriptors.js';
import {
  InvalidParamError,
  NotAllowedError,
  NotFoundError,
  RemoteDisconnectError,
  RepostActiveError,
  type NixlError,
} from './errors.js';
import type { LocalSection } from './local-section.js';
import { PreppedDlist, registryLookup, resolveDlist, selectDescs } from './prepped-dlist.js';
import type { RemoteSections } from './remote-sections.js';
import type { XferObserver } from './xfer-observer.js';
import { XferRequest, type XferOwner } from './xfer-request.js';

/** A descriptor list, or descriptors to make one of. */
export type DescsInput = DescList | readonly DescInput[];

/** The agent name that prepares a list for this agent's own side of a transfer. */
export const LOCAL_AGENT = '';

export function toBytes(msg: Uint8Array | string): Uint8Array {
  return typeof msg === 'string' ? Buffer.from(msg) : msg;
}

export function toDescList(input: DescsInput, memType: MemType = 'DRAM'): DescList {
  return input instanceof DescList ? input : DescList.from(memType, input);
}

/** What makeXferReq and createXferReq take besides the lists (Agent's XferOptions). */
export interface BuildOptions {
  backends?: readonly string[];
  notif?: Uint8Array | string;
  skipDescMerge?: boolean;
  customParam?: Uint8Array;
}

/** What request building needs of its agent. */
export interface XferBuilderOptions {
  readonly agentName: string;
  /** The agent's backends, in preference order (its live list). */
  readonly backends: readonly Backend[];
  readonly local: LocalSection;
  readonly remote: RemoteSections;
  /** Capture per-request timings (getXferTelemetry). */
  readonly telemetry: boolean;
  /** The agent's metrics (AgentOptions.metrics), told of each completion. */
  readonly observer?: XferObserver;
  /** AgentOptions.waitSpinUs. */
  readonly waitSpinUs: number;
  isClosed(): boolean;
  selectBackends(names: readonly string[] | undefined, ctx: object): readonly Backend[];
  /** A request found its peer disconnected and the peer was dropped ('peer:disconnect'). */
  onPeerDropped(name: string, err: NixlError): void;
}

/**
 * Builds transfer requests (NIXL's prepXferDlist, makeXferReq and
 * createXferReq) and keeps the live ones, for which it is the XferOwner:
 * a post checks the agent is open and the peer's generation unchanged, a
 * RemoteDisconnectError drops the peer, release forgets the request.
 */
export class XferBuilder implements XferOwner {
  readonly #o: XferBuilderOptions;
  readonly #requests = new Set<XferRequest>();

  constructor(opts: XferBuilderOptions) {
    this.#o = opts;
  }

  get agentName(): string {
    return this.#o.agentName;
  }

  get observer(): XferObserver | undefined {
    return this.#o.observer;
  }

  get waitSpinUs(): number {
    return this.#o.waitSpinUs;
  }

  get telemetry(): boolean {
    return this.#o.telemetry;
  }

  /** Live (unreleased) requests. */
  get size(): number {
    return this.#requests.size;
  }

  #checkOpen(op: string): void {
    if (this.#o.isClosed())
      throw new NotAllowedError('the agent is closed', { op, agent: this.#o.agentName });
  }

  /** Resolves descriptors against registered regions once (see Agent.prepXferDlist). */
  prepDlist(
    agent: string,
    descs: DescsInput,
    opts: { backends?: readonly string[]; memType?: MemType } = {},
  ): PreppedDlist {
    const ctx = { op: 'prepXferDlist', agent: this.#o.agentName };
    this.#checkOpen('prepXferDlist');
    if (typeof agent !== 'string')
      throw new InvalidParamError('agent must be a string ("" for local)', ctx);
    const list = toDescList(descs, opts.memType);
    const backends = this.#o.selectBackends(opts.backends, ctx);
    const registry = this.#o.local.registry(list.memType);
    if (agent === LOCAL_AGENT) {
      return new PreppedDlist(
        'local',
        LOCAL_AGENT,
        0,
        list,
        resolveDlist(
          list,
          registryLookup(registry, (r) => r.mds),
          backends,
          'locally',
        ),
      );
    }
    if (agent === this.#o.agentName) {
      const local = backends.filter((b) => b.capabilities.local);
      return new PreppedDlist(
        'loopback',
        agent,
        0,
        list,
        resolveDlist(
          list,
          registryLookup(registry, (r) => r.loopback),
          local,
          'locally (loopback)',
        ),
      );
    }
    const peer = this.#o.remote.get(agent);
    if (!peer) throw new NotFoundError(`no metadata loaded for '${agent}'`, ctx);
    const remote = backends.filter((b) => peer.conns.has(b));
    return new PreppedDlist(
      'remote',
      agent,
      peer.generation,
      list,
      resolveDlist(list, peer.regions.get(list.memType), remote, `by '${agent}'`),
    );
  }

  /** A request from prepared lists and index lists (see Agent.makeXferReq). */
  make(
    op: XferOp,
    local: PreppedDlist,
    localIndices: ArrayLike<number>,
    remote: PreppedDlist,
    remoteIndices: ArrayLike<number>,
    opts: BuildOptions,
    opName: string,
  ): XferRequest {
    const ctx = { op: opName, agent: this.#o.agentName };
    this.#checkOpen(opName);
    if (op !== 'READ' && op !== 'WRITE')
      throw new InvalidParamError(`op must be 'READ' or 'WRITE', got '${String(op)}'`, ctx);
    if (!(local instanceof PreppedDlist) || !(remote instanceof PreppedDlist))
      throw new InvalidParamError('expected prepared lists', ctx);
    if (local.side !== 'local')
      throw new InvalidParamError(
        'the first list must be prepared for the local side (agent "")',
        ctx,
      );
    if (remote.side === 'local')
      throw new InvalidParamError('the second list must be prepared for a target agent', ctx);
    if (local.released || remote.released)
      throw new InvalidParamError('a prepared list was released', ctx);
    const n = localIndices?.length ?? -1;
    if (n <= 0 || remoteIndices?.length !== n) {
      throw new InvalidParamError(
        `index lists must be non-empty and of equal length (got ${n} and ${remoteIndices?.length})`,
        ctx,
      );
    }
    for (let k = 0; k < n; k++) {
      const i = localIndices[k]!;
      const j = remoteIndices[k]!;
      if (!Number.isInteger(i) || i < 0 || i >= local.count)
        throw new InvalidParamError(
          `local index ${i} at ${k} is out of range 0..${local.count - 1}`,
          ctx,
        );
      if (!Number.isInteger(j) || j < 0 || j >= remote.count)
        throw new InvalidParamError(
          `remote index ${j} at ${k} is out of range 0..${remote.count - 1}`,
          ctx,
        );
    }
    if (remote.side === 'remote')
      this.#o.remote.checkGeneration(remote.agent, remote.generation, opName);
    const backend = this.#chooseBackend(local, remote, opts.backends, ctx);
    // Refused before the backend prepares anything: no handle, no request.
    const notif = opts.notif === undefined ? undefined : toBytes(opts.notif);
    if (notif) checkNotifSize(notif, maxNotifBytes(backend), { ...ctx, backend: backend.type });
    const { local: l, remote: r } = selectDescs(
      backend,
      local,
      localIndices,
      remote,
      remoteIndices,
      !opts.skipDescMerge,
    );
    let total = 0;
    for (let i = 0; i < l.count; i++) total += l.lens[i]!;
    const handle = backend.prepXfer(op, l, r, remote.agent, { customParam: opts.customParam });
    const req = new XferRequest(
      this,
      op,
      remote.agent,
      backend,
      handle,
      remote.generation,
      l.count,
      total,
      notif,
    );
    if (this.#o.telemetry) req.captureTelemetry();
    this.#requests.add(req);
    return req;
  }

  /** A request from two descriptor lists, unmerged (see Agent.createXferReq). */
  create(
    op: XferOp,
    local: DescsInput,
    remote: DescsInput,
    remoteAgent: string,
    opts: BuildOptions,
    opName: string,
  ): XferRequest {
    const ctx = { op: opName, agent: this.#o.agentName };
    this.#checkOpen(opName);
    if (typeof remoteAgent !== 'string' || remoteAgent === LOCAL_AGENT)
      throw new InvalidParamError('a target agent name is required', ctx);
    const l = toDescList(local);
    const r = toDescList(remote, l.memType);
    if (l.length !== r.length)
      throw new InvalidParamError(`local has ${l.length} descriptors, remote ${r.length}`, ctx);
    for (let i = 0; i < l.length; i++) {
      if (l.lens[i] !== r.lens[i])
        throw new InvalidParamError(
          `descriptor ${i}: local length ${l.lens[i]} != remote length ${r.lens[i]}`,
          ctx,
        );
    }
    const lp = this.prepDlist(LOCAL_AGENT, l, opts);
    const rp = this.prepDlist(remoteAgent, r, opts);
    const idx = new Uint32Array(l.length);
    for (let i = 0; i < idx.length; i++) idx[i] = i;
    return this.make(
      op,
      lp,
      idx,
      rp,
      idx,
      { ...opts, skipDescMerge: opts.skipDescMerge ?? true },
      opName,
    );
  }

  #chooseBackend(
    local: PreppedDlist,
    remote: PreppedDlist,
    names: readonly string[] | undefined,
    ctx: object,
  ): Backend {
    const order = names ? this.#o.selectBackends(names, ctx) : this.#o.backends;
    for (const b of order) {
      if (local.candidates.has(b) && remote.candidates.has(b)) return b;
    }
    throw new NotFoundError('no backend was prepared on both sides of this request', ctx);
  }

  /** Releases every live request (the agent is closing). */
  releaseAll(): void {
    for (const req of [...this.#requests]) req.release();
  }

  // ------------------------------------------------------------- XferOwner

  checkPostable(req: XferRequest): void {
    const ctx = { op: 'postXferReq', agent: this.#o.agentName };
    this.#checkOpen('postXferReq');
    if (req.released) throw new InvalidParamError('the request was released', ctx);
    if (req.active)
      throw new RepostActiveError('the previous post of this request is still in progress', {
        ...ctx,
        backend: req.backend.type,
      });
    if (req.remoteAgent !== this.#o.agentName)
      this.#o.remote.checkGeneration(req.remoteAgent, req.generation, 'postXferReq');
  }

  onXferError(req: XferRequest, err: NixlError): void {
    // Only the generation the request was made against is dropped.
    if (
      err instanceof RemoteDisconnectError &&
      this.#o.remote.dropFailed(req.remoteAgent, req.generation)
    ) {
      this.#o.onPeerDropped(req.remoteAgent, err);
    }
  }

  forget(req: XferRequest): void {
    this.#requests.delete(req);
  }
}
