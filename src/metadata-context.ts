import type { Backend } from './backend.js';
import { MEM_TYPES, RegDescList, type DescList } from './descriptors.js';
import type { DiscoveryHost, PeerEventKind, RegistrationChange } from './discovery.js';
import { InvalidParamError, NotFoundError, type NixlError } from './errors.js';
import type { LocalSection } from './local-section.js';
import type { Logger } from './logger.js';
import { encodeMetadata, type AgentMetadata, type MemSectionMetadata } from './metadata.js';
import type { LocalRegion } from './regions.js';
import type { RemoteSections } from './remote-sections.js';

/** Partial metadata's options (Agent.getLocalPartialMD). */
export interface PartialMetadataOptions {
  backends?: readonly string[];
  includeConnInfo?: boolean;
  labels?: readonly string[];
}

/** What the metadata context needs of its agent. */
export interface MetadataContextOptions {
  readonly name: string;
  readonly agentId: Uint8Array;
  readonly hostId: string;
  /** The discovery services' logger. */
  readonly log: Logger;
  /** The agent's backends, in preference order (its live list). */
  readonly backends: readonly Backend[];
  readonly local: LocalSection;
  readonly remote: RemoteSections;
  /** The agent's closed check (NotAllowedError naming `op`). */
  checkOpen(op: string): void;
  isClosed(): boolean;
  /** The agent's backend selection by plugin name (all of them for undefined). */
  selectBackends(names: readonly string[] | undefined, ctx: object): readonly Backend[];
  /** Emits a peer event or 'discovery:error' on the agent. */
  emit(event: PeerEventKind, name: string): void;
  emitError(error: NixlError): void;
}

/**
 * What a discovery or metadata plugin sees of the agent (the DiscoveryHost):
 * this agent's metadata as published (connection info, registered regions'
 * public data, labels), loading and dropping peers' metadata, and the
 * changes to its registered memory.
 */
export class MetadataContext implements DiscoveryHost {
  readonly name: string;
  readonly log: Logger;
  readonly #o: MetadataContextOptions;
  readonly #labels = new Map<string, Uint8Array>();
  readonly #listeners = new Set<(c: RegistrationChange) => void>();

  constructor(opts: MetadataContextOptions) {
    this.#o = opts;
    this.name = opts.name;
    this.log = opts.log;
  }

  // ------------------------------------------------------------- publishing

  /** This agent's full metadata (Agent.getLocalMD). */
  getLocalMD(): Uint8Array {
    this.#o.checkOpen('getLocalMD');
    const remote = this.#o.backends.filter((b) => b.capabilities.remote);
    if (remote.length === 0) {
      throw new InvalidParamError('no remote-capable backend: there is nothing a peer could use', {
        op: 'getLocalMD',
        agent: this.name,
      });
    }
    return encodeMetadata(this.describe(remote, undefined, true, [...this.#labels.keys()], false));
  }

  /**
   * Partial metadata with connection info and exactly these regions, and
   * every label: a peer that fetched this agent before a label was set still
   * learns it. What a discovery service gossips.
   */
  getLocalPartialMD(descs: DescList): Uint8Array {
    return this.partialMD(descs, { includeConnInfo: true, labels: [...this.#labels.keys()] });
  }

  /** Partial metadata (Agent.getLocalPartialMD). */
  partialMD(descs: DescList | null | undefined, opts: PartialMetadataOptions): Uint8Array {
    const ctx = { op: 'getLocalPartialMD', agent: this.name };
    this.#o.checkOpen('getLocalPartialMD');
    const remote = this.#o.selectBackends(opts.backends, ctx).filter((b) => b.capabilities.remote);
    if (remote.length === 0) throw new InvalidParamError('no remote-capable backend selected', ctx);
    const regions = descs && descs.length > 0 ? this.#o.local.exact(descs, ctx) : undefined;
    for (const l of opts.labels ?? []) {
      if (!this.#labels.has(l)) throw new NotFoundError(`no label '${l}' is set`, ctx);
    }
    const withConns = !regions || opts.includeConnInfo === true;
    return encodeMetadata(this.describe(remote, regions ?? [], withConns, opts.labels ?? [], true));
  }

  /**
   * The metadata of `backends`: the given regions (every registered one for
   * undefined) that each backend holds, with its public data.
   */
  describe(
    backends: readonly Backend[],
    regions: readonly LocalRegion[] | undefined,
    withConns: boolean,
    labels: readonly string[],
    partial: boolean,
  ): AgentMetadata {
    const sections: MemSectionMetadata[] = [];
    for (const b of backends) {
      for (const memType of MEM_TYPES) {
        const source = regions
          ? regions.filter((r) => r.memType === memType)
          : this.#o.local.regions(memType);
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
      agentId: this.#o.agentId,
      hostId: this.#o.hostId,
      partial,
      conns: withConns
        ? backends.map((b) => ({ backend: b.type, connInfo: b.getConnInfo!() }))
        : [],
      sections,
      labels: new Map(labels.map((l) => [l, this.#labels.get(l)!])),
    };
  }

  // ----------------------------------------------------------------- labels

  setLabel(label: string, data: Uint8Array): void {
    this.#labels.set(label, data);
  }

  deleteLabel(label: string): boolean {
    return this.#labels.delete(label);
  }

  // ------------------------------------------------------------------ peers

  loadRemoteMD(blob: Uint8Array): string {
    this.#o.checkOpen('loadRemoteMD');
    return this.#o.remote.load(blob);
  }

  invalidateRemoteMD(name: string): void {
    this.#o.checkOpen('invalidateRemoteMD');
    this.#o.remote.invalidate(name);
  }

  /** True if the peer's metadata is loaded (false once the agent is closed). */
  checkRemoteMD(name: string): boolean {
    return !this.#o.isClosed() && this.#o.remote.has(name);
  }

  emitPeerEvent(kind: PeerEventKind, name: string): void {
    this.#o.emit(kind, name);
  }

  emitError(error: NixlError): void {
    this.#o.emitError(error);
  }

  // ---------------------------------------------------- registration changes

  onRegistrationChange(listener: (change: RegistrationChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells the listeners that regions (all of one memory type) were registered or deregistered. */
  notifyRegistration(kind: RegistrationChange['kind'], regions: readonly LocalRegion[]): void {
    if (this.#listeners.size === 0 || regions.length === 0) return;
    const descs = new RegDescList(regions[0]!.memType, regions.length);
    for (const r of regions) descs.addRegion(r.addr, r.len, r.devId);
    for (const l of this.#listeners) l({ kind, descs });
  }

  /** Forgets the registration listeners (the agent is closing). */
  clear(): void {
    this.#listeners.clear();
  }
}
