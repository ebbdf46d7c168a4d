import { isMemType, type MemType } from '../descriptors.js';
import { InvalidParamError, MismatchError, NotFoundError } from '../errors.js';

/**
 * How a paged KV cache lies in memory.
 * - `contiguous`: one region; a block holds all its layers (and planes) back to back.
 * - `layer`: one region per layer; inside it a block holds its K and V planes back to back.
 * - `layer-kv`: one region per layer and plane (vLLM's split K/V tensors).
 */
export type KvArrangement = 'contiguous' | 'layer' | 'layer-kv';
export const KV_ARRANGEMENTS: readonly KvArrangement[] = ['contiguous', 'layer', 'layer-kv'];

export interface KvLayoutSpec {
  /** Transformer layers. */
  layers: number;
  /** Blocks in the cache (may differ between peers). */
  blocks: number;
  /** Bytes of one block of one layer and one plane (tokens per block × heads × head dim × element size). */
  blockBytes: number;
  /** Bytes per element (2 for fp16/bf16); blockBytes must be a multiple of it. */
  elementSize: number;
  /** 2 for separate K and V planes (default), 1 for a single plane (e.g. MLA's latent cache). */
  planes?: 1 | 2;
  arrangement: KvArrangement;
  /** Memory type of the regions (default DRAM). */
  memType?: MemType;
  /** Device of the regions (default 0). */
  devId?: number;
  /** An identifier of the model and its KV dtype (default ''); peers must agree on it. */
  model?: string;
}

/** The fields that decide whether two caches can exchange blocks. */
export interface KvCompatFields {
  layers: number;
  planes: number;
  blockBytes: number;
  elementSize: number;
  memType: MemType;
  model: string;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function positiveInt(v: unknown, what: string, max = MAX_SAFE): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0 || v > max)
    throw new InvalidParamError(
      `KV layout: ${what} must be an integer in 1..${max}, got ${String(v)}`,
    );
  return v;
}

/**
 * The geometry of a paged KV cache: which regions it has and where the slice
 * of (layer, plane, block) starts. A "slice" is one block of one layer and
 * one plane, `blockBytes` long; every arrangement is addressed in slices, so
 * caches of different arrangements can still exchange blocks.
 *
 * Slice index s = (layer * planes + plane) * blocks + block.
 */
export class KvLayout {
  readonly layers: number;
  readonly blocks: number;
  readonly blockBytes: number;
  readonly elementSize: number;
  readonly planes: 1 | 2;
  readonly arrangement: KvArrangement;
  readonly memType: MemType;
  readonly devId: number;
  readonly model: string;

  constructor(spec: KvLayoutSpec) {
    if (!spec || typeof spec !== 'object')
      throw new InvalidParamError('KV layout: a spec object is required');
    this.layers = positiveInt(spec.layers, 'layers', 1 << 16);
    this.blocks = positiveInt(spec.blocks, 'blocks', 1 << 26);
    this.blockBytes = positiveInt(spec.blockBytes, 'blockBytes', 2 ** 40);
    this.elementSize = positiveInt(spec.elementSize, 'elementSize', 64);
    const planes = spec.planes ?? 2;
    if (planes !== 1 && planes !== 2)
      throw new InvalidParamError(`KV layout: planes must be 1 or 2, got ${String(planes)}`);
    this.planes = planes;
    if (!KV_ARRANGEMENTS.includes(spec.arrangement))
      throw new InvalidParamError(
        `KV layout: arrangement must be one of ${KV_ARRANGEMENTS.join(', ')}, got ${String(spec.arrangement)}`,
      );
    this.arrangement = spec.arrangement;
    const memType = spec.memType ?? 'DRAM';
    if (!isMemType(memType))
      throw new InvalidParamError(`KV layout: unknown memory type ${String(memType)}`);
    this.memType = memType;
    this.devId = spec.devId ?? 0;
    if (!Number.isSafeInteger(this.devId) || this.devId < 0)
      throw new InvalidParamError(`KV layout: devId must be a non-negative integer`);
    if (spec.model !== undefined && typeof spec.model !== 'string')
      throw new InvalidParamError('KV layout: model must be a string');
    this.model = spec.model ?? '';
    if (this.blockBytes % this.elementSize !== 0)
      throw new InvalidParamError(
        `KV layout: blockBytes ${this.blockBytes} is not a multiple of elementSize ${this.elementSize}`,
      );
    if (this.totalBytes > MAX_SAFE)
      throw new InvalidParamError('KV layout: the cache is larger than 2^53 bytes');
  }

  /** Slices per block: layers × planes. */
  get slicesPerBlock(): number {
    return this.layers * this.planes;
  }

  /** Slices in the whole cache. */
  get sliceCount(): number {
    return this.slicesPerBlock * this.blocks;
  }

  /** Bytes of one block across all layers and planes. */
  get bytesPerBlock(): number {
    return this.blockBytes * this.slicesPerBlock;
  }

  get totalBytes(): number {
    return this.bytesPerBlock * this.blocks;
  }

  /** Number of memory regions this arrangement uses. */
  get regionCount(): number {
    switch (this.arrangement) {
      case 'contiguous':
        return 1;
      case 'layer':
        return this.layers;
      case 'layer-kv':
        return this.layers * this.planes;
    }
  }

  /** Bytes of each region. */
  get regionBytes(): number {
    return this.totalBytes / this.regionCount;
  }

  /** Which region holds a slice, and at which offset inside it. */
  locate(layer: number, plane: number, block: number): { region: number; offset: number } {
    const { layers, planes, blocks, blockBytes: bb } = this;
    if (!(Number.isInteger(layer) && layer >= 0 && layer < layers))
      throw new InvalidParamError(`layer ${layer} out of range 0..${layers - 1}`);
    if (!(Number.isInteger(plane) && plane >= 0 && plane < planes))
      throw new InvalidParamError(`plane ${plane} out of range 0..${planes - 1}`);
    if (!(Number.isInteger(block) && block >= 0 && block < blocks))
      throw new InvalidParamError(`block ${block} out of range 0..${blocks - 1}`);
    switch (this.arrangement) {
      case 'contiguous':
        return { region: 0, offset: ((block * layers + layer) * planes + plane) * bb };
      case 'layer':
        return { region: layer, offset: (block * planes + plane) * bb };
      case 'layer-kv':
        return { region: layer * planes + plane, offset: block * bb };
    }
  }

  /**
   * The start address of every slice, by slice index, given each region's
   * base address. Computed once per cache (or per peer); O(slices).
   */
  sliceAddresses(bases: ArrayLike<number>): Float64Array {
    if (bases.length !== this.regionCount)
      throw new InvalidParamError(
        `KV layout: ${this.regionCount} region base addresses expected, got ${bases.length}`,
      );
    const { layers, planes, blocks, blockBytes: bb } = this;
    const out = new Float64Array(this.sliceCount);
    for (let l = 0; l < layers; l++) {
      for (let p = 0; p < planes; p++) {
        const s0 = (l * planes + p) * blocks;
        let base: number;
        let stride: number;
        switch (this.arrangement) {
          case 'contiguous':
            base = bases[0]! + (l * planes + p) * bb;
            stride = layers * planes * bb;
            break;
          case 'layer':
            base = bases[l]! + p * bb;
            stride = planes * bb;
            break;
          case 'layer-kv':
            base = bases[l * planes + p]!;
            stride = bb;
            break;
        }
        for (let b = 0; b < blocks; b++) out[s0 + b] = base + b * stride;
      }
    }
    return out;
  }

  /**
   * Slice indices for a list of block ids, in this arrangement's memory
   * order, so that runs of consecutive blocks become adjacent, mergeable
   * pairs. `order` picks the arrangement whose order to follow (the local
   * one); only layers [firstLayer, endLayer) are listed; `out` receives
   * (endLayer − firstLayer) × planes × ids.length indices.
   */
  sliceIndices(
    ids: ArrayLike<number>,
    order: KvArrangement,
    out: Uint32Array,
    firstLayer = 0,
    endLayer = this.layers,
  ): Uint32Array {
    const { planes, blocks } = this;
    const n = ids.length;
    const r0 = firstLayer * planes;
    const r1 = endLayer * planes;
    let k = 0;
    if (order === 'layer-kv') {
      for (let r = r0; r < r1; r++) {
        const s0 = r * blocks;
        for (let i = 0; i < n; i++) out[k++] = s0 + ids[i]!;
      }
    } else if (order === 'layer') {
      for (let l = firstLayer; l < endLayer; l++) {
        for (let i = 0; i < n; i++) {
          for (let p = 0; p < planes; p++) out[k++] = (l * planes + p) * blocks + ids[i]!;
        }
      }
    } else {
      for (let i = 0; i < n; i++) {
        for (let r = r0; r < r1; r++) out[k++] = r * blocks + ids[i]!;
      }
    }
    return out;
  }

  compatFields(): KvCompatFields {
    return {
      layers: this.layers,
      planes: this.planes,
      blockBytes: this.blockBytes,
      elementSize: this.elementSize,
      memType: this.memType,
      model: this.model,
    };
  }

  toSpec(): KvLayoutSpec {
    return {
      layers: this.layers,
      blocks: this.blocks,
      blockBytes: this.blockBytes,
      elementSize: this.elementSize,
      planes: this.planes,
      arrangement: this.arrangement,
      memType: this.memType,
      devId: this.devId,
      model: this.model || undefined,
    };
  }
}

/** Format version of the published layout; a peer with another one is refused. */
export const KV_LAYOUT_FORMAT = 1;

/** A cache's layout and region addresses, as published to peers. */
export interface PublishedKvLayout {
  layout: KvLayout;
  /** Base address of each region, in the publisher's address space. */
  bases: number[];
  /** The compatibility hash the publisher computed (hex). */
  compatHash: string;
}

/** Encodes a layout and its region bases for a metadata label. */
export function encodeLayout(
  layout: KvLayout,
  bases: ArrayLike<number>,
  compatHash: string,
): Uint8Array {
  if (bases.length !== layout.regionCount)
    throw new InvalidParamError(`encodeLayout: ${layout.regionCount} bases expected`);
  const doc = {
    format: KV_LAYOUT_FORMAT,
    spec: layout.toSpec(),
    bases: Array.from(bases, (b) => String(b)),
    compatHash,
  };
  return Buffer.from(JSON.stringify(doc));
}

/** Decodes a published layout; anything malformed is a MismatchError naming what was wrong. */
export function decodeLayout(bytes: Uint8Array, from = 'peer'): PublishedKvLayout {
  let doc: any;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new MismatchError(`the KV layout published by ${from} is not valid JSON`, { cause: err });
  }
  if (!doc || typeof doc !== 'object')
    throw new MismatchError(`the KV layout published by ${from} is not an object`);
  if (doc.closed === true) throw new NotFoundError(`the KV cache of ${from} was closed`);
  if (doc.format !== KV_LAYOUT_FORMAT)
    throw new MismatchError(
      `the KV layout published by ${from} has format ${String(doc.format)}, this side reads ${KV_LAYOUT_FORMAT}`,
    );
  let layout: KvLayout;
  try {
    layout = new KvLayout(doc.spec);
  } catch (err) {
    throw new MismatchError(
      `the KV layout published by ${from} is invalid: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (!Array.isArray(doc.bases) || doc.bases.length !== layout.regionCount)
    throw new MismatchError(
      `the KV layout published by ${from} lists ${doc.bases?.length} region bases, its arrangement needs ${layout.regionCount}`,
    );
  const bases = doc.bases.map((s: unknown) => {
    const v = typeof s === 'string' && /^\d+$/.test(s) ? Number(s) : NaN;
    if (!Number.isSafeInteger(v) || v + layout.regionBytes > MAX_SAFE)
      throw new MismatchError(
        `the KV layout published by ${from} has a bad region base ${String(s)}`,
      );
    return v;
  });
  if (typeof doc.compatHash !== 'string')
    throw new MismatchError(`the KV layout published by ${from} has no compatibility hash`);
  return { layout, bases, compatHash: doc.compatHash };
}

/** What a closed cache leaves under its label. */
export function closedLayoutLabel(): Uint8Array {
  return Buffer.from(JSON.stringify({ format: KV_LAYOUT_FORMAT, closed: true }));
}
