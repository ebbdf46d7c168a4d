import type { RemoteHandles, RemoteRegionBatch } from '../../src/backend.js';
import { MismatchError } from '../../src/errors.js';

/** A region as the engine knows it: id and key (the public data, 12 bytes). */
export interface RegionMD {
  readonly rid: number;
  readonly keyLo: number;
  readonly keyHi: number;
  readonly publicData: Uint8Array;
  registered: boolean;
}

/** The TCP public data of a region: region id, then the 64-bit key, little-endian. */
export const PUBLIC_DATA_BYTES = 12;

function wrongSize(agent: string, bytes: number): MismatchError {
  return new MismatchError(
    `TCP region public data of '${agent}' has ${bytes} bytes, expected ${PUBLIC_DATA_BYTES}`,
    { backend: 'TCP', agent },
  );
}

export function parsePublicData(data: Uint8Array, agent: string): RegionMD {
  if (data.byteLength !== PUBLIC_DATA_BYTES) throw wrongSize(agent, data.byteLength);
  const v = new DataView(data.buffer, data.byteOffset, PUBLIC_DATA_BYTES);
  return {
    rid: v.getUint32(0, true),
    keyLo: v.getUint32(4, true),
    keyHi: v.getUint32(8, true),
    publicData: data,
    registered: true,
  };
}

/**
 * A peer's regions as the TCP backend loads them in bulk: ids and keys in
 * columns, checked up front; a region's RegionMD is made the first time a
 * descriptor list resolves against it, and kept, so equal handles stay one
 * object (requests merge neighbouring descriptors of one region by identity).
 */
export class RemoteRegionKeys implements RemoteHandles {
  readonly count: number;
  /** rid, keyLo, keyHi per region. */
  readonly #words: Uint32Array;
  readonly #pdRanges: Float64Array;
  readonly #publicData: Uint8Array;
  readonly #made = new Map<number, RegionMD>();

  constructor(agent: string, batch: RemoteRegionBatch) {
    const n = batch.count;
    const { pdRanges, publicData } = batch;
    const words = new Uint32Array(3 * n);
    for (let i = 0; i < n; i++) {
      const start = pdRanges[2 * i]!;
      const bytes = pdRanges[2 * i + 1]! - start;
      if (bytes !== PUBLIC_DATA_BYTES) throw wrongSize(agent, bytes);
      for (let w = 0; w < 3; w++) {
        const p = start + 4 * w;
        words[3 * i + w] =
          (publicData[p]! |
            (publicData[p + 1]! << 8) |
            (publicData[p + 2]! << 16) |
            (publicData[p + 3]! << 24)) >>>
          0;
      }
    }
    this.count = n;
    this.#words = words;
    this.#pdRanges = pdRanges;
    this.#publicData = publicData;
  }

  at(i: number): RegionMD {
    let md = this.#made.get(i);
    if (!md) {
      const start = this.#pdRanges[2 * i]!;
      const pd = this.#publicData;
      md = {
        rid: this.#words[3 * i]!,
        keyLo: this.#words[3 * i + 1]!,
        keyHi: this.#words[3 * i + 2]!,
        publicData: new Uint8Array(pd.buffer, pd.byteOffset + start, PUBLIC_DATA_BYTES),
        registered: true,
      };
      this.#made.set(i, md);
    }
    return md;
  }
}
