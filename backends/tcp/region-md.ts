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
 * A peer's regions as the TCP backend loads them in bulk: every region's
 * public data is checked up front; its RegionMD is parsed the first time a
 * descriptor list resolves against it, and kept, so equal handles stay one
 * object (requests merge neighbouring descriptors of one region by identity).
 */
export class RemoteRegionKeys implements RemoteHandles {
  readonly count: number;
  readonly #agent: string;
  // Only the public data is kept: the batch's address columns are the agent's copy.
  readonly #pdRanges: Float64Array;
  readonly #publicData: Uint8Array;
  readonly #made = new Map<number, RegionMD>();

  constructor(agent: string, batch: RemoteRegionBatch) {
    const { pdRanges } = batch;
    for (let i = 0; i < batch.count; i++) {
      const bytes = pdRanges[2 * i + 1]! - pdRanges[2 * i]!;
      if (bytes !== PUBLIC_DATA_BYTES) throw wrongSize(agent, bytes);
    }
    this.count = batch.count;
    this.#agent = agent;
    this.#pdRanges = pdRanges;
    this.#publicData = batch.publicData;
  }

  at(i: number): RegionMD {
    let md = this.#made.get(i);
    if (!md) {
      const pd = this.#publicData;
      const view = new Uint8Array(
        pd.buffer,
        pd.byteOffset + this.#pdRanges[2 * i]!,
        PUBLIC_DATA_BYTES,
      );
      md = parsePublicData(view, this.#agent);
      this.#made.set(i, md);
    }
    return md;
  }
}
