import type { Backend, BackendMD, RemoteHandles, RemoteRegionBatch } from './backend.js';
import type { MemType } from './descriptors.js';
import { publicDataOf } from './metadata.js';

/**
 * One backend's handles for one batch of a peer's regions, with the batch's
 * public data (what a later load of the same regions is compared with).
 */
export interface LoadedBatch {
  readonly backend: Backend;
  readonly handles: RemoteHandles;
  readonly publicData: Uint8Array;
  readonly pdRanges: Float64Array;
}

/** Handles made one region at a time, for a backend without `loadRemoteRegions`. */
class PerRegionHandles implements RemoteHandles {
  constructor(readonly mds: BackendMD[]) {}

  get count(): number {
    return this.mds.length;
  }

  at(i: number): BackendMD {
    return this.mds[i]!;
  }
}

/**
 * Has `backend` load a batch of a peer's regions, all or nothing: in one call
 * where it offers `loadRemoteRegions`, else region by region (what was made
 * is unloaded if one region is refused).
 */
export function loadBatch(backend: Backend, agent: string, batch: RemoteRegionBatch): LoadedBatch {
  if (backend.loadRemoteRegions) {
    const handles = backend.loadRemoteRegions(agent, batch);
    return { backend, handles, publicData: batch.publicData, pdRanges: batch.pdRanges };
  }
  const memType: MemType = batch.memType;
  const mds = new Array<BackendMD>(batch.count);
  let i = 0;
  try {
    for (; i < batch.count; i++) {
      mds[i] = backend.loadRemoteMD!(agent, {
        memType,
        addr: batch.addrs[i]!,
        len: batch.lens[i]!,
        devId: batch.devIds[i]!,
        publicData: publicDataOf(batch, i),
      });
    }
  } catch (err) {
    for (let k = 0; k < i; k++) backend.unloadMD(mds[k]!);
    throw err;
  }
  const handles = new PerRegionHandles(mds);
  return { backend, handles, publicData: batch.publicData, pdRanges: batch.pdRanges };
}

/** Drops every handle of a loaded batch, the way it was made. */
export function unloadBatch(loaded: LoadedBatch): void {
  const { backend, handles } = loaded;
  if (handles instanceof PerRegionHandles) {
    for (const md of handles.mds) backend.unloadMD(md);
  } else {
    backend.unloadRemoteRegions!(handles);
  }
}
