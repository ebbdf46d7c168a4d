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
import { DescList, MEM_TYPES, RegDescList, type DescInput, type MemType } from './descriptors.js';
import type { Discovery, DiscoveryHost, PeerEventKind, RegistrationChange } from './discovery.js';
import {
  BackendError,
  CanceledError,
  InvalidParamError,
  MismatchError,
  NixlError,
  NoTelemetryError,
  NotAllowedError,
  NotFoundError,
  NotPostedError,
  NotSupportedError,
  RemoteDisconnectError,
  RepostActiveError,
} from './errors.js';
import { hostIdentity } from './host-identity.js';
import { createLogger, type Logger } from './logger.js';
import { toRegDescList, type MemoryInput } from './memory-input.js';
import {
  AGENT_ID_BYTES,
  checkRegions,
  decodeMetadataHeader,
  encodeMetadata,
  unpackRegions,
  type AgentMetadata,
  type MemSectionMetadata,
  type MetadataHeader,
  type PackedSection,
  type RegionColumns,
} from './metadata.js';
import { native } from './native.js';
import { PluginManager } from './plugin-manager.js';
import { PreppedDlist, resolveDlist, selectDescs } from './prepped-dlist.js';
import { RegionRegistry } from './region-registry.js';
import type { LocalRegion } from './regions.js';
import { Registration } from './registration.js';
import { RemotePeer, StagedHandles, sameBytes, type SectionRegions } from './remote-peer.js';
import type { XferState } from './status.js';
import { XferRequest, type XferOwner, type XferTelemetry } from './xfer-request.js';

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

type DescsInput = DescList | readonly DescInput[];

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

const LOCAL_AGENT = '';

function toBytes(msg: Uint8Array | string): Uint8Array {
  return typeof msg === 'string' ? Buffer.from(msg) : msg;
}

function toDescList(input: DescsInput, memType: MemType = 'DRAM'): DescList {
  return input instanceof DescList ? input : DescList.from(memType, input);
}

/**
 * A transfer agent: one per process, with a unique name. It owns backends,
 * the memory it registered, and what it knows of its peers. NIXL's method
 * names are kept; the promise-based helpers on top are documented as such.
 */
export class Agent extends EventEmitter<AgentEvents> implements XferOwner {
  readonly name: string;
  /** Random per start: peers tell a restarted agent from the old one. */
  readonly agentId: Uint8Array;
  readonly hostId: string;
  readonly log: Logger;
  readonly #plugins: PluginManager;
  readonly #backends: Backend[] = [];
  readonly #local = new Map<MemType, RegionRegistry<LocalRegion>>();
  readonly #peers = new Map<string, RemotePeer>();
  readonly #requests = new Set<XferRequest>();
  readonly #notifQueue = new Map<string, Uint8Array[]>();
  readonly #labels = new Map<string, Uint8Array>();
  readonly #registrationListeners = new Set<(c: RegistrationChange) => void>();
  readonly #discovery: Discovery[] = [];
  #generation = 0;
  #telemetry = false;
  #maxRemoteRegions = DEFAULT_MAX_REMOTE_REGIONS;
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(name: string, plugins: PluginManager) {
    super();
    this.name = name;
    this.agentId = randomBytes(AGENT_ID_BYTES);
    this.hostId = hostIdentity();
    this.log = createLogger(`nixl:agent:${name}`);
    this.#plugins = plugins;
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
    const plugins = await PluginManager.create(opts.pluginPaths);
    for (const spec of opts.plugins ?? []) await plugins.load(spec);
    const agent = new Agent(opts.name, plugins);
    agent.#maxRemoteRegions = maxRemoteRegions;
    agent.#telemetry =
      opts.captureTelemetry ??
      /^(1|y|yes|on|true|enable)$/i.test(process.env.NIXL_TELEMETRY_ENABLE ?? '');
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
        await d.start(agent.#discoveryHost());
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
    opts: { backend?: string } = {},
  ): { buffer: Buffer; desc: { addr: bigint; len: number; devId: number } } {
    const ctx = { op: 'alloc', agent: this.name };
    this.#checkOpen('alloc');
    if (!Number.isSafeInteger(bytes) || bytes < 0)
      throw new InvalidParamError(`alloc: bad byte count ${bytes}`, ctx);
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
    const candidates = this.#selectBackends(opts.backends, ctx).filter((b) =>
      b.capabilities.mems.includes(list.memType),
    );
    if (candidates.length === 0)
      throw new NotFoundError(`no backend supports ${list.memType} memory`, ctx);
    const registry = this.#localRegistry(list.memType);

    // Validate everything before touching any backend.
    const plans: { index: number; existing?: LocalRegion; backends: Backend[] }[] = [];
    for (let i = 0; i < list.length; i++) {
      const addr = list.addrs[i]!;
      const len = list.lens[i]!;
      const devId = list.devIds[i]!;
      const existing = registry.findExact(addr, len, devId);
      if (existing) {
        const missing = candidates.filter((b) => !existing.mds.has(b));
        if (missing.length === 0) {
          throw new InvalidParamError(
            `region [0x${addr.toString(16)}, +${len}) is registered already`,
            ctx,
          );
        }
        plans.push({ index: i, existing, backends: missing });
        continue;
      }
      const clash = registry.findOverlapping(addr, len, devId);
      if (clash) {
        throw new NotAllowedError(
          `region [0x${addr.toString(16)}, +${len}) overlaps registered region [0x${clash.addr.toString(16)}, +${clash.len})`,
          ctx,
        );
      }
      for (const p of plans) {
        const o = list;
        if (
          !p.existing &&
          o.devIds[p.index] === devId &&
          o.addrs[p.index]! < addr + len &&
          addr < o.addrs[p.index]! + o.lens[p.index]!
        ) {
          throw new NotAllowedError(`descriptors ${p.index} and ${i} of the list overlap`, ctx);
        }
        if (!p.existing && o.devIds[p.index] === devId && o.addrs[p.index] === addr) {
          throw new NotAllowedError(
            `descriptors ${p.index} and ${i} of the list start at the same address`,
            ctx,
          );
        }
      }
      plans.push({ index: i, backends: candidates });
    }

    const created: { region: LocalRegion; backend: Backend; isNew: boolean }[] = [];
    const newRegions: LocalRegion[] = [];
    const rollback = () => {
      for (const c of created.reverse()) {
        const lb = c.region.loopback.get(c.backend);
        if (lb !== undefined) c.backend.unloadMD(lb);
        c.region.loopback.delete(c.backend);
        const md = c.region.mds.get(c.backend);
        if (md !== undefined) c.backend.deregisterMem(md);
        c.region.mds.delete(c.backend);
      }
      for (const r of newRegions) registry.remove(r);
    };
    const regions: LocalRegion[] = [];
    try {
      for (const plan of plans) {
        const i = plan.index;
        const region: LocalRegion = plan.existing ?? {
          memType: list.memType,
          addr: list.addrs[i]!,
          len: list.lens[i]!,
          devId: list.devIds[i]!,
          metaInfo: list.metaInfo[i],
          view: list.views[i],
          mds: new Map(),
          loopback: new Map(),
        };
        let took = 0;
        const errors: unknown[] = [];
        for (const b of plan.backends) {
          try {
            const md = b.registerMem(region);
            region.mds.set(b, md);
            created.push({ region, backend: b, isNew: !plan.existing });
            if (b.capabilities.local && b.loadLocalMD) region.loopback.set(b, b.loadLocalMD(md));
            took++;
          } catch (err) {
            errors.push(err);
          }
        }
        if (took === 0) {
          const first = errors[0] as Error | undefined;
          throw new BackendError(
            `no backend could register region [0x${region.addr.toString(16)}, +${region.len}): ${first?.message ?? 'unknown'}`,
            { ...ctx, cause: first },
          );
        }
        if (!plan.existing) {
          registry.insert(region);
          newRegions.push(region);
        }
        regions.push(region);
      }
    } catch (err) {
      rollback();
      throw err;
    }
    this.#notifyRegistration('register', regions);
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
    const registry = this.#local.get(list.memType);
    const only = opts.backends ? new Set(this.#selectBackends(opts.backends, ctx)) : undefined;
    const regions: LocalRegion[] = [];
    for (let i = 0; i < list.length; i++) {
      const r = registry?.findExact(list.addrs[i]!, list.lens[i]!, list.devIds[i]!);
      if (!r || regions.includes(r)) {
        throw new NotFoundError(
          `descriptor ${i} [0x${list.addrs[i]!.toString(16)}, +${list.lens[i]}) does not match a registered region exactly`,
          ctx,
        );
      }
      regions.push(r);
    }
    for (const r of regions) {
      for (const [b, md] of [...r.mds]) {
        if (only && !only.has(b)) continue;
        const lb = r.loopback.get(b);
        if (lb !== undefined) b.unloadMD(lb);
        r.loopback.delete(b);
        b.deregisterMem(md);
        r.mds.delete(b);
      }
      if (r.mds.size === 0) registry!.remove(r);
    }
    if (input instanceof Registration) input.markClosed();
    this.#notifyRegistration('deregister', regions);
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
    const list = toRegDescList(input, opts.memType);
    const descs = [];
    for (let i = 0; i < list.length; i++) {
      descs.push({
        memType: list.memType,
        addr: list.addrs[i]!,
        len: list.lens[i]!,
        devId: list.devIds[i]!,
        metaInfo: list.metaInfo[i],
      });
    }
    return b.queryMem(descs);
  }

  // --------------------------------------------------------------- metadata

  /** This agent's full metadata: connection info and every registered region's public data. */
  getLocalMD(): Uint8Array {
    this.#checkOpen('getLocalMD');
    const remote = this.#backends.filter((b) => b.capabilities.remote);
    if (remote.length === 0) {
      throw new InvalidParamError('no remote-capable backend: there is nothing a peer could use', {
        op: 'getLocalMD',
        agent: this.name,
      });
    }
    return encodeMetadata(this.#metadata(remote, undefined, true, [...this.#labels.keys()], false));
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
    const ctx = { op: 'getLocalPartialMD', agent: this.name };
    this.#checkOpen('getLocalPartialMD');
    const remote = this.#selectBackends(opts.backends, ctx).filter((b) => b.capabilities.remote);
    if (remote.length === 0) throw new InvalidParamError('no remote-capable backend selected', ctx);
    const list = descs instanceof Registration ? descs.descs : descs;
    let regions: LocalRegion[] | undefined;
    if (list && list.length > 0) {
      regions = [];
      const registry = this.#local.get(list.memType);
      for (let i = 0; i < list.length; i++) {
        const r = registry?.findExact(list.addrs[i]!, list.lens[i]!, list.devIds[i]!);
        if (!r)
          throw new NotFoundError(
            `descriptor ${i} does not match a registered region exactly`,
            ctx,
          );
        regions.push(r);
      }
    }
    for (const l of opts.labels ?? []) {
      if (!this.#labels.has(l)) throw new NotFoundError(`no label '${l}' is set`, ctx);
    }
    const withConns = !regions || opts.includeConnInfo === true;
    return encodeMetadata(
      this.#metadata(remote, regions ?? [], withConns, opts.labels ?? [], true),
    );
  }

  /** Publishes an application blob with this agent's metadata under a label (e.g. a KV-cache layout). */
  setLabel(label: string, data: Uint8Array | string): void {
    this.#checkOpen('setLabel');
    if (!label) throw new InvalidParamError('setLabel: empty label');
    this.#labels.set(label, toBytes(data));
  }

  /** Stops publishing a label (peers that loaded it keep their copy until they reload). */
  deleteLabel(label: string): boolean {
    this.#checkOpen('deleteLabel');
    return this.#labels.delete(label);
  }

  /** A label a peer published, or undefined. */
  getRemoteLabel(agent: string, label: string): Uint8Array | undefined {
    return this.#peers.get(agent)?.labels.get(label);
  }

  /**
   * Loads a peer's metadata (full or partial); returns the peer's name.
   * Full metadata replaces what was known (a new generation: requests made
   * before fail with NotFoundError); partial metadata adds to it.
   */
  loadRemoteMD(blob: Uint8Array): string {
    const ctx = { op: 'loadRemoteMD', agent: this.name };
    this.#checkOpen('loadRemoteMD');
    const md = decodeMetadataHeader(blob);
    const regions = this.#unpackSections(md);
    if (md.name === this.name)
      throw new InvalidParamError(`metadata is this agent's own ('${md.name}')`, ctx);
    const old = this.#peers.get(md.name);
    const restarted = old !== undefined && !sameBytes(old.agentId, md.agentId);
    if (old && !restarted) {
      for (const c of md.conns) {
        const b = this.#backends.find((x) => x.type === c.backend);
        const known = b && old.conns.get(b);
        if (known && !sameBytes(known, c.connInfo)) {
          throw new MismatchError(
            `connection info of ${c.backend} changed for the same agent instance`,
            { ...ctx, backend: c.backend },
          );
        }
      }
    }
    // Regions are checked and counted before anything changes: a refused
    // reload keeps what was known.
    const kept = old && !restarted && md.partial ? old : undefined;
    const plan = RemotePeer.planRegions(
      md.name,
      kept,
      this.#usedSections(md, regions, kept),
      this.#maxRemoteRegions,
    );
    if (old && (restarted || !md.partial)) {
      if (
        restarted &&
        md.partial &&
        !md.conns.some((c) => this.#backends.some((b) => b.type === c.backend))
      ) {
        throw new MismatchError(
          `partial metadata from a restarted '${md.name}' without connection info`,
          ctx,
        );
      }
      // Full metadata, or a new instance of the peer: start from a clean slate.
      this.#dropPeer(old);
    }
    const current = this.#peers.get(md.name);
    const peer = current ?? new RemotePeer(md.name, md.agentId, md.hostId, ++this.#generation);
    const stagedConns: Backend[] = [];
    const stagedRegions = new StagedHandles();
    try {
      for (const c of md.conns) {
        const b = this.#backends.find((x) => x.type === c.backend && x.capabilities.remote);
        if (!b || peer.conns.has(b)) continue;
        b.loadRemoteConnInfo!(
          { name: md.name, agentId: md.agentId, hostId: md.hostId },
          c.connInfo,
        );
        peer.conns.set(b, c.connInfo);
        stagedConns.push(b);
      }
      if (peer.conns.size === 0) {
        throw new BackendError(
          `no backend in common with '${md.name}' (it offers ${md.conns.map((c) => c.backend).join(', ') || 'none'}; ` +
            `this agent has ${this.#backends.map((b) => b.type).join(', ') || 'none'})`,
          ctx,
        );
      }
      peer.commitRegions(plan, stagedRegions);
    } catch (err) {
      // Registries change last, in commitRegions: only backend handles to undo.
      stagedRegions.undo();
      for (const b of stagedConns) {
        peer.conns.delete(b);
        void b.disconnect(md.name).catch(() => {});
      }
      if (err instanceof BackendError && !current) throw err;
      if (err instanceof MismatchError) throw err;
      throw new MismatchError(
        `metadata of '${md.name}' was refused: ${(err as Error)?.message ?? err}`,
        { ...ctx, cause: err },
      );
    }
    for (const [k, v] of md.labels) peer.labels.set(k, v);
    this.#peers.set(md.name, peer);
    this.emit('metadata:loaded', md.name);
    return md.name;
  }

  /** The backend that would load a section, if this agent has it (before connections). */
  #sectionBackend(s: PackedSection): Backend | undefined {
    const b = this.#backends.find((x) => x.type === s.backend && x.capabilities.remote);
    return b && b.capabilities.mems.includes(s.memType) ? b : undefined;
  }

  /**
   * Checks every section of a metadata load and unpacks those this agent can
   * use. The region cap is checked first, from the counts alone: a section
   * past it is refused before any of its regions is read.
   */
  #unpackSections(md: MetadataHeader): Map<PackedSection, RegionColumns> {
    const max = this.#maxRemoteRegions;
    for (const s of md.sections) {
      if (s.count > max && this.#sectionBackend(s)) {
        throw new MismatchError(
          `metadata of '${md.name}' lists ${s.count} ${s.backend}/${s.memType} regions; this ` +
            `agent keeps at most ${max} per peer (maxRemoteRegions)`,
          { op: 'loadRemoteMD', agent: this.name, backend: s.backend },
        );
      }
    }
    const out = new Map<PackedSection, RegionColumns>();
    for (const s of md.sections) {
      if (this.#sectionBackend(s)) out.set(s, unpackRegions(s));
      else checkRegions(s);
    }
    return out;
  }

  /**
   * The sections a load uses: those of backends that will hold the peer's
   * connection info (kept, or loaded from this metadata).
   */
  #usedSections(
    md: MetadataHeader,
    regions: Map<PackedSection, RegionColumns>,
    kept: RemotePeer | undefined,
  ): SectionRegions[] {
    const sections: SectionRegions[] = [];
    for (const s of md.sections) {
      const b = this.#sectionBackend(s);
      // A section of a backend this agent lacks is skipped, as in NIXL.
      if (!b || !(kept?.conns.has(b) || md.conns.some((c) => c.backend === b.type))) continue;
      sections.push({ backend: b, memType: s.memType, regions: regions.get(s)! });
    }
    return sections;
  }

  /** Forgets a peer: unloads its metadata and disconnects every backend from it. */
  invalidateRemoteMD(name: string): void {
    this.#checkOpen('invalidateRemoteMD');
    const peer = this.#peers.get(name);
    if (!peer)
      throw new NotFoundError(`no metadata loaded for '${name}'`, {
        op: 'invalidateRemoteMD',
        agent: this.name,
      });
    this.#dropPeer(peer);
  }

  /** True if metadata for the peer is loaded and (when given) covers every descriptor. */
  checkRemoteMD(name: string, descs?: DescsInput): boolean {
    this.#checkOpen('checkRemoteMD');
    const peer = this.#peers.get(name);
    if (!peer) return false;
    if (!descs) return true;
    const list = toDescList(descs);
    const reg = peer.regions.get(list.memType);
    for (let i = 0; i < list.length; i++) {
      if (!reg?.findCovering(list.addrs[i]!, list.lens[i]!, list.devIds[i]!)) return false;
    }
    return true;
  }

  /** Names of the peers whose metadata is loaded. */
  get remoteAgents(): string[] {
    return [...this.#peers.keys()];
  }

  /** A peer's regions of one memory type, as descriptors (addresses are the peer's). */
  getRemoteRegions(name: string, memType: MemType = 'DRAM'): DescList {
    const peer = this.#peers.get(name);
    if (!peer)
      throw new NotFoundError(`no metadata loaded for '${name}'`, {
        op: 'getRemoteRegions',
        agent: this.name,
      });
    const list = new DescList(memType);
    for (const r of peer.regions.get(memType)?.values() ?? []) list.add(r.addr, r.len, r.devId);
    return list;
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
    if (this.#peers.has(name)) return Promise.resolve();
    const { signal } = opts;
    const start = performance.now();
    const aborted = (): NixlError => {
      const reason: unknown = signal!.reason;
      const ms = Math.round(performance.now() - start);
      const ctx = { op: 'waitForPeer', agent: this.name, cause: reason };
      const timedOut =
        typeof reason === 'object' &&
        reason !== null &&
        (reason as { name?: unknown }).name === 'TimeoutError';
      return timedOut
        ? new NotFoundError(`peer '${name}' did not appear within ${ms} ms (timed out)`, ctx)
        : new CanceledError(`waiting for peer '${name}' was aborted after ${ms} ms`, ctx);
    };
    if (signal?.aborted) return Promise.reject(aborted());
    return new Promise<void>((resolve, reject) => {
      const onLoaded = (n: string) => {
        if (n !== name) return;
        cleanup();
        resolve();
      };
      const onAbort = () => {
        cleanup();
        reject(aborted());
      };
      const cleanup = () => {
        this.off('metadata:loaded', onLoaded);
        signal?.removeEventListener('abort', onAbort);
      };
      this.on('metadata:loaded', onLoaded);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Connects every backend shared with the peer now, instead of at the first transfer. */
  async makeConnection(
    name: string,
    opts: BackendSelection & { signal?: AbortSignal } = {},
  ): Promise<void> {
    const ctx = { op: 'makeConnection', agent: this.name };
    this.#checkOpen('makeConnection');
    const peer = this.#peers.get(name);
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
    const ctx = { op: 'prepXferDlist', agent: this.name };
    this.#checkOpen('prepXferDlist');
    if (typeof agent !== 'string')
      throw new InvalidParamError('agent must be a string ("" for local)', ctx);
    const list = toDescList(descs, opts.memType);
    const backends = this.#selectBackends(opts.backends, ctx);
    if (agent === LOCAL_AGENT) {
      return new PreppedDlist(
        'local',
        LOCAL_AGENT,
        0,
        list,
        resolveDlist(list, this.#local.get(list.memType), backends, (r) => r.mds, 'locally'),
      );
    }
    if (agent === this.name) {
      const local = backends.filter((b) => b.capabilities.local);
      return new PreppedDlist(
        'loopback',
        agent,
        0,
        list,
        resolveDlist(
          list,
          this.#local.get(list.memType),
          local,
          (r) => r.loopback,
          'locally (loopback)',
        ),
      );
    }
    const peer = this.#peers.get(agent);
    if (!peer) throw new NotFoundError(`no metadata loaded for '${agent}'`, ctx);
    const remote = backends.filter((b) => peer.conns.has(b));
    return new PreppedDlist(
      'remote',
      agent,
      peer.generation,
      list,
      resolveDlist(list, peer.regions.get(list.memType), remote, (r) => r.mds, `by '${agent}'`),
    );
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
    return this.#makeXferReq(op, local, localIndices, remote, remoteIndices, opts, 'makeXferReq');
  }

  #makeXferReq(
    op: XferOp,
    local: PreppedDlist,
    localIndices: ArrayLike<number>,
    remote: PreppedDlist,
    remoteIndices: ArrayLike<number>,
    opts: XferOptions,
    opName: string,
  ): XferRequest {
    const ctx = { op: opName, agent: this.name };
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
    if (remote.side === 'remote') this.#checkGeneration(remote.agent, remote.generation, opName);
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
    return this.#newRequest(op, backend, l, r, remote, opts, notif);
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
    return this.#createXferReq(op, local, remote, remoteAgent, opts, 'createXferReq');
  }

  #createXferReq(
    op: XferOp,
    local: DescsInput,
    remote: DescsInput,
    remoteAgent: string,
    opts: XferOptions,
    opName: string,
  ): XferRequest {
    const ctx = { op: opName, agent: this.name };
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
    const lp = this.prepXferDlist(LOCAL_AGENT, l, opts);
    const rp = this.prepXferDlist(remoteAgent, r, opts);
    const idx = new Uint32Array(l.length);
    for (let i = 0; i < idx.length; i++) idx[i] = i;
    return this.#makeXferReq(
      op,
      lp,
      idx,
      rp,
      idx,
      { ...opts, skipDescMerge: opts.skipDescMerge ?? true },
      opName,
    );
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
    if (!this.#telemetry)
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
    const req = this.#createXferReq(
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
      const peer = this.#peers.get(remoteAgent);
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
    for (const [agent, msgs] of this.#notifQueue) {
      const list = into.get(agent);
      if (list) list.push(...msgs);
      else into.set(agent, msgs);
    }
    this.#notifQueue.clear();
    return into;
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
    for (const d of this.#discovery.reverse())
      await d.stop().catch((e) => this.log.error('discovery stop: %s', e));
    for (const req of [...this.#requests]) req.release();
    for (const peer of [...this.#peers.values()]) this.#dropPeer(peer);
    for (const registry of this.#local.values()) {
      for (const r of registry.values()) {
        for (const [b, md] of r.mds) {
          const lb = r.loopback.get(b);
          if (lb !== undefined) b.unloadMD(lb);
          b.deregisterMem(md);
        }
        r.mds.clear();
        r.loopback.clear();
      }
      registry.clear();
    }
    for (const b of [...this.#backends].reverse())
      await b.close().catch((e) => this.log.error('backend close: %s', e));
    this.#notifQueue.clear();
    this.#registrationListeners.clear();
  }

  // ------------------------------------------------------------- XferOwner

  checkPostable(req: XferRequest): void {
    this.#checkOpen('postXferReq');
    if (req.released)
      throw new InvalidParamError('the request was released', {
        op: 'postXferReq',
        agent: this.name,
      });
    if (req.active)
      throw new RepostActiveError('the previous post of this request is still in progress', {
        op: 'postXferReq',
        agent: this.name,
        backend: req.backend.type,
      });
    if (req.remoteAgent !== this.name)
      this.#checkGeneration(req.remoteAgent, req.generation, 'postXferReq');
  }

  onXferError(req: XferRequest, err: NixlError): void {
    if (err instanceof RemoteDisconnectError) {
      const peer = this.#peers.get(req.remoteAgent);
      // Only the generation the request was made against is dropped.
      if (peer && peer.generation === req.generation) {
        this.#dropPeer(peer);
        this.emit('peer:disconnect', peer.name, err);
      }
    }
  }

  forget(req: XferRequest): void {
    this.#requests.delete(req);
  }

  // -------------------------------------------------------------- internals

  #newRequest(
    op: XferOp,
    backend: Backend,
    l: ReturnType<typeof selectDescs>['local'],
    r: ReturnType<typeof selectDescs>['remote'],
    remote: PreppedDlist,
    opts: XferOptions,
    notif: Uint8Array | undefined,
  ): XferRequest {
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
    if (this.#telemetry) req.captureTelemetry();
    this.#requests.add(req);
    return req;
  }

  #chooseBackend(
    local: PreppedDlist,
    remote: PreppedDlist,
    names: readonly string[] | undefined,
    ctx: object,
  ): Backend {
    const order = names ? this.#selectBackends(names, ctx) : this.#backends;
    for (const b of order) {
      if (local.candidates.has(b) && remote.candidates.has(b)) return b;
    }
    throw new NotFoundError('no backend was prepared on both sides of this request', ctx);
  }

  #checkGeneration(agent: string, generation: number, op: string): void {
    const peer = this.#peers.get(agent);
    if (!peer || peer.generation !== generation) {
      throw new NotFoundError(
        peer
          ? `the metadata of '${agent}' was reloaded since this was prepared; prepare it again`
          : `no metadata loaded for '${agent}'`,
        { op, agent: this.name },
      );
    }
  }

  #checkRequest(req: XferRequest, op: string): void {
    this.#checkOpen(op);
    if (!(req instanceof XferRequest))
      throw new InvalidParamError('not a transfer request', { op, agent: this.name });
    if (req.released)
      throw new InvalidParamError('the request was released', { op, agent: this.name });
  }

  #dropPeer(peer: RemotePeer): void {
    if (this.#peers.get(peer.name) === peer) this.#peers.delete(peer.name);
    peer.unloadAll();
    for (const b of peer.conns.keys())
      void b.disconnect(peer.name).catch((e) => this.log('disconnect %s: %s', peer.name, e));
    peer.conns.clear();
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

  #localRegistry(memType: MemType): RegionRegistry<LocalRegion> {
    let r = this.#local.get(memType);
    if (!r) {
      r = new RegionRegistry<LocalRegion>();
      this.#local.set(memType, r);
    }
    return r;
  }

  #metadata(
    backends: Backend[],
    regions: LocalRegion[] | undefined,
    withConns: boolean,
    labels: readonly string[],
    partial: boolean,
  ): AgentMetadata {
    const sections: MemSectionMetadata[] = [];
    for (const b of backends) {
      for (const memType of MEM_TYPES) {
        const source = regions
          ? regions.filter((r) => r.memType === memType)
          : (this.#local.get(memType)?.values() ?? []);
        const out: MemSectionMetadata['regions'] = [];
        for (const r of source) {
          const md = r.mds.get(b);
          if (md === undefined) continue;
          out.push({ addr: r.addr, len: r.len, devId: r.devId, publicData: b.getPublicData!(md) });
        }
        if (out.length) sections.push({ backend: b.type, memType, regions: out });
      }
    }
    return {
      name: this.name,
      agentId: this.agentId,
      hostId: this.hostId,
      partial,
      conns: withConns
        ? backends.map((b) => ({ backend: b.type, connInfo: b.getConnInfo!() }))
        : [],
      sections,
      labels: new Map(labels.map((l) => [l, this.#labels.get(l)!])),
    };
  }

  #notifyRegistration(kind: RegistrationChange['kind'], regions: LocalRegion[]): void {
    if (this.#registrationListeners.size === 0 || regions.length === 0) return;
    const descs = new RegDescList(regions[0]!.memType, regions.length);
    for (const r of regions) descs.addRegion(r.addr, r.len, r.devId);
    for (const l of this.#registrationListeners) l({ kind, descs });
  }

  #components(type: string): BackendComponents {
    return {
      agentName: this.name,
      agentId: this.agentId,
      hostId: this.hostId,
      log: this.log.extend(type.toLowerCase()),
      onNotifs: (batch) => {
        const push = this.listenerCount('notif') > 0;
        for (const { agent, msg } of batch) {
          if (push) this.emit('notif', agent, msg);
          else {
            const q = this.#notifQueue.get(agent);
            if (q) q.push(msg);
            else this.#notifQueue.set(agent, [msg]);
          }
        }
      },
      onDisconnect: (agent, error) => {
        const peer = this.#peers.get(agent);
        if (!peer || this.#closed) return;
        this.log('peer %s disconnected: %s', agent, error.message);
        this.#dropPeer(peer);
        this.emit('peer:disconnect', agent, error);
      },
    };
  }

  #discoveryHost(): DiscoveryHost {
    return {
      name: this.name,
      log: this.log.extend('discovery'),
      getLocalMD: () => this.getLocalMD(),
      getLocalPartialMD: (descs) =>
        // Labels ride along: a peer that fetched us before a label was set still learns it.
        this.getLocalPartialMD(descs, { includeConnInfo: true, labels: [...this.#labels.keys()] }),
      loadRemoteMD: (blob) => this.loadRemoteMD(blob),
      invalidateRemoteMD: (name) => this.invalidateRemoteMD(name),
      checkRemoteMD: (name) => !this.#closed && this.#peers.has(name),
      onRegistrationChange: (listener) => {
        this.#registrationListeners.add(listener);
        return () => this.#registrationListeners.delete(listener);
      },
      emitPeerEvent: (kind: PeerEventKind, name: string) => {
        this.emit(kind, name);
      },
      emitError: (error) => {
        this.emit('discovery:error', error);
      },
    };
  }
}
