import type { Backend, BackendMD, XferDescs } from './backend.js';
import type { DescList, MemType } from './descriptors.js';
import { InvalidParamError, NotFoundError } from './errors.js';
import type { RegionRegistry, RegionKey } from './region-registry.js';

/** Where a prepared list points: this agent's own memory as initiator, its own memory as a loopback target, or a peer. */
export type DlistSide = 'local' | 'loopback' | 'remote';

/**
 * What resolving a descriptor list needs of a memory section: the region
 * covering a range (an index, -1 if none), whether a region covers a range,
 * and a backend's handle for a region.
 */
export interface RegionLookup {
  covering(addr: number, len: number, devId: number): number;
  covers(region: number, addr: number, len: number, devId: number): boolean;
  handle(region: number, backend: Backend): BackendMD | undefined;
}

/** A lookup over a registry of region objects; `pick` chooses which handle map of a region applies. */
export function registryLookup<R extends RegionKey>(
  registry: RegionRegistry<R> | undefined,
  pick: (region: R) => Map<Backend, BackendMD>,
): RegionLookup | undefined {
  if (!registry) return undefined;
  return {
    covering: (addr, len, devId) => registry.coveringIndex(addr, len, devId),
    covers: (i, addr, len, devId) => {
      const r = registry.at(i);
      return (
        r.devId === devId &&
        addr >= r.addr &&
        addr + len <= r.addr + r.len &&
        (r.len > 0 || len === 0)
      );
    },
    handle: (i, backend) => pick(registry.at(i)).get(backend),
  };
}

/**
 * A descriptor list resolved once against registered regions, for every
 * candidate backend (NIXL's prepXferDlist handle). makeXferReq builds
 * requests from it by index without looking anything up again.
 */
export class PreppedDlist {
  readonly side: DlistSide;
  /** '' for the local side, else the target agent's name (own name = loopback). */
  readonly agent: string;
  readonly generation: number;
  readonly memType: MemType;
  readonly count: number;
  readonly addrs: Float64Array;
  readonly lens: Float64Array;
  readonly devIds: Float64Array;
  /** For each candidate backend, the covering region's handle per descriptor. */
  readonly candidates: Map<Backend, BackendMD[]>;
  #released = false;

  constructor(
    side: DlistSide,
    agent: string,
    generation: number,
    descs: DescList,
    candidates: Map<Backend, BackendMD[]>,
  ) {
    this.side = side;
    this.agent = agent;
    this.generation = generation;
    this.memType = descs.memType;
    this.count = descs.length;
    // Copies: later changes to the caller's list must not change a prepared one.
    // (set() into a new array: several times faster than slice() on Node 20.)
    this.addrs = copyOf(descs.addrs, descs.length);
    this.lens = copyOf(descs.lens, descs.length);
    this.devIds = copyOf(descs.devIds, descs.length);
    this.candidates = candidates;
  }

  get released(): boolean {
    return this.#released;
  }

  release(): void {
    this.#released = true;
    this.candidates.clear();
  }

  /** All descriptors, for one backend, as the backend sees them. */
  whole(backend: Backend): XferDescs {
    return {
      memType: this.memType,
      count: this.count,
      addrs: this.addrs,
      lens: this.lens,
      devIds: this.devIds,
      regions: this.candidates.get(backend)!,
    };
  }
}

function copyOf(src: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n);
  out.set(src.subarray(0, n));
  return out;
}

/**
 * Finds, for every descriptor, the registered region covering it, and keeps
 * the backends that have a handle for every one of those regions.
 */
export function resolveDlist(
  descs: DescList,
  lookup: RegionLookup | undefined,
  backends: readonly Backend[],
  where: string,
): Map<Backend, BackendMD[]> {
  const n = descs.length;
  if (n === 0) throw new InvalidParamError('prepXferDlist: the descriptor list is empty');
  const addrs = descs.addrs;
  const lens = descs.lens;
  const devIds = descs.devIds;
  // One handle array per backend, filled in the same pass as the lookup; a
  // backend that lacks a handle for some covering region drops out.
  const live = backends.map((b) => ({
    backend: b,
    mds: new Array<BackendMD>(n),
    ok: true,
    current: undefined as BackendMD | undefined,
  }));
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const addr = addrs[i]!;
    const len = lens[i]!;
    const devId = devIds[i]!;
    // Block lists mostly stay inside one region: try the last hit before searching.
    const r =
      prev >= 0 && lookup!.covers(prev, addr, len, devId)
        ? prev
        : (lookup?.covering(addr, len, devId) ?? -1);
    if (r < 0) {
      throw new NotFoundError(
        `descriptor ${i} [0x${addr.toString(16)}, +${len}) on device ${devId} ` +
          `is not inside any ${descs.memType} region registered ${where}`,
      );
    }
    if (r !== prev) {
      for (const l of live) {
        const md = l.ok ? lookup!.handle(r, l.backend) : undefined;
        if (md === undefined) l.ok = false;
        else l.current = md;
      }
      prev = r;
    }
    for (const l of live) if (l.ok) l.mds[i] = l.current!;
  }
  const out = new Map<Backend, BackendMD[]>();
  for (const l of live) if (l.ok) out.set(l.backend, l.mds);
  if (out.size === 0) {
    throw new NotFoundError(`no backend has every region covering these descriptors ${where}`);
  }
  return out;
}

/**
 * Builds the backend's lists for index lists, merging neighbours that are
 * contiguous in memory, on the same device and in the same region on both
 * sides (unless merging is turned off).
 */
export function selectDescs(
  backend: Backend,
  local: PreppedDlist,
  lidx: ArrayLike<number>,
  remote: PreppedDlist,
  ridx: ArrayLike<number>,
  merge: boolean,
): { local: XferDescs; remote: XferDescs } {
  const n = lidx.length;
  const lmds = local.candidates.get(backend)!;
  const rmds = remote.candidates.get(backend)!;
  // Locals, not property loads, in the loop: 51,200-descriptor KV requests run it (bench/kv).
  const srcLa = local.addrs;
  const srcLl = local.lens;
  const srcLd = local.devIds;
  const srcRa = remote.addrs;
  const srcRl = remote.lens;
  const srcRd = remote.devIds;
  const la = new Float64Array(n);
  const ll = new Float64Array(n);
  const ld = new Float64Array(n);
  const ra = new Float64Array(n);
  const rl = new Float64Array(n);
  const rd = new Float64Array(n);
  const lr: object[] = new Array(n);
  const rr: object[] = new Array(n);
  let m = -1;
  for (let k = 0; k < n; k++) {
    const i = lidx[k]!;
    const j = ridx[k]!;
    const len = srcLl[i]!;
    if (len !== srcRl[j]!) {
      throw new InvalidParamError(
        `makeXferReq: pair ${k} has lengths ${len} (local ${i}) and ${srcRl[j]} (remote ${j})`,
      );
    }
    if (
      merge &&
      m >= 0 &&
      la[m]! + ll[m]! === srcLa[i]! &&
      ra[m]! + rl[m]! === srcRa[j]! &&
      ld[m] === srcLd[i] &&
      rd[m] === srcRd[j] &&
      lr[m] === lmds[i] &&
      rr[m] === rmds[j]
    ) {
      ll[m]! += len;
      rl[m]! += len;
      continue;
    }
    m++;
    la[m] = srcLa[i]!;
    ll[m] = len;
    ld[m] = srcLd[i]!;
    ra[m] = srcRa[j]!;
    rl[m] = len;
    rd[m] = srcRd[j]!;
    lr[m] = lmds[i]!;
    rr[m] = rmds[j]!;
  }
  const count = m + 1;
  lr.length = count;
  rr.length = count;
  return {
    local: {
      memType: local.memType,
      count,
      addrs: la.subarray(0, count),
      lens: ll.subarray(0, count),
      devIds: ld.subarray(0, count),
      regions: lr,
    },
    remote: {
      memType: remote.memType,
      count,
      addrs: ra.subarray(0, count),
      lens: rl.subarray(0, count),
      devIds: rd.subarray(0, count),
      regions: rr,
    },
  };
}
