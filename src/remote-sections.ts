import type { Backend } from './backend.js';
import { DescList, type MemType } from './descriptors.js';
import {
  BackendError,
  InvalidParamError,
  MismatchError,
  NotFoundError,
  type NixlError,
} from './errors.js';
import type { Logger } from './logger.js';
import {
  checkRegions,
  decodeMetadataHeader,
  unpackRegions,
  type MetadataHeader,
  type PackedSection,
  type RegionColumns,
} from './metadata.js';
import { unloadBatch, type LoadedBatch } from './remote-handles.js';
import { RemoteRegionTable, type StagedRegions } from './remote-region-table.js';
import { SectionWalk, type SectionRegions } from './section-walk.js';
import { waitAbortedError } from './wait-aborted.js';

export type { SectionRegions } from './section-walk.js';

/** A metadata load's regions, checked and counted (RemotePeer.planRegions). */
export interface RegionLoadPlan {
  readonly walks: readonly SectionWalk[];
}

/** What this agent knows about one peer: NIXL's remote section. */
export class RemotePeer {
  readonly name: string;
  readonly agentId: Uint8Array;
  readonly hostId: string;
  /** Bumped each time the peer's metadata is replaced; stale handles fail. */
  readonly generation: number;
  /** Backends that hold this peer's connection info, with the info loaded. */
  readonly conns = new Map<Backend, Uint8Array>();
  readonly regions = new Map<MemType, RemoteRegionTable>();
  readonly labels = new Map<string, Uint8Array>();

  constructor(name: string, agentId: Uint8Array, hostId: string, generation: number) {
    this.name = name;
    this.agentId = agentId;
    this.hostId = hostId;
    this.generation = generation;
  }

  table(memType: MemType): RemoteRegionTable {
    let t = this.regions.get(memType);
    if (!t) {
      t = new RemoteRegionTable();
      this.regions.set(memType, t);
    }
    return t;
  }

  /** Regions known for this peer, all memory types together. */
  get regionCount(): number {
    let n = 0;
    for (const r of this.regions.values()) n += r.size;
    return n;
  }

  /**
   * Plans the regions of one metadata load, in O(n log n), changing nothing:
   * per memory type, every section is sorted once by (devId, addr) and all
   * of them are walked together with the regions `base` already has (none
   * for a new peer or a full reload), which checks overlaps, repeated and
   * changed public data, and counts the new regions. MismatchError if the
   * metadata is inconsistent or would leave the peer with more than
   * `maxRegions` regions.
   */
  static planRegions(
    name: string,
    base: RemotePeer | undefined,
    sections: readonly SectionRegions[],
    maxRegions: number,
  ): RegionLoadPlan {
    const byType = new Map<MemType, SectionRegions[]>();
    for (const s of sections) {
      const list = byType.get(s.memType);
      if (list) list.push(s);
      else byType.set(s.memType, [s]);
    }
    const walks: SectionWalk[] = [];
    let total = base?.regionCount ?? 0;
    for (const [memType, list] of byType) {
      const walk = new SectionWalk(name, memType, base?.regions.get(memType), list);
      total += walk.plan();
      walks.push(walk);
    }
    if (total > maxRegions) {
      throw new MismatchError(
        `metadata of '${name}' would leave ${total} regions for it; this agent keeps at most ` +
          `${maxRegions} per peer (maxRemoteRegions)`,
        { op: 'loadRemoteMD' },
      );
    }
    return { walks };
  }

  /**
   * Carries out a plan made against this peer (or, for a new peer, against
   * none): has the backends load the handles, each batch listed in `loaded`
   * as it is made (the caller unloads them if a backend refuses), then
   * merges the new regions into the tables, last, so a refused load leaves
   * them as they were.
   */
  commitRegions(plan: RegionLoadPlan, loaded: LoadedBatch[]): void {
    const staged: StagedRegions[] = plan.walks.map((w) => w.stage(loaded));
    for (let i = 0; i < plan.walks.length; i++) {
      this.table(plan.walks[i]!.memType).commit(staged[i]!);
    }
  }

  /** Unloads every backend handle of every region. */
  unloadAll(): void {
    for (const t of this.regions.values()) t.unloadAll();
    this.regions.clear();
  }
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** What the remote sections need of their agent. */
export interface RemoteSectionsOptions {
  /** The agent's name: its own metadata is refused, and errors carry it. */
  readonly agentName: string;
  /** The agent's backends in preference order (its live list: later ones count too). */
  readonly backends: readonly Backend[];
  /** The most regions kept for one peer (AgentOptions.maxRemoteRegions). */
  readonly maxRegions: number;
  readonly log: Logger;
}

/**
 * NIXL's remote sections: what this agent knows of each peer, from the
 * metadata it loaded. Full metadata (or a restarted peer: a new agentId)
 * replaces a peer with a new generation, so requests prepared against the
 * old one fail; partial metadata adds to the current one. A load is all or
 * nothing: checked and counted first (the maxRemoteRegions cap), then the
 * backend handles are made, undone if a backend refuses.
 */
export class RemoteSections {
  readonly #o: RemoteSectionsOptions;
  readonly #peers = new Map<string, RemotePeer>();
  readonly #loadListeners = new Set<(name: string) => void>();
  #generation = 0;

  constructor(opts: RemoteSectionsOptions) {
    this.#o = opts;
  }

  get(name: string): RemotePeer | undefined {
    return this.#peers.get(name);
  }

  has(name: string): boolean {
    return this.#peers.has(name);
  }

  /** Names of the peers whose metadata is loaded. */
  names(): string[] {
    return [...this.#peers.keys()];
  }

  /** Calls `listener` after every successful load (full or partial); returns the unsubscribe. */
  onLoaded(listener: (name: string) => void): () => void {
    this.#loadListeners.add(listener);
    return () => this.#loadListeners.delete(listener);
  }

  #ctx(op: string): { op: string; agent: string } {
    return { op, agent: this.#o.agentName };
  }

  /** Loads a peer's metadata (full or partial); returns the peer's name. See Agent.loadRemoteMD. */
  load(blob: Uint8Array): string {
    const ctx = this.#ctx('loadRemoteMD');
    const backends = this.#o.backends;
    const md = decodeMetadataHeader(blob);
    const regions = this.#unpackSections(md);
    if (md.name === this.#o.agentName)
      throw new InvalidParamError(`metadata is this agent's own ('${md.name}')`, ctx);
    const old = this.#peers.get(md.name);
    const restarted = old !== undefined && !sameBytes(old.agentId, md.agentId);
    if (old && !restarted) {
      for (const c of md.conns) {
        const b = backends.find((x) => x.type === c.backend);
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
      this.#o.maxRegions,
    );
    if (old && (restarted || !md.partial)) {
      if (
        restarted &&
        md.partial &&
        !md.conns.some((c) => backends.some((b) => b.type === c.backend))
      ) {
        throw new MismatchError(
          `partial metadata from a restarted '${md.name}' without connection info`,
          ctx,
        );
      }
      // Full metadata, or a new instance of the peer: start from a clean slate.
      this.drop(old);
    }
    const current = this.#peers.get(md.name);
    const peer = current ?? new RemotePeer(md.name, md.agentId, md.hostId, ++this.#generation);
    const stagedConns: Backend[] = [];
    const loaded: LoadedBatch[] = [];
    try {
      for (const c of md.conns) {
        const b = backends.find((x) => x.type === c.backend && x.capabilities.remote);
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
            `this agent has ${backends.map((b) => b.type).join(', ') || 'none'})`,
          ctx,
        );
      }
      peer.commitRegions(plan, loaded);
    } catch (err) {
      // Registries change last, in commitRegions: only backend handles to undo.
      for (const l of loaded.reverse()) unloadBatch(l);
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
    for (const l of [...this.#loadListeners]) l(md.name);
    return md.name;
  }

  /** The backend that would load a section, if this agent has it (before connections). */
  #sectionBackend(s: PackedSection): Backend | undefined {
    const b = this.#o.backends.find((x) => x.type === s.backend && x.capabilities.remote);
    return b && b.capabilities.mems.includes(s.memType) ? b : undefined;
  }

  /**
   * Checks every section of a metadata load and unpacks those this agent can
   * use. The region cap is checked first, from the counts alone: a section
   * past it is refused before any of its regions is read.
   */
  #unpackSections(md: MetadataHeader): Map<PackedSection, RegionColumns> {
    const max = this.#o.maxRegions;
    for (const s of md.sections) {
      if (s.count > max && this.#sectionBackend(s)) {
        throw new MismatchError(
          `metadata of '${md.name}' lists ${s.count} ${s.backend}/${s.memType} regions; this ` +
            `agent keeps at most ${max} per peer (maxRemoteRegions)`,
          { ...this.#ctx('loadRemoteMD'), backend: s.backend },
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

  /** Forgets a peer (NIXL's invalidateRemoteMD); NotFoundError if unknown. */
  invalidate(name: string): void {
    const peer = this.#peers.get(name);
    if (!peer)
      throw new NotFoundError(`no metadata loaded for '${name}'`, this.#ctx('invalidateRemoteMD'));
    this.drop(peer);
  }

  /** True if the peer is known and (when given) its regions cover every descriptor. */
  check(name: string, list?: DescList): boolean {
    const peer = this.#peers.get(name);
    if (!peer) return false;
    if (!list) return true;
    const table = peer.regions.get(list.memType);
    for (let i = 0; i < list.length; i++) {
      if (!table || table.covering(list.addrs[i]!, list.lens[i]!, list.devIds[i]!) < 0) {
        return false;
      }
    }
    return true;
  }

  /** A peer's regions of one memory type, as descriptors (addresses are the peer's). */
  regionsOf(name: string, memType: MemType): DescList {
    const peer = this.#peers.get(name);
    if (!peer)
      throw new NotFoundError(`no metadata loaded for '${name}'`, this.#ctx('getRemoteRegions'));
    const list = new DescList(memType);
    const table = peer.regions.get(memType);
    for (let i = 0; i < (table?.size ?? 0); i++) {
      list.add(table!.addrAt(i), table!.lenAt(i), table!.devIdAt(i));
    }
    return list;
  }

  /** A label the peer published, or undefined. */
  label(name: string, label: string): Uint8Array | undefined {
    return this.#peers.get(name)?.labels.get(label);
  }

  /** NotFoundError unless the peer is loaded at exactly this generation. */
  checkGeneration(name: string, generation: number, op: string): void {
    const peer = this.#peers.get(name);
    if (!peer || peer.generation !== generation) {
      throw new NotFoundError(
        peer
          ? `the metadata of '${name}' was reloaded since this was prepared; prepare it again`
          : `no metadata loaded for '${name}'`,
        this.#ctx(op),
      );
    }
  }

  /**
   * Drops a peer after a failure a backend or a request reported; with a
   * generation, only if the peer is still at it (a reloaded peer is not the
   * one that failed). Returns whether it was dropped.
   */
  dropFailed(name: string, generation?: number): boolean {
    const peer = this.#peers.get(name);
    if (!peer || (generation !== undefined && peer.generation !== generation)) return false;
    this.drop(peer);
    return true;
  }

  /** Forgets a peer: unloads its metadata and disconnects every backend from it. */
  drop(peer: RemotePeer): void {
    if (this.#peers.get(peer.name) === peer) this.#peers.delete(peer.name);
    peer.unloadAll();
    for (const b of peer.conns.keys())
      void b.disconnect(peer.name).catch((e) => this.#o.log('disconnect %s: %s', peer.name, e));
    peer.conns.clear();
  }

  /** Drops every peer (the agent is closing). */
  dropAll(): void {
    for (const peer of [...this.#peers.values()]) this.drop(peer);
  }

  /**
   * Resolves once metadata for `name` is loaded. When the signal aborts,
   * rejects with NotFoundError if its reason is a TimeoutError (the peer was
   * not found in time; NIXL has no timeout status), else with CanceledError;
   * either names the peer and how long it waited, with the reason as `cause`.
   */
  waitFor(name: string, signal?: AbortSignal): Promise<void> {
    if (this.#peers.has(name)) return Promise.resolve();
    const start = performance.now();
    const aborted = (): NixlError =>
      waitAbortedError(`peer '${name}'`, signal!.reason, start, this.#ctx('waitForPeer'));
    if (signal?.aborted) return Promise.reject(aborted());
    return new Promise<void>((resolve, reject) => {
      const off = this.onLoaded((n) => {
        if (n !== name) return;
        cleanup();
        resolve();
      });
      const onAbort = () => {
        cleanup();
        reject(aborted());
      };
      const cleanup = () => {
        off();
        signal?.removeEventListener('abort', onAbort);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
