import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';

import {
  checkNotifSize,
  maxNotifBytes,
  missingMethods,
  type Backend,
  type BackendComponents,
  type BackendParams,
  type BackendPlugin,
  type XferOp,
} from './backend.js';
import { DescList, MEM_TYPES, type MemType } from './descriptors.js';
import { isMetadataStore, type Discovery, type MetadataStore } from './discovery.js';
import {
  BackendError,
  InvalidParamError,
  NixlError,
  NoTelemetryError,
  NotAllowedError,
  NotFoundError,
  NotPostedError,
  NotSupportedError,
} from './errors.js';
import { hostIdentity } from './host-identity.js';
import { LocalSection } from './local-section.js';
import { createLogger, isLogSink, type Logger, type LogSink } from './logger.js';
import type { AgentMetrics, NixlMetrics } from './metrics.js';
import { toRegDescList, type MemoryInput } from './memory-input.js';
import { AGENT_ID_BYTES } from './metadata.js';
import { MetadataContext } from './metadata-context.js';
import { native } from './native.js';
import { NotifQueue } from './notif-queue.js';
import { PluginManager } from './plugin-manager.js';
import type { PreppedDlist } from './prepped-dlist.js';
import { Registration } from './registration.js';
import { RemoteSections } from './remote-sections.js';
import type { XferState } from './status.js';
import { checkVramRegions, VramAllocation } from './vram.js';
import { waitAbortedError } from './wait-aborted.js';
import { toBytes, toDescList, XferBuilder, type DescsInput } from './xfer-builder.js';
import { XferRequest, type XferTelemetry } from './xfer-request.js';

/** A backend to create at agent creation: its plugin name and parameters. */
export interface BackendSpec {
  type: string;
  params?: BackendParams;
}

export interface AgentOptions {
  /** Unique among the agents that talk to each other. */
  name: string;
  /** Backends to create, in preference order. Default: none (call createBackend). */
  backends?: ReadonlyArray<string | BackendSpec>;
  /** Extra directories to scan for plugins, besides NIXL_TS_PLUGIN_PATH. */
  pluginPaths?: readonly string[];
  /** Plugin modules to load by specifier or path. */
  plugins?: readonly string[];
  /** Capture per-request timings for getXferTelemetry (default: NIXL_TELEMETRY_ENABLE). */
  captureTelemetry?: boolean;
  /** Discovery services to start once the backends exist. */
  discovery?: Discovery | readonly Discovery[];
  /**
   * The most regions (all memory types together) this agent keeps for one
   * peer; metadata that would leave a peer with more is refused with
   * MismatchError and loads nothing. Default DEFAULT_MAX_REMOTE_REGIONS.
   */
  maxRemoteRegions?: number;
  /**
   * Where the agent's log lines go (console, pino, winston...): every level
   * is handed over unless NIXL_LOG_LEVEL is set. Default: stderr, at
   * NIXL_LOG_LEVEL (WARN).
   */
  logger?: LogSink;
  /**
   * A prom-client Registry to report nixl_* metrics into (see
   * nixl-ts/metrics); needs the optional peer dependency prom-client.
   */
  metrics?: MetricsRegistry;
  /**
   * How long `XferRequest.wait()` (and `await req.done`) may poll the status
   * of a request whose recent posts finished that fast, before it waits for
   * the completion event, in µs (default DEFAULT_WAIT_SPIN_US; 0: never poll).
   * A small transfer's answer is then read on the waiting thread, with no
   * wake-up of the backend's thread and of the event loop. Bounded: it polls
   * until this long after the post at most, and not at all for a request
   * whose recent posts took longer than this.
   */
  waitSpinUs?: number;
}

/** Default of AgentOptions.waitSpinUs. */
export const DEFAULT_WAIT_SPIN_US = 100;

/** The part of a prom-client Registry the agent relies on (prom-client stays optional). */
export interface MetricsRegistry {
  registerMetric(metric: never): void;
  getSingleMetric(name: string): unknown;
}

/** Default of AgentOptions.maxRemoteRegions (see README: bounded costs). */
export const DEFAULT_MAX_REMOTE_REGIONS = 1_000_000;

export interface BackendSelection {
  /** Restrict (or order) the backends used, by plugin name. */
  backends?: readonly string[];
}

export interface XferOptions extends BackendSelection {
  /** A notification delivered to the target after the data. */
  notif?: Uint8Array | string;
  /** Turn off merging of contiguous descriptors in makeXferReq. */
  skipDescMerge?: boolean;
  customParam?: Uint8Array;
}

export interface PostOptions {
  /** Replaces the request's notification for this and later posts; null clears it. */
  notif?: Uint8Array | string | null;
}

export interface PartialMDOptions extends BackendSelection {
  /** Include connection info when descriptors are given (always included for none). */
  includeConnInfo?: boolean;
  /** Application labels (see setLabel) to include. */
  labels?: readonly string[];
}

/** The label that full metadata is published under in a metadata store (NIXL's default). */
export const DEFAULT_METADATA_LABEL = 'metadata';

interface AgentEvents {
  notif: [agent: string, msg: Uint8Array];
  'peer:join': [name: string];
  'peer:update': [name: string];
  'peer:leave': [name: string];
  /** A backend reported that a peer failed; its metadata was dropped. */
  'peer:disconnect': [name: string, error: NixlError];
  /** Any metadata load (full or partial) for a peer. */
  'metadata:loaded': [name: string];
  'discovery:error': [error: NixlError];
}

/**
 * A transfer agent: one per process, with a unique name. It owns backends,
 * the memory it registered, and what it knows of its peers. NIXL's method
 * names are kept; the promise-based helpers on top are documented as such.
 *
 * This class is the facade: it checks that the agent is open, selects
 * backends, and delegates to the parts (see src/README.md): the local
 * memory section, the remote sections, the metadata context, request
 * building and the notification queue.
 */
export class Agent extends EventEmitter<AgentEvents> {
  readonly name: string;
  /** Random per start: peers tell a restarted agent from the old one. */
  readonly agentId: Uint8Array;
  readonly hostId: string;
  readonly log: Logger;
  readonly #plugins: PluginManager;
  readonly #backends: Backend[] = [];
  readonly #local = new LocalSection();
  readonly #remote: RemoteSections;
  readonly #meta: MetadataContext;
  readonly #xfers: XferBuilder;
  readonly #notifs: NotifQueue;
  readonly #discovery: Discovery[] = [];
  readonly #metrics: AgentMetrics | undefined;
  #closed = false;
  /** Device memory from alloc({ memType: 'VRAM' }) not yet freed. */
  readonly #vram = new Set<VramAllocation>();
  #closing: Promise<void> | undefined;

  private constructor(
    name: string,
    log: Logger,
    plugins: PluginManager,
    maxRemoteRegions: number,
    telemetry: boolean,
    metrics: NixlMetrics | undefined,
    waitSpinUs: number,
  ) {
    super();
    this.name = name;
    this.agentId = randomBytes(AGENT_ID_BYTES);
    this.hostId = hostIdentity();
    this.log = log;
    this.#plugins = plugins;
    this.#metrics = metrics?.attach(name, {
      memoryRegistered: () => this.#memoryByBackend(),
      peersConnected: () => this.#peersByBackend(),
    });
    const checkOpen = (op: string) => this.#checkOpen(op);
    const isClosed = () => this.#closed;
    const selectBackends = (names: readonly string[] | undefined, ctx: object) =>
      this.#selectBackends(names, ctx);
    this.#remote = new RemoteSections({
      agentName: name,
      backends: this.#backends,
      maxRegions: maxRemoteRegions,
      log: this.log,
    });
    this.#remote.onLoaded((peer) => this.emit('metadata:loaded', peer));
    this.#meta = new MetadataContext({
      name,
      agentId: this.agentId,
      hostId: this.hostId,
      log: this.log.extend('discovery'),
      backends: this.#backends,
      local: this.#local,
      remote: this.#remote,
      checkOpen,
      isClosed,
      selectBackends,
      emit: (kind, peer) => this.emit(kind, peer),
      emitError: (error) => this.emit('discovery:error', error),
    });
    this.#xfers = new XferBuilder({
      agentName: name,
      backends: this.#backends,
      local: this.#local,
      remote: this.#remote,
      telemetry,
      waitSpinUs,
      observer: this.#metrics,
      isClosed,
      selectBackends,
      onPeerDropped: (peer, err) => this.emit('peer:disconnect', peer, err),
    });
    this.#notifs = new NotifQueue({
      active: () => this.listenerCount('notif') > 0,
      emit: (agent, msg) => this.emit('notif', agent, msg),
    });
  }

  /** Creates an agent and its backends (NIXL's nixlAgent constructor + createBackend calls). */
  static async create(opts: AgentOptions): Promise<Agent> {
    if (!opts || typeof opts.name !== 'string' || opts.name.length === 0) {
      throw new InvalidParamError('Agent.create: a non-empty name is required');
    }
    if (opts.name.length > 1024)
      throw new InvalidParamError('Agent.create: name longer than 1024 characters');
    const maxRemoteRegions = opts.maxRemoteRegions ?? DEFAULT_MAX_REMOTE_REGIONS;
    if (!Number.isSafeInteger(maxRemoteRegions) || maxRemoteRegions < 0) {
      throw new InvalidParamError(
        `Agent.create: maxRemoteRegions must be a non-negative integer, got ${opts.maxRemoteRegions}`,
      );
    }
    const waitSpinUs = opts.waitSpinUs ?? DEFAULT_WAIT_SPIN_US;
    if (typeof waitSpinUs !== 'number' || !(waitSpinUs >= 0 && waitSpinUs <= 1_000_000)) {
      throw new InvalidParamError(
        `Agent.create: waitSpinUs must be a number of µs from 0 to 1000000, got ${String(opts.waitSpinUs)}`,
      );
    }
    if (opts.logger !== undefined && !isLogSink(opts.logger))
      throw new InvalidParamError(
        'Agent.create: logger must have error, warn, info, debug and trace methods',
      );
    const log = createLogger(`nixl:agent:${opts.name}`, opts.logger);
    // Imported only when asked for: prom-client is an optional peer dependency.
    const metrics = opts.metrics
      ? (await import('./metrics.js')).registerMetrics(opts.metrics as never)
      : undefined;
    const plugins = await PluginManager.create(opts.pluginPaths, log.extend('plugins'));
    for (const spec of opts.plugins ?? []) await plugins.load(spec);
    const telemetry =
      opts.captureTelemetry ??
      /^(1|y|yes|on|true|enable)$/i.test(process.env.NIXL_TELEMETRY_ENABLE ?? '');
    const agent = new Agent(
      opts.name,
      log,
      plugins,
      maxRemoteRegions,
      telemetry,
      metrics,
      waitSpinUs,
    );
    try {
      for (const b of opts.backends ?? []) {
        const spec = typeof b === 'string' ? { type: b } : b;
        await agent.createBackend(spec.type, spec.params);
      }
      const discovery =
        opts.discovery === undefined
          ? []
          : Array.isArray(opts.discovery)
            ? opts.discovery
            : [opts.discovery];
      for (const d of discovery as Discovery[]) {
        await d.start(agent.#meta);
        agent.#discovery.push(d);
      }
    } catch (err) {
      await agent.close();
      throw err;
    }
    return agent;
  }

  // ---------------------------------------------------------------- plugins

  /** Names of the backend plugins that can be created here. */
  getAvailPlugins(): string[] {
    return this.#plugins.names();
  }

  /** A plugin's memory types and default parameters. */
  getPluginParams(type: string): { mems: MemType[]; params: BackendParams } {
    const p = this.#plugins.get(type);
    return { mems: [...p.mems], params: { ...p.defaultParams } };
  }

  /** Loads an external backend plugin by module specifier or path; returns its name. */
  async loadPlugin(pathOrSpecifier: string): Promise<string> {
    this.#checkOpen('loadPlugin');
    return this.#plugins.load(pathOrSpecifier);
  }

  /** Adds a plugin object directly (e.g. one defined in a test or an application). */
  addPlugin(plugin: BackendPlugin): void {
    this.#checkOpen('addPlugin');
    this.#plugins.add(plugin);
  }

  /** Creates one backend of a type; creation order is preference order. */
  async createBackend(type: string, params: BackendParams = {}): Promise<Backend> {
    this.#checkOpen('createBackend');
    if (this.#backends.some((b) => b.type === type)) {
      throw new InvalidParamError(`a ${type} backend exists already (one per type)`, {
        op: 'createBackend',
        agent: this.name,
      });
    }
    const plugin = this.#plugins.get(type);
    for (const [k, v] of Object.entries(params)) {
      if (typeof v !== 'string')
        throw new InvalidParamError(`parameter '${k}' must be a string`, {
          op: 'createBackend',
          backend: type,
        });
    }
    let backend: Backend;
    try {
      backend = await plugin.create({ ...plugin.defaultParams, ...params }, this.#components(type));
    } catch (err) {
      if (err instanceof NixlError) throw err;
      throw new BackendError(
        `plugin failed to create the backend: ${(err as Error)?.message ?? err}`,
        {
          op: 'createBackend',
          agent: this.name,
          backend: type,
          cause: err,
        },
      );
    }
    if (backend.capabilities.remote && !backend.capabilities.notif) {
      await backend.close();
      throw new BackendError('a remote-capable backend must support notifications', {
        op: 'createBackend',
        backend: type,
      });
    }
    const missing = missingMethods(backend);
    if (missing.length > 0) {
      await backend.close();
      throw new BackendError(
        `the backend declares capabilities without their methods (${missing.join(', ')})`,
        { op: 'createBackend', backend: type },
      );
    }
    const limit = backend.maxNotifBytes;
    if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0)) {
      await backend.close();
      throw new BackendError(`maxNotifBytes must be a non-negative integer, got ${limit}`, {
        op: 'createBackend',
        backend: type,
      });
    }
    if (this.#closed) {
      await backend.close();
      this.#checkOpen('createBackend');
    }
    this.#backends.push(backend);
    return backend;
  }

  /** The backends of this agent, in preference order. */
  get backends(): readonly Backend[] {
    return this.#backends;
  }

  getBackendParams(type: string): { mems: MemType[]; params: BackendParams } {
    const b = this.#backend(type, 'getBackendParams');
    return { mems: [...b.capabilities.mems], params: { ...b.params } };
  }

  // ----------------------------------------------------------------- memory

  /**
   * Page-aligned native memory, zeroed, freed when the Buffer is collected.
   * Returns the buffer and its descriptor; register it to transfer it.
   * With `backend`, that backend allocates it, for a path only its own memory
   * gets (UCX: shared memory that peers on this host map, so put and get are
   * plain copies; see backends/ucx/README.md).
   */
  alloc(
    bytes: number,
    opts?: { backend?: string; memType?: 'DRAM' },
  ): { buffer: Buffer; desc: { addr: bigint; len: number; devId: number } };
  /**
   * Device memory on CUDA device `devId` (cuMemAlloc), not zeroed. Free it
   * with `free()`; the agent frees what is left when it closes. Throws
   * NotSupportedError, with the reason, where there is no CUDA driver or device.
   */
  alloc(bytes: number, opts: { memType: 'VRAM'; devId?: number }): VramAllocation;
  alloc(
    bytes: number,
    opts: { backend?: string; memType?: 'DRAM' | 'VRAM'; devId?: number } = {},
  ): { buffer: Buffer; desc: { addr: bigint; len: number; devId: number } } | VramAllocation {
    const ctx = { op: 'alloc', agent: this.name };
    this.#checkOpen('alloc');
    if (!Number.isSafeInteger(bytes) || bytes < 0)
      throw new InvalidParamError(`alloc: bad byte count ${bytes}`, ctx);
    if (opts.memType !== undefined && opts.memType !== 'DRAM' && opts.memType !== 'VRAM')
      throw new InvalidParamError(
        `alloc: memType must be DRAM or VRAM, not '${String(opts.memType)}'`,
        ctx,
      );
    if (opts.memType === 'VRAM') {
      if (opts.backend !== undefined)
        throw new InvalidParamError(
          'alloc: VRAM comes from the CUDA driver, not from a backend',
          ctx,
        );
      const a = new VramAllocation(bytes, opts.devId ?? 0, (x) => this.#vram.delete(x), ctx);
      this.#vram.add(a);
      return a;
    }
    let buffer: Buffer;
    if (opts.backend === undefined) {
      buffer = native().alloc(bytes);
    } else {
      const [b] = this.#selectBackends([opts.backend], ctx);
      if (!b!.alloc)
        throw new NotSupportedError(`the ${b!.type} backend does not allocate memory`, ctx);
      buffer = b!.alloc(bytes);
    }
    return { buffer, desc: { addr: native().addressOf(buffer), len: bytes, devId: 0 } };
  }

  /**
   * Registers memory with every backend that supports its type (or those
   * named), best effort: it succeeds if at least one backend took it.
   * Buffers are held until deregistered.
   */
  registerMem(
    input: MemoryInput,
    opts: BackendSelection & { memType?: MemType } = {},
  ): Registration {
    const ctx = { op: 'registerMem', agent: this.name };
    this.#checkOpen('registerMem');
    const list = toRegDescList(input, opts.memType);
    const selected = this.#selectBackends(opts.backends, ctx);
    const candidates = selected.filter((b) => b.capabilities.mems.includes(list.memType));
    if (candidates.length === 0)
      throw new NotFoundError(
        `no backend supports ${list.memType} memory` + whyNot(selected, list.memType),
        ctx,
      );
    // Device pointers are checked with the driver before any backend sees them.
    if (list.memType === 'VRAM') checkVramRegions(list, ctx);
    const regions = this.#local.register(list, candidates, ctx);
    this.#meta.notifyRegistration('register', regions);
    return new Registration(this, list, regions);
  }

  /**
   * Deregisters memory. Each descriptor must equal a registered region
   * exactly; with `backends`, only those backends drop it.
   */
  deregisterMem(
    input: Registration | DescList | MemoryInput,
    opts: BackendSelection & { memType?: MemType } = {},
  ): void {
    const ctx = { op: 'deregisterMem', agent: this.name };
    this.#checkOpen('deregisterMem');
    const list =
      input instanceof Registration
        ? input.descs
        : input instanceof DescList
          ? input
          : toRegDescList(input, opts.memType);
    const only = opts.backends ? new Set(this.#selectBackends(opts.backends, ctx)) : undefined;
    const regions = this.#local.deregister(list, only, ctx);
    if (input instanceof Registration) input.markClosed();
    this.#meta.notifyRegistration('deregister', regions);
  }

  /** Backend-specific facts about registered or candidate memory (exactly one backend). */
  queryMem(
    input: MemoryInput,
    opts: { backend: string; memType?: MemType },
  ): (Record<string, string> | undefined)[] {
    this.#checkOpen('queryMem');
    const b = this.#backend(opts?.backend, 'queryMem');
    if (!b.queryMem)
      throw new NotSupportedError('this backend does not answer queryMem', {
        op: 'queryMem',
        backend: b.type,
      });
    return LocalSection.query(b, toRegDescList(input, opts.memType));
  }

  // --------------------------------------------------------------- metadata

  /** This agent's full metadata: connection info and every registered region's public data. */
  getLocalMD(): Uint8Array {
    return this.#meta.getLocalMD();
  }

  /**
   * Partial metadata: with no descriptors, connection info only; with
   * descriptors (which must match registrations exactly), just those regions,
   * plus connection info if asked.
   */
  getLocalPartialMD(
    descs?: Registration | DescList | null,
    opts: PartialMDOptions = {},
  ): Uint8Array {
    return this.#meta.partialMD(descs instanceof Registration ? descs.descs : descs, opts);
  }

  /** Publishes an application blob with this agent's metadata under a label (e.g. a KV-cache layout). */
  setLabel(label: string, data: Uint8Array | string): void {
    this.#checkOpen('setLabel');
    if (!label) throw new InvalidParamError('setLabel: empty label');
    this.#meta.setLabel(label, toBytes(data));
  }

  /** Stops publishing a label (peers that loaded it keep their copy until they reload). */
  deleteLabel(label: string): boolean {
    this.#checkOpen('deleteLabel');
    return this.#meta.deleteLabel(label);
  }

  /** A label a peer published, or undefined. */
  getRemoteLabel(agent: string, label: string): Uint8Array | undefined {
    return this.#remote.label(agent, label);
  }

  /**
   * Loads a peer's metadata (full or partial); returns the peer's name.
   * Full metadata replaces what was known (a new generation: requests made
   * before fail with NotFoundError); partial metadata adds to it.
   */
  loadRemoteMD(blob: Uint8Array): string {
    this.#checkOpen('loadRemoteMD');
    return this.#remote.load(blob);
  }

  /** Forgets a peer: unloads its metadata and disconnects every backend from it. */
  invalidateRemoteMD(name: string): void {
    this.#checkOpen('invalidateRemoteMD');
    this.#remote.invalidate(name);
  }

  /** True if metadata for the peer is loaded and (when given) covers every descriptor. */
  checkRemoteMD(name: string, descs?: DescsInput): boolean {
    this.#checkOpen('checkRemoteMD');
    if (!this.#remote.has(name)) return false;
    return this.#remote.check(name, descs ? toDescList(descs) : undefined);
  }

  /** Names of the peers whose metadata is loaded. */
  get remoteAgents(): string[] {
    return this.#remote.names();
  }

  /** A peer's regions of one memory type, as descriptors (addresses are the peer's). */
  getRemoteRegions(name: string, memType: MemType = 'DRAM'): DescList {
    return this.#remote.regionsOf(name, memType);
  }

  /**
   * Waits until metadata for `name` is loaded. When the signal aborts, ends
   * with NotFoundError if its reason is a TimeoutError (AbortSignal.timeout:
   * the peer was not found in time; NIXL has no timeout status), else with
   * CanceledError. Either names the peer and how long it waited, with the
   * abort reason as `cause`.
   */
  waitForPeer(name: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    this.#checkOpen('waitForPeer');
    return this.#remote.waitFor(name, opts.signal);
  }

  // ---------------------------------------------- metadata store (NIXL's calls)

  /**
   * Publishes this agent's full metadata through its metadata plugin (e.g.
   * etcd), and its registration changes from then on. NotSupportedError
   * without a metadata plugin.
   */
  async sendLocalMD(): Promise<void> {
    await this.#store('sendLocalMD').publish();
  }

  /**
   * Publishes partial metadata (as getLocalPartialMD makes it) under
   * `opts.label`, where peers fetch it with fetchRemoteMD(name, { label }).
   */
  async sendLocalPartialMD(
    descs: Registration | DescList | null | undefined,
    opts: PartialMDOptions & { label: string },
  ): Promise<void> {
    const store = this.#store('sendLocalPartialMD');
    if (typeof opts?.label !== 'string' || opts.label === DEFAULT_METADATA_LABEL) {
      throw new InvalidParamError(
        `sendLocalPartialMD: a label other than '${DEFAULT_METADATA_LABEL}' is required ` +
          `(that one holds the full metadata), got ${JSON.stringify(opts?.label)}`,
        { op: 'sendLocalPartialMD', agent: this.name },
      );
    }
    await store.publishPartial(opts.label, this.getLocalPartialMD(descs, opts));
  }

  /**
   * Loads a peer's metadata from the metadata plugin (the full metadata, or
   * what it published under `label`), waiting for the peer to publish it.
   * When the signal aborts: NotFoundError if its reason is a TimeoutError,
   * else CanceledError, as waitForPeer.
   */
  async fetchRemoteMD(
    name: string,
    opts: { label?: string; signal?: AbortSignal } = {},
  ): Promise<void> {
    const ctx = { op: 'fetchRemoteMD', agent: this.name };
    const store = this.#store('fetchRemoteMD');
    if (typeof name !== 'string' || name.length === 0 || name === this.name) {
      throw new InvalidParamError(`fetchRemoteMD: not a peer's name: ${JSON.stringify(name)}`, ctx);
    }
    const label = opts.label ?? DEFAULT_METADATA_LABEL;
    const start = performance.now();
    try {
      await store.fetch(name, label, opts.signal);
    } catch (err) {
      if (opts.signal?.aborted && !(err instanceof NixlError)) {
        throw waitAbortedError(`metadata '${label}' of '${name}'`, opts.signal.reason, start, ctx);
      }
      throw err;
    }
  }

  /** Withdraws this agent's published metadata: peers that use the plugin invalidate it. */
  async invalidateLocalMD(): Promise<void> {
    await this.#store('invalidateLocalMD').unpublish();
  }

  #store(op: string): MetadataStore {
    this.#checkOpen(op);
    const store = this.#discovery.find(isMetadataStore);
    if (!store) {
      const have = this.#discovery.map((d) => d.name).join(', ');
      throw new NotSupportedError(
        `${op} needs a metadata plugin (e.g. etcd() from nixl-ts/plugins/etcd) in ` +
          `AgentOptions.discovery; this agent has ${have ? `only ${have}` : 'none'}`,
        { op, agent: this.name },
      );
    }
    return store;
  }

  /** Connects every backend shared with the peer now, instead of at the first transfer. */
  async makeConnection(
    name: string,
    opts: BackendSelection & { signal?: AbortSignal } = {},
  ): Promise<void> {
    const ctx = { op: 'makeConnection', agent: this.name };
    this.#checkOpen('makeConnection');
    const peer = this.#remote.get(name);
    if (!peer) throw new NotFoundError(`no metadata loaded for '${name}'`, ctx);
    const chosen = this.#selectBackends(opts.backends, ctx).filter((b) => peer.conns.has(b));
    if (chosen.length === 0)
      throw new NotFoundError(`no selected backend has connection info for '${name}'`, ctx);
    for (const b of chosen) await b.connect(name, opts.signal);
  }

  // -------------------------------------------------------------- transfers

  /**
   * Resolves descriptors against registered regions once. `agent` is '' for
   * this agent's side of a transfer, a peer's name for the target side, or
   * this agent's own name for a loopback target.
   */
  prepXferDlist(
    agent: string,
    descs: DescsInput,
    opts: BackendSelection & { memType?: MemType } = {},
  ): PreppedDlist {
    return this.#xfers.prepDlist(agent, descs, opts);
  }

  /** Frees a prepared list (NIXL's releasedDlistH). */
  releasePreppedDlist(dlist: PreppedDlist): void {
    dlist.release();
  }

  /**
   * Makes a request from prepared lists and index lists of equal length.
   * Neighbours contiguous on both sides are merged into one descriptor.
   */
  makeXferReq(
    op: XferOp,
    local: PreppedDlist,
    localIndices: ArrayLike<number>,
    remote: PreppedDlist,
    remoteIndices: ArrayLike<number>,
    opts: XferOptions = {},
  ): XferRequest {
    return this.#xfers.make(op, local, localIndices, remote, remoteIndices, opts, 'makeXferReq');
  }

  /**
   * Makes a request from two descriptor lists of equal counts and lengths
   * (NIXL's createXferReq: no merging).
   */
  createXferReq(
    op: XferOp,
    local: DescsInput,
    remote: DescsInput,
    remoteAgent: string,
    opts: XferOptions = {},
  ): XferRequest {
    return this.#xfers.create(op, local, remote, remoteAgent, opts, 'createXferReq');
  }

  /**
   * Starts a request; never blocks. Returns 'DONE' if it already finished,
   * else 'IN_PROG'. Reposting is allowed only once the last post is done.
   */
  postXferReq(req: XferRequest, opts?: PostOptions): XferState {
    this.#checkRequest(req, 'postXferReq');
    if (opts && 'notif' in opts && opts.notif != null) {
      const notif = toBytes(opts.notif);
      // Refused before the request changes: it keeps its notification and stays postable.
      checkNotifSize(notif, maxNotifBytes(req.backend), {
        op: 'postXferReq',
        agent: this.name,
        backend: req.backend.type,
      });
      req.setNotif(notif);
    } else if (opts?.notif === null) req.setNotif(null);
    return req.post();
  }

  /** 'NOT_POSTED', 'IN_PROG' or 'DONE'; a failed transfer throws its error. */
  getXferStatus(req: XferRequest): XferState {
    this.#checkRequest(req, 'getXferStatus');
    return req.status();
  }

  /** Timings of a request's last completed post (NIXL's getXferTelemetry). */
  getXferTelemetry(req: XferRequest): XferTelemetry {
    const ctx = { op: 'getXferTelemetry', agent: this.name };
    this.#checkRequest(req, 'getXferTelemetry');
    if (!this.#xfers.telemetry)
      throw new NoTelemetryError(
        'telemetry is off (captureTelemetry or NIXL_TELEMETRY_ENABLE)',
        ctx,
      );
    const t = req.telemetry();
    if (!t) throw new NotPostedError('the request has no completed post to report', ctx);
    return t;
  }

  /** Which backend a request uses. */
  queryXferBackend(req: XferRequest): string {
    this.#checkRequest(req, 'queryXferBackend');
    return req.backend.type;
  }

  /** Frees a request, aborting it if in flight. */
  releaseXferReq(req: XferRequest): void {
    if (!(req instanceof XferRequest))
      throw new InvalidParamError('not a transfer request', { op: 'releaseXferReq' });
    req.release();
  }

  /** One-shot WRITE (createXferReq + postXferReq + wait + release). */
  write(
    local: DescsInput,
    remote: DescsInput,
    remoteAgent: string,
    opts: XferOptions & { signal?: AbortSignal } = {},
  ): Promise<void> {
    return this.#oneShot('WRITE', local, remote, remoteAgent, opts);
  }

  /** One-shot READ (createXferReq + postXferReq + wait + release). */
  read(
    local: DescsInput,
    remote: DescsInput,
    remoteAgent: string,
    opts: XferOptions & { signal?: AbortSignal } = {},
  ): Promise<void> {
    return this.#oneShot('READ', local, remote, remoteAgent, opts);
  }

  async #oneShot(
    op: XferOp,
    local: DescsInput,
    remote: DescsInput,
    remoteAgent: string,
    opts: XferOptions & { signal?: AbortSignal },
  ): Promise<void> {
    opts.signal?.throwIfAborted();
    const req = this.#xfers.create(
      op,
      local,
      remote,
      remoteAgent,
      opts,
      op === 'WRITE' ? 'write' : 'read',
    );
    try {
      if (req.post() === 'DONE') return;
      await req.wait({ signal: opts.signal });
    } finally {
      req.release();
    }
  }

  // ---------------------------------------------------------- notifications

  /** A standalone notification (not ordered with transfers). */
  genNotif(remoteAgent: string, msg: Uint8Array | string, opts: BackendSelection = {}): void {
    const ctx = { op: 'genNotif', agent: this.name };
    this.#checkOpen('genNotif');
    const bytes = toBytes(msg);
    const candidates = this.#selectBackends(opts.backends, ctx).filter(
      (b) => b.capabilities.notif && b.genNotif,
    );
    let chosen: Backend | undefined;
    if (remoteAgent === this.name) chosen = candidates.find((b) => b.capabilities.local);
    else {
      const peer = this.#remote.get(remoteAgent);
      if (!peer) throw new NotFoundError(`no metadata loaded for '${remoteAgent}'`, ctx);
      chosen = candidates.find((b) => peer.conns.has(b));
    }
    if (!chosen)
      throw new NotFoundError(`no notification-capable backend reaches '${remoteAgent}'`, ctx);
    checkNotifSize(bytes, maxNotifBytes(chosen), { ...ctx, backend: chosen.type });
    chosen.genNotif!(remoteAgent, bytes);
  }

  /**
   * Drains received notifications, grouped by sender, appending to `into`
   * if given. Notifications go to 'notif' listeners instead while any exist.
   */
  getNotifs(into: Map<string, Uint8Array[]> = new Map()): Map<string, Uint8Array[]> {
    this.#checkOpen('getNotifs');
    for (const b of this.#backends) b.pollNotifs?.();
    return this.#notifs.drain(into);
  }

  // ---------------------------------------------------------------- closing

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Closes the agent and everything it owns, children first: discovery,
   * requests (aborted), peers, registrations, backends. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#doClose();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #doClose(): Promise<void> {
    this.#closed = true;
    this.#metrics?.detach();
    for (const d of this.#discovery.reverse())
      await d.stop().catch((e) => this.log.error('discovery stop: %s', e));
    this.#xfers.releaseAll();
    this.#remote.dropAll();
    this.#local.clear();
    for (const a of [...this.#vram]) {
      try {
        a.free();
      } catch (e) {
        this.log.error('VRAM free: %s', e);
      }
    }
    for (const b of [...this.#backends].reverse())
      await b.close().catch((e) => this.log.error('backend close: %s', e));
    this.#notifs.clear();
    this.#meta.clear();
  }

  // -------------------------------------------------------------- internals

  #checkRequest(req: XferRequest, op: string): void {
    this.#checkOpen(op);
    if (!(req instanceof XferRequest))
      throw new InvalidParamError('not a transfer request', { op, agent: this.name });
    if (req.released)
      throw new InvalidParamError('the request was released', { op, agent: this.name });
  }

  #checkOpen(op: string): void {
    if (this.#closed) throw new NotAllowedError('the agent is closed', { op, agent: this.name });
  }

  #backend(type: string | undefined, op: string): Backend {
    const b = this.#backends.find((x) => x.type === type);
    if (!b) throw new NotFoundError(`no ${type} backend on this agent`, { op, agent: this.name });
    return b;
  }

  #selectBackends(names: readonly string[] | undefined, ctx: object): Backend[] {
    if (!names) return this.#backends;
    if (!Array.isArray(names) || names.length === 0)
      throw new InvalidParamError('backends must be a non-empty list of names', ctx);
    return names.map((n) => {
      const b = this.#backends.find((x) => x.type === n);
      if (!b) throw new NotFoundError(`no ${n} backend on this agent`, ctx);
      return b;
    });
  }

  /** Registered bytes per backend type, for the memory gauge (read at scrape time). */
  #memoryByBackend(): Map<string, number> {
    const out = new Map<string, number>(this.#backends.map((b) => [b.type, 0]));
    for (const mt of MEM_TYPES)
      for (const r of this.#local.regions(mt))
        for (const b of r.mds.keys()) out.set(b.type, (out.get(b.type) ?? 0) + r.len);
    return out;
  }

  /** Loaded peers each backend can reach, for the peers gauge. */
  #peersByBackend(): Map<string, number> {
    const out = new Map<string, number>(this.#backends.map((b) => [b.type, 0]));
    for (const name of this.#remote.names())
      for (const b of this.#remote.get(name)?.conns.keys() ?? [])
        out.set(b.type, (out.get(b.type) ?? 0) + 1);
    return out;
  }

  /** What a backend gets of its agent: identity, a logger, and where notifications and failures go. */
  #components(type: string): BackendComponents {
    return {
      agentName: this.name,
      agentId: this.agentId,
      hostId: this.hostId,
      log: this.log.extend(type.toLowerCase()),
      onNotifs: (batch) => this.#notifs.deliver(batch),
      onDisconnect: (agent, error) => {
        if (this.#closed || !this.#remote.has(agent)) return;
        this.log('peer %s disconnected: %s', agent, error.message);
        this.#remote.dropFailed(agent);
        this.emit('peer:disconnect', agent, error);
      },
    };
  }
}

/** ": TCP: <reason>; UCX: <reason>" for the backends that say why they refuse memType ('' if none does). */
function whyNot(backends: readonly Backend[], memType: MemType): string {
  const reasons: string[] = [];
  for (const b of backends) {
    const r = b.unsupportedMemReason?.(memType);
    if (r) reasons.push(`${b.type}: ${r}`);
  }
  return reasons.length ? ` (${reasons.join('; ')})` : '';
}
