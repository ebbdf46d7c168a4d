import type { Backend } from './backend.js';
import { DescList, type MemType } from './descriptors.js';
import {
  BackendError,
  CanceledError,
  InvalidParamError,
  MismatchError,
  NotFoundError,
  type NixlError,
} from './errors.js';
import type { Logger } from './logger.js';
import {
  checkRegions,
  decodeMetadataHeader,
  publicDataOf,
  reorderRegions,
  unpackRegions,
  type MetadataHeader,
  type PackedSection,
  type RegionColumns,
} from './metadata.js';
import { PeerRegion } from './peer-region.js';
import { RegionRegistry, sortedOrder } from './region-registry.js';

export { PeerRegion } from './peer-region.js';

/** One section of a metadata load that this agent uses: a backend's regions of one memory type. */
export interface SectionRegions {
  readonly backend: Backend;
  readonly memType: MemType;
  readonly regions: RegionColumns;
}

/**
 * The backend handles a load made: what a refused load unloads. Regions the
 * load created are listed as they are made (every handle of theirs is the
 * load's); a backend added to a known region is listed as a pair.
 */
export class StagedHandles {
  readonly #created: PeerRegion[][] = [];
  readonly #regions: PeerRegion[] = [];
  readonly #backends: Backend[] = [];

  /** Lists a load's new regions: `list` is filled as they are made. */
  adopt(list: PeerRegion[]): void {
    this.#created.push(list);
  }

  /** Lists a backend's handle added to a known region. */
  push(region: PeerRegion, backend: Backend): void {
    this.#regions.push(region);
    this.#backends.push(backend);
  }

  /** Unloads every staged handle and forgets them. */
  undo(): void {
    for (let i = this.#regions.length - 1; i >= 0; i--) {
      const md = this.#regions[i]!.detach(this.#backends[i]!);
      if (md !== undefined) this.#backends[i]!.unloadMD(md);
    }
    for (const list of this.#created) for (const region of list) region.unloadAll();
    this.#created.length = 0;
    this.#regions.length = 0;
    this.#backends.length = 0;
  }
}

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
  readonly regions = new Map<MemType, RegionRegistry<PeerRegion>>();
  readonly labels = new Map<string, Uint8Array>();

  constructor(name: string, agentId: Uint8Array, hostId: string, generation: number) {
    this.name = name;
    this.agentId = agentId;
    this.hostId = hostId;
    this.generation = generation;
  }

  registry(memType: MemType): RegionRegistry<PeerRegion> {
    let r = this.regions.get(memType);
    if (!r) {
      r = new RegionRegistry<PeerRegion>();
      this.regions.set(memType, r);
    }
    return r;
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
      const existing = base?.regions.get(memType)?.values() ?? [];
      const walk = new SectionWalk(name, memType, existing, list);
      total += walk.run(undefined);
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
   * none): makes the backend handles, listed in `staged` (which the caller
   * undoes if a backend refuses), then merges the new regions into the
   * registries, last, in one pass each, so a refused load leaves them as
   * they were.
   */
  commitRegions(plan: RegionLoadPlan, staged: StagedHandles): void {
    const created = plan.walks.map((w) => {
      const out: PeerRegion[] = [];
      staged.adopt(out);
      w.run({ staged, created: out });
      return out;
    });
    for (let i = 0; i < plan.walks.length; i++) {
      this.registry(plan.walks[i]!.memType).insertSorted(created[i]!);
    }
  }

  /** Unloads every backend handle of every region. */
  unloadAll(): void {
    for (const reg of this.regions.values()) {
      for (const region of reg.values()) region.unloadAll();
      reg.clear();
    }
  }
}

/**
 * One merge walk over the sections of one memory type, each sorted by
 * (devId, addr) once, and the registry's regions. Entries of equal (devId,
 * addr) form a group: one region, described by one or more backends. A
 * planning run (no commit) checks and counts; a commit run, over the same
 * unchanged input, makes the backend handles and lists the new regions in
 * order.
 */
export class SectionWalk {
  /** The sections' regions, each in (devId, addr) order. */
  readonly #columns: RegionColumns[];
  readonly #backends: Backend[];

  constructor(
    readonly peer: string,
    readonly memType: MemType,
    /** The regions known before the load, sorted (unchanged until the commit). */
    readonly existing: readonly PeerRegion[],
    sections: readonly SectionRegions[],
  ) {
    this.#backends = sections.map((s) => s.backend);
    this.#columns = sections.map((s) => {
      const c = s.regions;
      const order = sortedOrder(c.devIds, c.addrs, c.count);
      return order ? reorderRegions(c, order) : c;
    });
  }

  /** Returns the number of regions the load adds. */
  run(commit: { staged: StagedHandles; created: PeerRegion[] } | undefined): number {
    const cols = this.#columns;
    const backends = this.#backends;
    const k = cols.length;
    const heads = new Array<number>(k).fill(0);
    const existing = this.existing;
    // The entries of the current group (grown, never shrunk: no allocation per group).
    const groupSec: number[] = [];
    const groupIdx: number[] = [];
    let size = 0;
    let j = 0;
    let prevDev = -1;
    let prevEnd = 0;
    let added = 0;
    for (;;) {
      // The smallest (devId, addr) at the head of any section.
      let first = -1;
      let devId = 0;
      let addr = 0;
      for (let s = 0; s < k; s++) {
        const c = cols[s]!;
        const h = heads[s]!;
        if (h >= c.count) continue;
        const d = c.devIds[h]!;
        const a = c.addrs[h]!;
        if (first < 0 || d < devId || (d === devId && a < addr)) {
          first = s;
          devId = d;
          addr = a;
        }
      }
      if (first < 0) break;
      size = 0;
      for (let s = first; s < k; s++) {
        const c = cols[s]!;
        let h = heads[s]!;
        while (h < c.count && c.devIds[h] === devId && c.addrs[h] === addr) {
          groupSec[size] = s;
          groupIdx[size] = h;
          size++;
          h++;
        }
        heads[s] = h;
      }

      const len = cols[first]!.lens[groupIdx[0]!]!;
      const backend = backends[first]!;
      for (let g = 1; g < size; g++) {
        if (cols[groupSec[g]!]!.lens[groupIdx[g]!] !== len) {
          throw this.#overlap(addr, len, backend);
        }
      }
      if (devId === prevDev && prevEnd > addr) throw this.#overlap(addr, len, backend);
      prevDev = devId;
      prevEnd = addr + len;

      while (j < existing.length && before(existing[j]!, devId, addr)) j++;
      let region: PeerRegion | undefined;
      const next = existing[j];
      if (next && next.devId === devId && next.addr === addr) {
        if (next.len !== len) throw this.#overlap(addr, len, backend);
        region = next;
      } else {
        if (next && next.devId === devId && next.addr < addr + len) {
          throw this.#overlap(addr, len, backend);
        }
        const prev = existing[j - 1];
        if (prev && prev.devId === devId && prev.addr + prev.len > addr) {
          throw this.#overlap(addr, len, backend);
        }
        added++;
      }

      let made = false; // the region is this load's: its handles go with it on a refusal
      for (let g = 0; g < size; g++) {
        const s = groupSec[g]!;
        const i = groupIdx[g]!;
        const c = cols[s]!;
        const b = backends[s]!;
        // The same region twice in one section: harmless if it says the same.
        if (g > 0 && groupSec[g - 1] === s) {
          if (!sameRange(c, groupIdx[g - 1]!, i)) throw this.#changed(addr, len, b);
          continue;
        }
        const known = region?.publicDataOf(b);
        if (known) {
          if (!sameBytesAt(known, c, i)) throw this.#changed(addr, len, b);
          continue;
        }
        if (!commit) continue;
        if (!region) {
          region = new PeerRegion(this.memType, addr, len, devId);
          commit.created.push(region);
          made = true;
        }
        const publicData = publicDataOf(c, i);
        const handle = b.loadRemoteMD!(this.peer, {
          memType: this.memType,
          addr,
          len,
          devId,
          publicData,
        });
        region.attach(b, handle, publicData);
        if (!made) commit.staged.push(region, b);
      }
    }
    return added;
  }

  #overlap(addr: number, len: number, backend: Backend): Error {
    return new MismatchError(
      `region [0x${addr.toString(16)}, +${len}) overlaps another region of the peer`,
      { op: 'loadRemoteMD', backend: backend.type },
    );
  }

  #changed(addr: number, len: number, backend: Backend): Error {
    return new MismatchError(`region [0x${addr.toString(16)}, +${len}) changed its public data`, {
      op: 'loadRemoteMD',
      backend: backend.type,
    });
  }
}

function before(r: PeerRegion, devId: number, addr: number): boolean {
  return r.devId < devId || (r.devId === devId && r.addr < addr);
}

/** True if regions i and j of c carry the same public data. */
function sameRange(c: RegionColumns, i: number, j: number): boolean {
  const a = c.pdRanges[2 * i]!;
  const b = c.pdRanges[2 * j]!;
  const n = c.pdRanges[2 * i + 1]! - a;
  if (c.pdRanges[2 * j + 1]! - b !== n) return false;
  for (let k = 0; k < n; k++) if (c.publicData[a + k] !== c.publicData[b + k]) return false;
  return true;
}

/** True if `bytes` equals region i's public data in c. */
function sameBytesAt(bytes: Uint8Array, c: RegionColumns, i: number): boolean {
  const a = c.pdRanges[2 * i]!;
  if (c.pdRanges[2 * i + 1]! - a !== bytes.length) return false;
  for (let k = 0; k < bytes.length; k++) if (bytes[k] !== c.publicData[a + k]) return false;
  return true;
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
    const stagedRegions = new StagedHandles();
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
    const reg = peer.regions.get(list.memType);
    for (let i = 0; i < list.length; i++) {
      if (!reg?.findCovering(list.addrs[i]!, list.lens[i]!, list.devIds[i]!)) return false;
    }
    return true;
  }

  /** A peer's regions of one memory type, as descriptors (addresses are the peer's). */
  regionsOf(name: string, memType: MemType): DescList {
    const peer = this.#peers.get(name);
    if (!peer)
      throw new NotFoundError(`no metadata loaded for '${name}'`, this.#ctx('getRemoteRegions'));
    const list = new DescList(memType);
    for (const r of peer.regions.get(memType)?.values() ?? []) list.add(r.addr, r.len, r.devId);
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
    const aborted = (): NixlError => {
      const reason: unknown = signal!.reason;
      const ms = Math.round(performance.now() - start);
      const ctx = { ...this.#ctx('waitForPeer'), cause: reason };
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
