import { InvalidParamError } from './errors.js';

/** Memory kinds, as in NIXL's `nixl_mem_t`. */
export type MemType = 'DRAM' | 'VRAM' | 'BLK' | 'OBJ' | 'FILE';
export const MEM_TYPES: readonly MemType[] = ['DRAM', 'VRAM', 'BLK', 'OBJ', 'FILE'];
/** The numeric value NIXL gives each memory type (also used on the wire). */
export const MEM_TYPE_CODE: Readonly<Record<MemType, number>> = {
  DRAM: 0,
  VRAM: 1,
  BLK: 2,
  OBJ: 3,
  FILE: 4,
};

export function isMemType(v: unknown): v is MemType {
  return typeof v === 'string' && (MEM_TYPES as readonly string[]).includes(v);
}

/** One descriptor: `len` bytes at `addr` on device `devId`. */
export interface Desc {
  addr: bigint;
  len: number;
  devId: number;
}

/** What callers may pass for a descriptor: `addr` as a bigint or a safe integer. */
export interface DescInput {
  addr: bigint | number;
  len: number;
  devId?: number;
  /** Registration only: an opaque blob for the backend (NIXL's metaInfo). */
  metaInfo?: Uint8Array;
}

// Addresses are kept as doubles in typed arrays so that the hot path creates no
// BigInts; user-space addresses, file offsets and lengths all fit in 2^53.
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function toSafeInt(v: bigint | number, what: string): number {
  if (typeof v === 'bigint') {
    if (v < 0n || v > BigInt(MAX_SAFE)) {
      throw new InvalidParamError(`${what} ${v} is outside 0..2^53-1`);
    }
    return Number(v);
  }
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new InvalidParamError(`${what} must be a non-negative integer, got ${String(v)}`);
  }
  return v;
}

/**
 * A list of descriptors of one memory type, packed into typed arrays so that
 * backends and native code read it in place. NIXL's `nixl_xfer_dlist_t`.
 */
export class DescList {
  readonly memType: MemType;
  #count = 0;
  addrs: Float64Array;
  lens: Float64Array;
  devIds: Float64Array;

  constructor(memType: MemType, capacity = 4) {
    if (!isMemType(memType)) {
      throw new InvalidParamError(
        `unknown memory type '${String(memType)}'; expected one of ${MEM_TYPES.join(', ')}`,
      );
    }
    this.memType = memType;
    const cap = Math.max(1, capacity);
    this.addrs = new Float64Array(cap);
    this.lens = new Float64Array(cap);
    this.devIds = new Float64Array(cap);
  }

  static from(memType: MemType, descs: Iterable<DescInput>): DescList {
    const list = new DescList(memType);
    for (const d of descs) list.add(d.addr, d.len, d.devId ?? 0);
    return list;
  }

  /** Builds a list from parallel arrays, e.g. a KV-cache layout's block table. */
  static fromArrays(
    memType: MemType,
    addrs: ArrayLike<number>,
    lens: ArrayLike<number>,
    devIds?: ArrayLike<number>,
  ): DescList {
    if (addrs.length !== lens.length || (devIds && devIds.length !== addrs.length)) {
      throw new InvalidParamError('fromArrays: addrs, lens and devIds must have the same length');
    }
    const list = new DescList(memType, addrs.length);
    for (let i = 0; i < addrs.length; i++) list.add(addrs[i]!, lens[i]!, devIds ? devIds[i]! : 0);
    return list;
  }

  get length(): number {
    return this.#count;
  }

  add(addr: bigint | number, len: number, devId = 0): this {
    const a = toSafeInt(addr, 'addr');
    const l = toSafeInt(len, 'len');
    const d = toSafeInt(devId, 'devId');
    if (a + l > MAX_SAFE)
      throw new InvalidParamError(`addr + len overflows 2^53 at descriptor ${this.#count}`);
    this.#ensure(this.#count + 1);
    const i = this.#count++;
    this.addrs[i] = a;
    this.lens[i] = l;
    this.devIds[i] = d;
    return this;
  }

  at(i: number): Desc {
    this.#check(i);
    return { addr: BigInt(this.addrs[i]!), len: this.lens[i]!, devId: this.devIds[i]! };
  }

  /** Total bytes described. */
  totalBytes(): number {
    let sum = 0;
    for (let i = 0; i < this.#count; i++) sum += this.lens[i]!;
    return sum;
  }

  *[Symbol.iterator](): IterableIterator<Desc> {
    for (let i = 0; i < this.#count; i++) yield this.at(i);
  }

  #check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.#count) {
      throw new InvalidParamError(`descriptor index ${i} out of range 0..${this.#count - 1}`);
    }
  }

  #ensure(n: number): void {
    if (n <= this.addrs.length) return;
    const cap = Math.max(n, this.addrs.length * 2);
    for (const key of ['addrs', 'lens', 'devIds'] as const) {
      const grown = new Float64Array(cap);
      grown.set(this[key]);
      this[key] = grown;
    }
  }
}

/**
 * A registration list: descriptors plus each one's metaInfo blob and, for
 * memory JavaScript can see, the bytes themselves (held to keep them alive).
 */
export class RegDescList extends DescList {
  readonly metaInfo: (Uint8Array | undefined)[] = [];
  /** A view of each region's bytes where one exists (DRAM from a JS buffer or agent.alloc). */
  readonly views: (Uint8Array | undefined)[] = [];

  static override from(memType: MemType, descs: Iterable<DescInput>): RegDescList {
    const list = new RegDescList(memType);
    for (const d of descs) list.addRegion(d.addr, d.len, d.devId ?? 0, d.metaInfo);
    return list;
  }

  addRegion(
    addr: bigint | number,
    len: number,
    devId = 0,
    metaInfo?: Uint8Array,
    view?: Uint8Array,
  ): this {
    this.add(addr, len, devId);
    this.metaInfo.push(metaInfo);
    this.views.push(view);
    return this;
  }
}
