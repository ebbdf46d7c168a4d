import { DescList, isMemType, type MemType } from '../descriptors.js';
import { InvalidParamError } from '../errors.js';
import type { PreppedDlist } from '../prepped-dlist.js';
import type { BlockHash } from './block-hash.js';

/**
 * One level of the block manager's memory hierarchy: a set of block-sized
 * slots in registered memory of some type, reached through the agent's own
 * transfer requests. The top tier is this agent's DRAM (the manager allocates
 * it); every other tier names the agent that holds its memory and the regions
 * cut into slots:
 *
 * - a FILE or OBJ tier: this agent's own name (a loopback target, as NIXL's
 *   storage backends are used), regions as that backend registers them
 *   (FILE: devId = fd, addr = file offset);
 * - a remote peer's DRAM: the peer's name and its regions from its metadata
 *   (`agent.getRemoteRegions(peer)`).
 */
export interface KvTierSpec {
  /** Unique among the manager's tiers; events and counters carry it. */
  name: string;
  /** Blocks this tier may hold (default: every slot its regions hold). Required for the top tier. */
  capacity?: number;
  /** Memory type of the regions (default DRAM). */
  memType?: MemType;
  /** Who holds the memory; omitted for the top tier only. */
  agent?: string;
  /**
   * The registered regions, cut into whole blocks in order (a DescList too, such as
   * `agent.getRemoteRegions(peer)`); omitted for the top tier only.
   */
  regions?: DescList | ReadonlyArray<{ addr: bigint | number; len: number; devId?: number }>;
  /** Backends the tier's transfers may use (default: the agent's choice). */
  backends?: string[];
}

export interface KvMoveCounters {
  blocks: number;
  bytes: number;
  /** Time spent in transfers, milliseconds. */
  ms: number;
}

/** Per-tier counters, as `KvBlockManager.stats()` reports them. */
export interface KvTierStats {
  name: string;
  memType: MemType;
  /** '' for the top tier (this agent's memory). */
  agent: string;
  capacity: number;
  used: number;
  /** Blocks an onboard found here. */
  hits: number;
  /** Blocks moved here (from the tier above: offload; into the top: onboard and puts are not moves). */
  in: KvMoveCounters;
  /** Blocks moved out of here. */
  out: KvMoveCounters;
  /** Of `out`: blocks moved from here to the top tier on a hit. */
  onboard: KvMoveCounters;
  /** Transfers that failed (the blocks stayed where they were). */
  errors: number;
  /** Blocks dropped from here (the last tier's evictions, and forgetTier). */
  dropped: number;
}

/** Where one block lives, and what holds it in place. */
export interface BlockEntry {
  readonly hash: BlockHash;
  readonly parent: BlockHash | null;
  tier: TierState;
  slot: number;
  /** Settles when the move the block is in ends; null when it is not moving. */
  busy: Promise<void> | null;
  /** Onboards in progress that need the block: a pinned block is never evicted. */
  pins: number;
}

function counters(): KvMoveCounters {
  return { blocks: 0, bytes: 0, ms: 0 };
}

/** A tier at run time: its slots, its LRU order, its prepared descriptor list, its counters. */
export class TierState {
  readonly name: string;
  readonly index: number;
  readonly memType: MemType;
  /** '' for the top tier, else the target agent of its transfers. */
  readonly agent: string;
  readonly capacity: number;
  readonly backends: string[] | undefined;
  readonly prepped: PreppedDlist;
  /** Free slot ids (a stack). */
  readonly free: number[];
  /** Blocks here, least recently used first (Map order; a touch re-inserts). */
  readonly lru = new Map<BlockHash, BlockEntry>();
  /** Set by forgetTier: evictions skip the tier, lookups no longer find its blocks. */
  offline = false;
  hits = 0;
  errors = 0;
  dropped = 0;
  readonly in = counters();
  readonly out = counters();
  readonly onboard = counters();

  constructor(
    index: number,
    spec: { name: string; memType: MemType; agent: string; capacity: number; backends?: string[] },
    prepped: PreppedDlist,
  ) {
    this.index = index;
    this.name = spec.name;
    this.memType = spec.memType;
    this.agent = spec.agent;
    this.capacity = spec.capacity;
    this.backends = spec.backends;
    this.prepped = prepped;
    this.free = [];
    for (let i = spec.capacity - 1; i >= 0; i--) this.free.push(i);
  }

  touch(e: BlockEntry): void {
    this.lru.delete(e.hash);
    this.lru.set(e.hash, e);
  }

  stats(): KvTierStats {
    return {
      name: this.name,
      memType: this.memType,
      agent: this.agent,
      capacity: this.capacity,
      used: this.lru.size,
      hits: this.hits,
      in: { ...this.in },
      out: { ...this.out },
      onboard: { ...this.onboard },
      errors: this.errors,
      dropped: this.dropped,
    };
  }
}

/**
 * A lower tier's slots as descriptors (one block each, in region order),
 * checked: whole blocks only, at least `capacity` of them.
 */
export function tierSlots(
  spec: KvTierSpec,
  blockBytes: number,
): { memType: MemType; capacity: number; descs: { addr: bigint; len: number; devId: number }[] } {
  const where = `tier '${spec.name}'`;
  const memType = spec.memType ?? 'DRAM';
  if (!isMemType(memType)) throw new InvalidParamError(`${where}: unknown memType '${memType}'`);
  const regions =
    spec.regions instanceof DescList
      ? Array.from({ length: spec.regions.length }, (_, i) => (spec.regions as DescList).at(i))
      : spec.regions;
  if (!regions || regions.length === 0)
    throw new InvalidParamError(`${where}: a lower tier needs regions`);
  const descs: { addr: bigint; len: number; devId: number }[] = [];
  const limit = spec.capacity ?? Infinity;
  for (const [i, r] of regions.entries()) {
    if (!Number.isSafeInteger(r.len) || r.len < blockBytes)
      throw new InvalidParamError(
        `${where}: region ${i} is ${String(r.len)} bytes, smaller than a block (${blockBytes})`,
      );
    const base = BigInt(r.addr);
    for (let k = 0; k + blockBytes <= r.len && descs.length < limit; k += blockBytes)
      descs.push({ addr: base + BigInt(k), len: blockBytes, devId: r.devId ?? 0 });
  }
  if (spec.capacity !== undefined && descs.length < spec.capacity)
    throw new InvalidParamError(
      `${where}: capacity ${spec.capacity} blocks, but its regions hold only ${descs.length}`,
    );
  return { memType, capacity: descs.length, descs };
}

export function checkTierName(spec: KvTierSpec, seen: Set<string>): void {
  if (typeof spec.name !== 'string' || spec.name.length === 0 || spec.name.length > 256)
    throw new InvalidParamError(`a tier needs a name of 1 to 256 characters`);
  if (seen.has(spec.name)) throw new InvalidParamError(`two tiers are named '${spec.name}'`);
  seen.add(spec.name);
  if (
    spec.capacity !== undefined &&
    (!Number.isSafeInteger(spec.capacity) || spec.capacity <= 0 || spec.capacity > 2 ** 31)
  )
    throw new InvalidParamError(`tier '${spec.name}': bad capacity ${String(spec.capacity)}`);
}
