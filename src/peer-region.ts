import type { Backend, BackendMD } from './backend.js';
import type { MemType } from './descriptors.js';
import type { RemoteRegion } from './regions.js';

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
