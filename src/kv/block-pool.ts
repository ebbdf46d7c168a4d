import { InvalidParamError, NotAllowedError } from '../errors.js';

/**
 * A free list of block ids, as a serving engine's block manager keeps: the
 * KV helpers give blocks back here when a request ends, succeeds or fails.
 */
export class BlockPool {
  readonly size: number;
  readonly #free: Uint32Array;
  readonly #used: Uint8Array;
  #top: number;

  constructor(size: number) {
    if (!Number.isSafeInteger(size) || size <= 0 || size > 2 ** 32 - 1)
      throw new InvalidParamError(
        `BlockPool: size must be a positive integer, got ${String(size)}`,
      );
    this.size = size;
    this.#free = new Uint32Array(size);
    this.#used = new Uint8Array(size);
    // Lowest ids first: fresh allocations come out as one contiguous run.
    for (let i = 0; i < size; i++) this.#free[i] = size - 1 - i;
    this.#top = size;
  }

  get freeCount(): number {
    return this.#top;
  }

  get usedCount(): number {
    return this.size - this.#top;
  }

  isAllocated(id: number): boolean {
    return this.#used[id] === 1;
  }

  /** Takes n blocks; NotAllowedError (and nothing taken) if fewer are free. */
  allocate(n: number): Uint32Array {
    if (!Number.isSafeInteger(n) || n <= 0)
      throw new InvalidParamError(`BlockPool.allocate: bad count ${String(n)}`);
    if (n > this.#top) throw new NotAllowedError(`BlockPool: ${n} blocks asked, ${this.#top} free`);
    const out = new Uint32Array(n);
    for (let k = 0; k < n; k++) {
      const id = this.#free[--this.#top]!;
      this.#used[id] = 1;
      out[k] = id;
    }
    return out;
  }

  /** Gives blocks back; an id not allocated (or repeated) is refused and nothing is freed. */
  free(ids: ArrayLike<number>): void {
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k]!;
      if (!Number.isInteger(id) || id < 0 || id >= this.size || this.#used[id] !== 1) {
        for (let j = 0; j < k; j++) this.#used[ids[j]!] = 1;
        throw new InvalidParamError(
          `BlockPool.free: block ${String(id)} (position ${k}) is not allocated`,
        );
      }
      this.#used[id] = 2; // marks repeats within this call
    }
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k]!;
      this.#used[id] = 0;
      this.#free[this.#top++] = id;
    }
  }
}
