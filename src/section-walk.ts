import { rangesEqual } from './bytes-equal.js';
import type { Backend, RemoteRegionBatch } from './backend.js';
import type { MemType } from './descriptors.js';
import { MismatchError } from './errors.js';
import { reorderRegions, type RegionColumns } from './metadata.js';
import { sortedOrder } from './region-registry.js';
import { loadBatch, type LoadedBatch } from './remote-handles.js';
import type { RemoteRegionTable, StagedRegions } from './remote-region-table.js';

/** One section of a metadata load that this agent uses: a backend's regions of one memory type. */
export interface SectionRegions {
  readonly backend: Backend;
  readonly memType: MemType;
  readonly regions: RegionColumns;
}

/**
 * One merge walk over a load's sections of one memory type, each sorted by
 * (devId, addr) once, and the regions the peer's table already has. Entries
 * of equal (devId, addr) form a group: one region, described by one or more
 * backends. `plan` checks (overlaps, changed or repeated public data) and
 * counts the new regions, changing nothing; `stage`, over the same
 * unchanged input, has each backend load the handles it lacks, one batch
 * per section, and returns what the table then merges in one pass.
 */
export class SectionWalk {
  /** The sections' regions, each in (devId, addr) order. */
  readonly #columns: RegionColumns[];
  readonly #backends: Backend[];

  constructor(
    readonly peer: string,
    readonly memType: MemType,
    /** The regions known before the load (unchanged until the commit). */
    readonly table: RemoteRegionTable | undefined,
    sections: readonly SectionRegions[],
  ) {
    this.#backends = sections.map((s) => s.backend);
    this.#columns = sections.map((s) => {
      const c = s.regions;
      const order = sortedOrder(c.devIds, c.addrs, c.count);
      return order ? reorderRegions(c, order) : c;
    });
  }

  /** Checks the load; returns the number of regions it adds. */
  plan(): number {
    return this.#walk(undefined);
  }

  /**
   * Makes the backend handles (every batch made is pushed to `loaded`, for
   * the caller to unload if a later one is refused) and returns the staged
   * regions for the table's commit.
   */
  stage(loaded: LoadedBatch[]): StagedRegions {
    const cols = this.#columns;
    let capacity = 0;
    for (const c of cols) capacity += c.count;
    const out: Staging = {
      count: 0,
      devIds: new Float64Array(capacity),
      addrs: new Float64Array(capacity),
      lens: new Float64Array(capacity),
      need: cols.map((c) => ({
        count: 0,
        entries: new Uint32Array(c.count),
        targets: new Int32Array(c.count),
      })),
    };
    this.#walk(out);

    const handles: StagedRegions['handles'] = new Map();
    const added: StagedRegions['added'][number][] = [];
    const batches: LoadedBatch[] = [];
    for (let s = 0; s < cols.length; s++) {
      const need = out.need[s]!;
      if (need.count === 0) continue;
      const backend = this.#backends[s]!;
      const batch = batchOf(this.memType, cols[s]!, need.entries, need.count);
      const made = loadBatch(backend, this.peer, batch);
      loaded.push(made);
      const n = batches.push(made) - 1;
      let h = handles.get(backend);
      if (!h) {
        h = {
          batchOf: new Int32Array(out.count).fill(-1),
          indexIn: new Uint32Array(out.count),
        };
        handles.set(backend, h);
      }
      for (let p = 0; p < need.count; p++) {
        const t = need.targets[p]!;
        if (t >= 0) {
          h.batchOf[t] = n;
          h.indexIn[t] = p;
        } else {
          added.push({ region: -1 - t, backend, batch: n, index: p });
        }
      }
    }
    return {
      count: out.count,
      devIds: out.devIds.subarray(0, out.count),
      addrs: out.addrs.subarray(0, out.count),
      lens: out.lens.subarray(0, out.count),
      handles,
      added,
      batches,
    };
  }

  /** The walk itself: checks and counts, and with `out`, stages. */
  #walk(out: Staging | undefined): number {
    const cols = this.#columns;
    const backends = this.#backends;
    const k = cols.length;
    const heads = new Array<number>(k).fill(0);
    const table = this.table;
    const known = table?.size ?? 0;
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

      // The known region at (devId, addr), if any (-1), after checking its neighbours.
      while (j < known && before(table!, j, devId, addr)) j++;
      let region = -1;
      if (j < known && table!.devIdAt(j) === devId && table!.addrAt(j) === addr) {
        if (table!.lenAt(j) !== len) throw this.#overlap(addr, len, backend);
        region = j;
      } else {
        if (j < known && table!.devIdAt(j) === devId && table!.addrAt(j) < addr + len) {
          throw this.#overlap(addr, len, backend);
        }
        if (j > 0 && table!.devIdAt(j - 1) === devId) {
          if (table!.addrAt(j - 1) + table!.lenAt(j - 1) > addr) {
            throw this.#overlap(addr, len, backend);
          }
        }
        added++;
      }

      let fresh = -1; // the staged index of this group's new region, once made
      for (let g = 0; g < size; g++) {
        const s = groupSec[g]!;
        const i = groupIdx[g]!;
        const c = cols[s]!;
        const b = backends[s]!;
        // The same backend twice for one region: harmless if it says the same.
        let repeated = false;
        for (let e = 0; e < g && !repeated; e++) {
          if (backends[groupSec[e]!] !== b) continue;
          const ec = cols[groupSec[e]!]!;
          const ei = groupIdx[e]!;
          if (!samePublicData(ec, ei, c, i)) throw this.#changed(addr, len, b);
          repeated = true;
        }
        if (repeated) continue;
        if (region >= 0) {
          const same = table!.publicDataEquals(
            region,
            b,
            c.publicData,
            c.pdRanges[2 * i]!,
            c.pdRanges[2 * i + 1]!,
          );
          if (same === false) throw this.#changed(addr, len, b);
          if (same) continue;
        }
        if (!out) continue;
        if (region < 0 && fresh < 0) {
          fresh = out.count++;
          out.devIds[fresh] = devId;
          out.addrs[fresh] = addr;
          out.lens[fresh] = len;
        }
        // A target is a staged new region (>= 0) or a known one (-1 - its index).
        const need = out.need[s]!;
        need.entries[need.count] = i;
        need.targets[need.count] = region >= 0 ? -1 - region : fresh;
        need.count++;
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

/** What a staging walk fills: the new regions, and per section the entries that need a handle. */
interface Staging {
  count: number;
  readonly devIds: Float64Array;
  readonly addrs: Float64Array;
  readonly lens: Float64Array;
  readonly need: { count: number; entries: Uint32Array; targets: Int32Array }[];
}

function before(t: RemoteRegionTable, j: number, devId: number, addr: number): boolean {
  const d = t.devIdAt(j);
  return d < devId || (d === devId && t.addrAt(j) < addr);
}

/** True if region i of a and region j of b carry the same public data. */
function samePublicData(a: RegionColumns, i: number, b: RegionColumns, j: number): boolean {
  const [as, ae] = [a.pdRanges[2 * i]!, a.pdRanges[2 * i + 1]!];
  const [bs, be] = [b.pdRanges[2 * j]!, b.pdRanges[2 * j + 1]!];
  return rangesEqual(a.publicData, as, ae, b.publicData, bs, be);
}

/** The batch a backend loads: the whole section (the usual case), or the listed entries of it. */
function batchOf(
  memType: MemType,
  c: RegionColumns,
  entries: Uint32Array,
  n: number,
): RemoteRegionBatch {
  let whole = n === c.count;
  for (let p = 0; p < n && whole; p++) whole = entries[p] === p;
  if (whole) return { memType, ...c };
  const order = entries.slice(0, n);
  return { memType, ...reorderRegions(c, order), count: n };
}
