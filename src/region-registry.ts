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
    if (clash) {
      throw new NotAllowedError(
        `region [0x${region.addr.toString(16)}, +${region.len}) on device ${region.devId} overlaps ` +
          `registered region [0x${clash.addr.toString(16)}, +${clash.len}); register their union instead`,
      );
    }
    this.#items.splice(this.#lowerBound(region.devId, region.addr), 0, region);
  }

  remove(region: R): boolean {
    const i = this.#lowerBound(region.devId, region.addr);
    if (this.#items[i] !== region) return false;
    this.#items.splice(i, 1);
    return true;
  }

  clear(): void {
    this.#items = [];
  }
}
