import { NotAllowedError } from './errors.js';

/** The part of a region the registry orders by. */
export interface RegionKey {
  readonly addr: number;
  readonly len: number;
  readonly devId: number;
}

/**
 * Registered regions of one memory type, kept sorted by (devId, addr) so that
 * the region covering a transfer descriptor is found by binary search.
 *
 * Overlapping regions are refused: a byte belongs to at most one region, so
 * "which region covers this descriptor" has one answer on both sides, and a
 * target's check of an incoming request is a single lookup. Registering the
 * exact same region again is the caller's business (the agent treats it as
 * adding backends to the existing registration).
 */
export class RegionRegistry<R extends RegionKey> {
  #items: R[] = [];

  get size(): number {
    return this.#items.length;
  }

  values(): readonly R[] {
    return this.#items;
  }

  /** Index of the first region ordered at or after (devId, addr). */
  #lowerBound(devId: number, addr: number): number {
    let lo = 0;
    let hi = this.#items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.#items[mid]!;
      if (r.devId < devId || (r.devId === devId && r.addr < addr)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  findExact(addr: number, len: number, devId: number): R | undefined {
    const i = this.#lowerBound(devId, addr);
    const r = this.#items[i];
    return r && r.addr === addr && r.devId === devId && r.len === len ? r : undefined;
  }

  /** The region at index i of the sorted order. */
  at(i: number): R {
    return this.#items[i]!;
  }

  /** The index of the region that wholly contains [addr, addr+len) on devId, or -1. */
  coveringIndex(addr: number, len: number, devId: number): number {
    const r = this.findCovering(addr, len, devId);
    return r ? this.#lowerBound(r.devId, r.addr) : -1;
  }

  /** The region that wholly contains [addr, addr+len) on devId, if any. */
  findCovering(addr: number, len: number, devId: number): R | undefined {
    // The candidate is the last region starting at or before addr.
    let i = this.#lowerBound(devId, addr);
    const at = this.#items[i];
    if (!(at && at.devId === devId && at.addr === addr)) i -= 1;
    const r = this.#items[i];
    if (!r || r.devId !== devId) return undefined;
    if (addr >= r.addr && addr + len <= r.addr + r.len) {
      // A zero-length region covers only zero-length descriptors at its address.
      if (r.len === 0 && len !== 0) return undefined;
      return r;
    }
    return undefined;
  }

  /** The region that overlaps [addr, addr+len) on devId, if any. */
  findOverlapping(addr: number, len: number, devId: number): R | undefined {
    const i = this.#lowerBound(devId, addr);
    const after = this.#items[i];
    if (after && after.devId === devId && (after.addr < addr + len || after.addr === addr))
      return after;
    const before = this.#items[i - 1];
    if (before && before.devId === devId && before.addr + before.len > addr) return before;
    return undefined;
  }

  /** Inserts a region; throws NotAllowedError if it overlaps one already present. */
  insert(region: R): void {
    const clash = this.findOverlapping(region.addr, region.len, region.devId);
    if (clash) throw overlapError(region, clash);
    this.#items.splice(this.#lowerBound(region.devId, region.addr), 0, region);
  }

  /**
   * Adds regions in bulk, O(n log n + size): sorts them, refuses overlaps
   * among them or with regions present (NotAllowedError, nothing added),
   * then merges them in one pass.
   */
  insertMany(regions: readonly R[]): void {
    const n = regions.length;
    const devIds = new Float64Array(n);
    const addrs = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      devIds[i] = regions[i]!.devId;
      addrs[i] = regions[i]!.addr;
    }
    const order = sortedOrder(devIds, addrs, n);
    const sorted = order ? Array.from(order, (i) => regions[i]!) : regions;
    for (let i = 1; i < n; i++) {
      const prev = sorted[i - 1]!;
      const r = sorted[i]!;
      if (prev.devId === r.devId && (prev.addr + prev.len > r.addr || prev.addr === r.addr)) {
        throw overlapError(r, prev);
      }
    }
    let j = 0;
    const items = this.#items;
    for (const r of sorted) {
      while (j < items.length && before(items[j]!, r.devId, r.addr)) j++;
      const clash = overlaps(items[j - 1], r)
        ? items[j - 1]
        : overlaps(items[j], r)
          ? items[j]
          : undefined;
      if (clash) throw overlapError(r, clash);
    }
    this.insertSorted(sorted);
  }

  /**
   * Merges regions that the caller has sorted by (devId, addr) and checked:
   * no overlap among them or with regions present. O(n + size).
   */
  insertSorted(sorted: readonly R[]): void {
    const old = this.#items;
    if (sorted.length === 0) return;
    const first = sorted[0]!;
    const last = old[old.length - 1];
    if (!last || before(last, first.devId, first.addr)) {
      this.#items = old.length === 0 ? sorted.slice() : old.concat(sorted);
      return;
    }
    const out: R[] = [];
    let i = 0;
    let j = 0;
    while (i < old.length && j < sorted.length) {
      const s = sorted[j]!;
      if (before(old[i]!, s.devId, s.addr)) out.push(old[i++]!);
      else out.push(sorted[j++]!);
    }
    while (i < old.length) out.push(old[i++]!);
    while (j < sorted.length) out.push(sorted[j++]!);
    this.#items = out;
  }

  remove(region: R): boolean {
    const i = this.#lowerBound(region.devId, region.addr);
    if (this.#items[i] !== region) return false;
    this.#items.splice(i, 1);
    return true;
  }

  /** Removes every listed region that is present, in one pass; returns how many. */
  removeMany(regions: Iterable<R>): number {
    const drop = new Set(regions);
    const kept = this.#items.filter((r) => !drop.has(r));
    const removed = this.#items.length - kept.length;
    this.#items = kept;
    return removed;
  }

  clear(): void {
    this.#items = [];
  }
}

/** True if region r is ordered before (devId, addr). */
function before(r: RegionKey, devId: number, addr: number): boolean {
  return r.devId < devId || (r.devId === devId && r.addr < addr);
}

/** True if a (present) and b share a byte, or both start at one address. */
function overlaps(a: RegionKey | undefined, b: RegionKey): boolean {
  if (!a || a.devId !== b.devId) return false;
  if (a.addr === b.addr) return true;
  return a.addr < b.addr ? a.addr + a.len > b.addr : b.addr + b.len > a.addr;
}

function overlapError(region: RegionKey, clash: RegionKey): Error {
  return new NotAllowedError(
    `region [0x${region.addr.toString(16)}, +${region.len}) on device ${region.devId} overlaps ` +
      `registered region [0x${clash.addr.toString(16)}, +${clash.len}); register their union instead`,
  );
}

/**
 * The order that sorts n regions, given as columns, by (devId, addr): a
 * permutation of 0..n-1, or undefined when they are in order already (what
 * a registry's own list, and so getLocalMD, produces). Stable. O(n) for
 * sorted input; otherwise a comparison sort for small n and, from
 * RADIX_MIN, an LSD radix sort (16-bit digits, digits that every region
 * shares are skipped: at most eight O(n) passes, typically three).
 */
export function sortedOrder(
  devIds: Float64Array,
  addrs: Float64Array,
  n: number,
): Uint32Array | undefined {
  let i = 1;
  while (
    i < n &&
    (devIds[i - 1]! < devIds[i]! || (devIds[i - 1] === devIds[i] && addrs[i - 1]! <= addrs[i]!))
  ) {
    i++;
  }
  if (i >= n) return undefined;
  if (n >= RADIX_MIN) return radixOrder(devIds, addrs, n);
  const order = new Uint32Array(n);
  for (let k = 0; k < n; k++) order[k] = k;
  return order.sort((x, y) => devIds[x]! - devIds[y]! || addrs[x]! - addrs[y]!);
}

const RADIX_MIN = 16384;

function radixOrder(devIds: Float64Array, addrs: Float64Array, n: number): Uint32Array {
  let order = new Uint32Array(n);
  let orderOut = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let keys = new Uint32Array(n);
  let keysOut = new Uint32Array(n);
  const counts = new Uint32Array(1 << 16);
  // Least significant first: the low and high 32 bits of addr, then of devId.
  for (let word = 0; word < 4; word++) {
    const column = word < 2 ? addrs : devIds;
    const high = word % 2 === 1;
    let same = true;
    const first = column[0]!;
    for (let i = 1; i < n && same; i++) same = column[i] === first;
    if (same) continue; // every region has this word: it orders nothing
    for (let i = 0; i < n; i++) {
      const v = column[order[i]!]!;
      const low = v >>> 0;
      keys[i] = high ? (v - low) / 4294967296 : low;
    }
    for (let shift = 0; shift < 32; shift += 16) {
      counts.fill(0);
      for (let i = 0; i < n; i++) counts[(keys[i]! >>> shift) & 0xffff]!++;
      if (counts[(keys[0]! >>> shift) & 0xffff] === n) continue;
      let sum = 0;
      for (let d = 0; d < counts.length; d++) {
        const c = counts[d]!;
        counts[d] = sum;
        sum += c;
      }
      for (let i = 0; i < n; i++) {
        const k = keys[i]!;
        const at = counts[(k >>> shift) & 0xffff]!++;
        orderOut[at] = order[i]!;
        keysOut[at] = k;
      }
      [order, orderOut] = [orderOut, order];
      [keys, keysOut] = [keysOut, keys];
    }
  }
  return order;
}
