import type { Backend } from './backend.js';
import type { DescList, MemType, RegDescList } from './descriptors.js';
import { BackendError, InvalidParamError, NotAllowedError, NotFoundError } from './errors.js';
import { RegionRegistry, sortedOrder } from './region-registry.js';
import type { LocalRegion } from './regions.js';

/** The context errors carry: the agent's operation and name. */
type Ctx = { op: string; agent?: string };

/** A descriptor of a registerMem list: a new region, or backends added to a registered one. */
interface Plan {
  index: number;
  existing?: LocalRegion;
  backends: readonly Backend[];
}

/**
 * NIXL's local memory section: the regions this agent registered, per
 * memory type, each with every backend's handle (and the loopback handle of
 * local-capable backends). Registration is all or nothing: everything is
 * validated before a backend is touched, and a failure part way unregisters
 * what the call registered.
 */
export class LocalSection {
  readonly #registries = new Map<MemType, RegionRegistry<LocalRegion>>();

  /** The registry of one memory type, if anything of that type was registered. */
  registry(memType: MemType): RegionRegistry<LocalRegion> | undefined {
    return this.#registries.get(memType);
  }

  /** Every registered region of one memory type, sorted by (devId, addr). */
  regions(memType: MemType): readonly LocalRegion[] {
    return this.#registries.get(memType)?.values() ?? [];
  }

  #registryFor(memType: MemType): RegionRegistry<LocalRegion> {
    let r = this.#registries.get(memType);
    if (!r) {
      r = new RegionRegistry<LocalRegion>();
      this.#registries.set(memType, r);
    }
    return r;
  }

  /**
   * Registers every descriptor of `list` with the `candidates` that lack it,
   * best effort per descriptor: each must be taken by at least one backend.
   * Returns the regions in list order.
   */
  register(list: RegDescList, candidates: readonly Backend[], ctx: Ctx): LocalRegion[] {
    const registry = this.#registryFor(list.memType);
    const plans = this.#plan(list, registry, candidates, ctx);

    const created: { region: LocalRegion; backend: Backend }[] = [];
    const rollback = () => {
      for (const c of created.reverse()) {
        const lb = c.region.loopback.get(c.backend);
        if (lb !== undefined) c.backend.unloadMD(lb);
        c.region.loopback.delete(c.backend);
        const md = c.region.mds.get(c.backend);
        if (md !== undefined) c.backend.deregisterMem(md);
        c.region.mds.delete(c.backend);
      }
    };
    const regions: LocalRegion[] = [];
    const newRegions: LocalRegion[] = [];
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
            created.push({ region, backend: b });
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
        if (!plan.existing) newRegions.push(region);
        regions.push(region);
      }
      // One sorted merge for the whole call (checked in #plan: it cannot clash).
      registry.insertMany(newRegions);
    } catch (err) {
      rollback();
      throw err;
    }
    return regions;
  }

  /**
   * Validates a registration against the registry and within itself, in
   * O(n log n), changing nothing. Errors name the first offending descriptor.
   */
  #plan(
    list: RegDescList,
    registry: RegionRegistry<LocalRegion>,
    candidates: readonly Backend[],
    ctx: Ctx,
  ): Plan[] {
    const plans: Plan[] = [];
    const fresh: number[] = []; // indices of descriptors that make new regions
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
      plans.push({ index: i, backends: candidates });
      fresh.push(i);
    }
    this.#checkDisjoint(list, fresh, ctx);
    return plans;
  }

  /**
   * Refuses new regions of one list that overlap or share a start address:
   * sorted by (devId, addr), a clash always shows between neighbours. Of
   * several clashes, the one with the earliest later descriptor is named.
   */
  #checkDisjoint(list: RegDescList, fresh: readonly number[], ctx: Ctx): void {
    const n = fresh.length;
    const devIds = new Float64Array(n);
    const addrs = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      devIds[k] = list.devIds[fresh[k]!]!;
      addrs[k] = list.addrs[fresh[k]!]!;
    }
    const order = sortedOrder(devIds, addrs, n);
    const at = (k: number) => fresh[order ? order[k]! : k]!;
    let worst: { a: number; b: number; same: boolean } | undefined;
    for (let k = 1; k < n; k++) {
      const p = at(k - 1);
      const q = at(k);
      if (list.devIds[p] !== list.devIds[q]) continue;
      const same = list.addrs[p] === list.addrs[q];
      if (!same && list.addrs[p]! + list.lens[p]! <= list.addrs[q]!) continue;
      const a = Math.min(p, q);
      const b = Math.max(p, q);
      if (!worst || b < worst.b || (b === worst.b && a < worst.a)) worst = { a, b, same };
    }
    if (!worst) return;
    throw new NotAllowedError(
      worst.same
        ? `descriptors ${worst.a} and ${worst.b} of the list start at the same address`
        : `descriptors ${worst.a} and ${worst.b} of the list overlap`,
      ctx,
    );
  }

  /**
   * Deregisters regions that each descriptor names exactly, from every
   * backend or only those in `only`; a region no backend holds any more is
   * removed. Returns the regions named.
   */
  deregister(list: DescList, only: ReadonlySet<Backend> | undefined, ctx: Ctx): LocalRegion[] {
    const registry = this.#registries.get(list.memType);
    const regions: LocalRegion[] = [];
    const seen = new Set<LocalRegion>();
    for (let i = 0; i < list.length; i++) {
      const r = registry?.findExact(list.addrs[i]!, list.lens[i]!, list.devIds[i]!);
      if (!r || seen.has(r)) {
        throw new NotFoundError(
          `descriptor ${i} [0x${list.addrs[i]!.toString(16)}, +${list.lens[i]}) does not match a registered region exactly`,
          ctx,
        );
      }
      seen.add(r);
      regions.push(r);
    }
    const emptied: LocalRegion[] = [];
    for (const r of regions) {
      for (const [b, md] of [...r.mds]) {
        if (only && !only.has(b)) continue;
        const lb = r.loopback.get(b);
        if (lb !== undefined) b.unloadMD(lb);
        r.loopback.delete(b);
        b.deregisterMem(md);
        r.mds.delete(b);
      }
      if (r.mds.size === 0) emptied.push(r);
    }
    if (emptied.length > 0) registry!.removeMany(emptied);
    return regions;
  }

  /** The registered regions that the descriptors name exactly, in list order. */
  exact(list: DescList, ctx: Ctx): LocalRegion[] {
    const registry = this.#registries.get(list.memType);
    const regions: LocalRegion[] = [];
    for (let i = 0; i < list.length; i++) {
      const r = registry?.findExact(list.addrs[i]!, list.lens[i]!, list.devIds[i]!);
      if (!r)
        throw new NotFoundError(`descriptor ${i} does not match a registered region exactly`, ctx);
      regions.push(r);
    }
    return regions;
  }

  /** Backend-specific facts about memory (NIXL's queryMem), registered or not. */
  static query(backend: Backend, list: RegDescList): (Record<string, string> | undefined)[] {
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
    return backend.queryMem!(descs);
  }

  /** Deregisters everything from every backend (the agent is closing). */
  clear(): void {
    for (const registry of this.#registries.values()) {
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
  }
}
