import { rangesEqual } from './bytes-equal.js';
import type { Backend, BackendMD } from './backend.js';
import { unloadBatch, type LoadedBatch } from './remote-handles.js';

/**
 * Where one backend's handles for a table's regions are: region r's handle
 * is batches[batchOf[r]].handles.at(indexIn[r]), none where batchOf[r] is -1.
 */
export interface HandleColumn {
  readonly batches: LoadedBatch[];
  batchOf: Int32Array;
  indexIn: Uint32Array;
}

/** A load's new regions, sorted and checked (by a SectionWalk), with each backend's handles. */
export interface StagedRegions {
  readonly count: number;
  readonly devIds: Float64Array;
  readonly addrs: Float64Array;
  readonly lens: Float64Array;
  /** Per backend: batchOf indexes `batches` below. */
  readonly handles: Map<Backend, { batchOf: Int32Array; indexIn: Uint32Array }>;
  /** Handles a load adds to regions the table already has. */
  readonly added: readonly {
    region: number;
    backend: Backend;
    batch: number;
    index: number;
  }[];
  /** Every batch the load made, in the order `batchOf` counts them. */
  readonly batches: readonly LoadedBatch[];
}

/**
 * A peer's regions of one memory type, in columns sorted by (devId, addr):
 * NIXL's remote section, kept without an object per region, since a peer may
 * export a million of them. Each backend's handles sit in a column of their
 * own (a region may be described by more than one backend); a region's
 * handle object is made when a descriptor list resolves against it.
 */
export class RemoteRegionTable {
  #count = 0;
  #devIds: Float64Array = new Float64Array(0);
  #addrs: Float64Array = new Float64Array(0);
  #lens: Float64Array = new Float64Array(0);
  readonly #columns = new Map<Backend, HandleColumn>();

  get size(): number {
    return this.#count;
  }

  devIdAt(i: number): number {
    return this.#devIds[i]!;
  }

  addrAt(i: number): number {
    return this.#addrs[i]!;
  }

  lenAt(i: number): number {
    return this.#lens[i]!;
  }

  /** Index of the first region ordered at or after (devId, addr). */
  #lowerBound(devId: number, addr: number): number {
    const devIds = this.#devIds;
    const addrs = this.#addrs;
    let lo = 0;
    let hi = this.#count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const d = devIds[mid]!;
      if (d < devId || (d === devId && addrs[mid]! < addr)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The index of the region that wholly contains [addr, addr+len) on devId, or -1. */
  covering(addr: number, len: number, devId: number): number {
    // The candidate is the last region starting at or before addr.
    let i = this.#lowerBound(devId, addr);
    if (!(i < this.#count && this.#devIds[i] === devId && this.#addrs[i] === addr)) i -= 1;
    return i >= 0 && this.covers(i, addr, len, devId) ? i : -1;
  }

  /** True if region i wholly contains [addr, addr+len) on devId. */
  covers(i: number, addr: number, len: number, devId: number): boolean {
    if (this.#devIds[i] !== devId) return false;
    const start = this.#addrs[i]!;
    const rlen = this.#lens[i]!;
    if (addr < start || addr + len > start + rlen) return false;
    // A zero-length region covers only zero-length descriptors at its address.
    return rlen !== 0 || len === 0;
  }

  /** Region i's handle made by `backend`, if that backend describes it. */
  handle(i: number, backend: Backend): BackendMD | undefined {
    const col = this.#columns.get(backend);
    if (!col) return undefined;
    const b = col.batchOf[i]!;
    return b < 0 ? undefined : col.batches[b]!.handles.at(col.indexIn[i]!);
  }

  /**
   * Whether `backend`'s public data for region i equals `bytes[start, end)`;
   * undefined if that backend does not describe region i.
   */
  publicDataEquals(
    i: number,
    backend: Backend,
    bytes: Uint8Array,
    start: number,
    end: number,
  ): boolean | undefined {
    const col = this.#columns.get(backend);
    const b = col ? col.batchOf[i]! : -1;
    if (b < 0) return undefined;
    const { pdRanges, publicData: pd } = col!.batches[b]!;
    const k = col!.indexIn[i]!;
    return rangesEqual(pd, pdRanges[2 * k]!, pdRanges[2 * k + 1]!, bytes, start, end);
  }

  /**
   * Adds a load's staged regions and handles, in one merge pass, O(size +
   * staged). The walk that staged them checked them against this table as it
   * is: no overlaps, and handles added only where the backend had none.
   */
  commit(staged: StagedRegions): void {
    // A load numbers all its batches; a column numbers its own backend's.
    const inColumn = staged.batches.map((loaded) => {
      const col = this.#column(loaded.backend);
      return col.batches.push(loaded) - 1;
    });
    const columnBatch = (n: number) => inColumn[n]!;
    for (const a of staged.added) {
      const col = this.#columns.get(a.backend)!;
      col.batchOf[a.region] = columnBatch(a.batch);
      col.indexIn[a.region] = a.index;
    }
    this.#merge(staged, columnBatch);
  }

  #column(backend: Backend): HandleColumn {
    let col = this.#columns.get(backend);
    if (!col) {
      col = {
        batches: [],
        batchOf: new Int32Array(this.#count).fill(-1),
        indexIn: new Uint32Array(this.#count),
      };
      this.#columns.set(backend, col);
    }
    return col;
  }

  #merge(staged: StagedRegions, columnBatch: (n: number) => number): void {
    const m = staged.count;
    if (m === 0) return;
    const n = this.#count;
    const total = n + m;
    // For each output position, the old region (>= 0) or the staged one (-1 - k).
    const from = new Int32Array(total);
    const oldDev = this.#devIds;
    const oldAddr = this.#addrs;
    let i = 0;
    let k = 0;
    for (let o = 0; o < total; o++) {
      const takeOld =
        k >= m ||
        (i < n &&
          (oldDev[i]! < staged.devIds[k]! ||
            (oldDev[i] === staged.devIds[k] && oldAddr[i]! < staged.addrs[k]!)));
      from[o] = takeOld ? i++ : -1 - k++;
    }
    this.#devIds = gather(from, this.#devIds, staged.devIds);
    this.#addrs = gather(from, this.#addrs, staged.addrs);
    this.#lens = gather(from, this.#lens, staged.lens);
    for (const [backend, col] of this.#columns) {
      const add = staged.handles.get(backend);
      const batchOf = new Int32Array(total);
      const indexIn = new Uint32Array(total);
      for (let o = 0; o < total; o++) {
        const f = from[o]!;
        if (f >= 0) {
          batchOf[o] = col.batchOf[f]!;
          indexIn[o] = col.indexIn[f]!;
        } else if (add && add.batchOf[-1 - f]! >= 0) {
          batchOf[o] = columnBatch(add.batchOf[-1 - f]!);
          indexIn[o] = add.indexIn[-1 - f]!;
        } else {
          batchOf[o] = -1;
        }
      }
      col.batchOf = batchOf;
      col.indexIn = indexIn;
    }
    this.#count = total;
  }

  /** Unloads every handle and forgets every region. */
  unloadAll(): void {
    for (const col of this.#columns.values()) for (const loaded of col.batches) unloadBatch(loaded);
    this.#columns.clear();
    this.#count = 0;
    this.#devIds = this.#addrs = this.#lens = new Float64Array(0);
  }
}

function gather(from: Int32Array, old: Float64Array, added: Float64Array): Float64Array {
  const out = new Float64Array(from.length);
  for (let o = 0; o < from.length; o++) {
    const f = from[o]!;
    out[o] = f >= 0 ? old[f]! : added[-1 - f]!;
  }
  return out;
}
