import type { Backend } from './backend.js';
import type { MemType } from './descriptors.js';
import { RegionRegistry } from './region-registry.js';
import type { RemoteRegion } from './regions.js';

/** What this agent knows about one peer: NIXL's remote section. */
export class RemotePeer {
  readonly name: string;
  readonly agentId: Uint8Array;
  readonly hostId: string;
  /** Bumped each time the peer's metadata is replaced; stale handles fail. */
  readonly generation: number;
  /** Backends that hold this peer's connection info, with the info loaded. */
  readonly conns = new Map<Backend, Uint8Array>();
  readonly regions = new Map<MemType, RegionRegistry<RemoteRegion>>();
  readonly labels = new Map<string, Uint8Array>();

  constructor(name: string, agentId: Uint8Array, hostId: string, generation: number) {
    this.name = name;
    this.agentId = agentId;
    this.hostId = hostId;
    this.generation = generation;
  }

  registry(memType: MemType): RegionRegistry<RemoteRegion> {
    let r = this.regions.get(memType);
    if (!r) {
      r = new RegionRegistry<RemoteRegion>();
      this.regions.set(memType, r);
    }
    return r;
  }

  /** Unloads every backend handle of every region. */
  unloadAll(): void {
    for (const reg of this.regions.values()) {
      for (const region of reg.values()) {
        for (const [backend, md] of region.mds) backend.unloadMD(md);
        region.mds.clear();
      }
      reg.clear();
    }
  }
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
