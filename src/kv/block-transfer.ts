import type { XferOp } from '../backend.js';
import { InvalidParamError } from '../errors.js';
import type { KvLayout } from './layout.js';

/**
 * Marks seen block ids without clearing an array per call: a slot holds the
 * epoch in which its block was last seen (O(ids) per check, not O(blocks)).
 */
export class BlockIdChecker {
  readonly #seen: Uint32Array;
  #epoch = 0;

  constructor(blocks: number) {
    this.#seen = new Uint32Array(blocks);
  }

  /** Throws InvalidParamError on an id out of range, or on a repeat when `unique`. */
  check(ids: ArrayLike<number>, side: string, unique: boolean): void {
    const blocks = this.#seen.length;
    if (unique && ++this.#epoch === 0xffffffff) {
      this.#seen.fill(0);
      this.#epoch = 1;
    }
    const epoch = this.#epoch;
    for (let k = 0; k < ids.length; k++) {
      const b = ids[k]!;
      if (!Number.isInteger(b) || b < 0 || b >= blocks)
        throw new InvalidParamError(
          `${side} block id ${String(b)} at position ${k} is out of range 0..${blocks - 1}`,
          { op: 'kv.transferBlocks' },
        );
      if (unique) {
        if (this.#seen[b] === epoch)
          throw new InvalidParamError(
            `${side} block id ${b} appears twice (position ${k}): one block would be written twice`,
            { op: 'kv.transferBlocks' },
          );
        this.#seen[b] = epoch;
      }
    }
  }
}

function isIdList(v: unknown): v is ArrayLike<number> {
  return (
    Array.isArray(v) ||
    v instanceof Uint32Array ||
    v instanceof Int32Array ||
    v instanceof Float64Array ||
    v instanceof Uint16Array
  );
}

/**
 * The index pairs of a block transfer over prepared slice lists: for each
 * block pair, every (layer, plane) slice, in the local arrangement's memory
 * order so that runs of consecutive blocks on both sides merge into one
 * descriptor in makeXferReq. `layers` limits it to layers [start, end), for
 * engines that move each layer as soon as it is computed. Validates first;
 * O(ids × layers × planes).
 */
export function blockPairs(
  op: XferOp,
  local: KvLayout,
  localIds: ArrayLike<number>,
  localCheck: BlockIdChecker,
  remote: KvLayout,
  remoteIds: ArrayLike<number>,
  remoteCheck: BlockIdChecker,
  layers?: { start: number; end: number },
): { lidx: Uint32Array; ridx: Uint32Array } {
  if (!isIdList(localIds) || !isIdList(remoteIds))
    throw new InvalidParamError('block ids must be arrays or typed arrays of integers', {
      op: 'kv.transferBlocks',
    });
  const n = localIds.length;
  if (n === 0 || remoteIds.length !== n)
    throw new InvalidParamError(
      `block id lists must be non-empty and of equal length (got ${n} local, ${remoteIds.length} remote)`,
      { op: 'kv.transferBlocks' },
    );
  const start = layers?.start ?? 0;
  const end = layers?.end ?? local.layers;
  if (!(
    Number.isInteger(start) &&
    Number.isInteger(end) &&
    0 <= start &&
    start < end &&
    end <= local.layers
  ))
    throw new InvalidParamError(
      `layers must be a range start < end within 0..${local.layers}, got ${String(start)}..${String(end)}`,
      { op: 'kv.transferBlocks' },
    );
  // The side being written must not get one block twice.
  localCheck.check(localIds, 'local', op === 'READ');
  remoteCheck.check(remoteIds, 'remote', op === 'WRITE');
  const m = n * (end - start) * local.planes;
  const order = local.arrangement;
  const lidx = local.sliceIndices(localIds, order, new Uint32Array(m), start, end);
  const ridx = remote.sliceIndices(remoteIds, order, new Uint32Array(m), start, end);
  return { lidx, ridx };
}
