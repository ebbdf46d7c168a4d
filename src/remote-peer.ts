import type { Backend, BackendMD } from './backend.js';
import type { MemType } from './descriptors.js';
import { MismatchError } from './errors.js';
import { publicDataOf, reorderRegions, type RegionColumns } from './metadata.js';
import { RegionRegistry, sortedOrder } from './region-registry.js';
import type { RemoteRegion } from './regions.js';

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

const MDS = 0;
const PUBLIC_DATA = 1;
type Slot = typeof MDS | typeof PUBLIC_DATA;

interface BackendEntry {
  md: BackendMD | undefined;
  pd: Uint8Array | undefined;
}

/**
 * A peer's region, as loaded from its metadata. Nearly every region is
 * described by one backend, and a peer may export a million regions: the
 * first backend's handle and public data are held in the region itself
 * (further backends' in a Map), and `mds` / `publicData` are Map views of
 * them, made on first use: a load makes three objects per region (this,
 * the backend's handle and the public data), not five or more.
 */
export class PeerRegion implements RemoteRegion {
  readonly memType: MemType;
  readonly addr: number;
  readonly len: number;
  readonly devId: number;
  #backend: Backend | undefined = undefined;
  #md: BackendMD | undefined = undefined;
  #pd: Uint8Array | undefined = undefined;
  #more: Map<Backend, BackendEntry> | undefined = undefined;
  #mdsView: RegionBackendMap<BackendMD> | undefined = undefined;
  #pdView: RegionBackendMap<Uint8Array> | undefined = undefined;

  constructor(memType: MemType, addr: number, len: number, devId: number) {
    this.memType = memType;
    this.addr = addr;
    this.len = len;
    this.devId = devId;
  }

  get mds(): Map<Backend, BackendMD> {
    return (this.#mdsView ??= new RegionBackendMap<BackendMD>(this, MDS));
  }

  get publicData(): Map<Backend, Uint8Array> {
    return (this.#pdView ??= new RegionBackendMap<Uint8Array>(this, PUBLIC_DATA));
  }

  /** Records a backend's handle and public data for this region. */
  attach(backend: Backend, md: BackendMD, pd: Uint8Array): void {
    this.set(MDS, backend, md);
    this.set(PUBLIC_DATA, backend, pd);
  }

  /** Forgets a backend; returns its handle (for the caller to unload). */
  detach(backend: Backend): BackendMD | undefined {
    const md = this.get(MDS, backend) as BackendMD | undefined;
    this.delete(MDS, backend);
    this.delete(PUBLIC_DATA, backend);
    return md;
  }

  /** The public data a backend loaded for this region, if any. */
  publicDataOf(backend: Backend): Uint8Array | undefined {
    return this.get(PUBLIC_DATA, backend) as Uint8Array | undefined;
  }

  /** Unloads every backend handle. */
  unloadAll(): void {
    if (this.#backend !== undefined && this.#md !== undefined) this.#backend.unloadMD(this.#md);
    if (this.#more) for (const [b, e] of this.#more) if (e.md !== undefined) b.unloadMD(e.md);
    this.#backend = this.#md = this.#pd = this.#more = undefined;
  }

  // The storage behind the two views. A value of undefined is an absent entry.

  get(slot: Slot, backend: Backend): unknown {
    if (backend === this.#backend) return slot === MDS ? this.#md : this.#pd;
    const e = this.#more?.get(backend);
    return e && (slot === MDS ? e.md : e.pd);
  }

  set(slot: Slot, backend: Backend, value: unknown): void {
    if (backend !== this.#backend) {
      let e = this.#more?.get(backend);
      if (!e && this.#backend !== undefined) {
        this.#more ??= new Map();
        this.#more.set(backend, (e = { md: undefined, pd: undefined }));
      }
      if (e) {
        if (slot === MDS) e.md = value as BackendMD;
        else e.pd = value as Uint8Array;
        return;
      }
      this.#backend = backend;
    }
    if (slot === MDS) this.#md = value as BackendMD;
    else this.#pd = value as Uint8Array;
  }

  delete(slot: Slot, backend: Backend): boolean {
    if (backend === this.#backend) {
      const had = (slot === MDS ? this.#md : this.#pd) !== undefined;
      if (slot === MDS) this.#md = undefined;
      else this.#pd = undefined;
      if (this.#md === undefined && this.#pd === undefined) this.#backend = undefined;
      return had;
    }
    const e = this.#more?.get(backend);
    if (!e) return false;
    const had = (slot === MDS ? e.md : e.pd) !== undefined;
    if (slot === MDS) e.md = undefined;
    else e.pd = undefined;
    if (e.md === undefined && e.pd === undefined) this.#more!.delete(backend);
    return had;
  }

  /** A snapshot of one slot's entries. */
  entries(slot: Slot): Map<Backend, unknown> {
    const out = new Map<Backend, unknown>();
    const first = slot === MDS ? this.#md : this.#pd;
    if (this.#backend !== undefined && first !== undefined) out.set(this.#backend, first);
    if (this.#more) {
      for (const [b, e] of this.#more) {
        const v = slot === MDS ? e.md : e.pd;
        if (v !== undefined) out.set(b, v);
      }
    }
    return out;
  }
}

/** `mds` or `publicData` of a PeerRegion, as a Map (iteration goes over a snapshot). */
class RegionBackendMap<V> implements Map<Backend, V> {
  readonly #region: PeerRegion;
  readonly #slot: Slot;

  constructor(region: PeerRegion, slot: Slot) {
    this.#region = region;
    this.#slot = slot;
  }

  get size(): number {
    return this.#region.entries(this.#slot).size;
  }

  get(key: Backend): V | undefined {
    return this.#region.get(this.#slot, key) as V | undefined;
  }

  has(key: Backend): boolean {
    return this.#region.get(this.#slot, key) !== undefined;
  }

  set(key: Backend, value: V): this {
    this.#region.set(this.#slot, key, value);
    return this;
  }

  delete(key: Backend): boolean {
    return this.#region.delete(this.#slot, key);
  }

  clear(): void {
    for (const b of this.#region.entries(this.#slot).keys()) this.#region.delete(this.#slot, b);
  }

  forEach(fn: (value: V, key: Backend, map: Map<Backend, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.#snapshot()) fn.call(thisArg, v, k, this);
  }

  #snapshot(): Map<Backend, V> {
    return this.#region.entries(this.#slot) as Map<Backend, V>;
  }

  entries(): MapIterator<[Backend, V]> {
    return this.#snapshot().entries();
  }

  keys(): MapIterator<Backend> {
    return this.#snapshot().keys();
  }

  values(): MapIterator<V> {
    return this.#snapshot().values();
  }

  [Symbol.iterator](): MapIterator<[Backend, V]> {
    return this.#snapshot().entries();
  }

  get [Symbol.toStringTag](): string {
    return 'Map';
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
