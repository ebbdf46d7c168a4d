/**
 * The order of a staged transfer, apart from what moves the bytes: a region
 * cut into chunks, each chunk passing two stages through one slot of a ring
 * of staging buffers (VRAM → staging → socket, or socket → staging → VRAM).
 *
 * - At most `slots` chunks are in flight; chunk k waits for a free slot
 *   (backpressure: a slow second stage stops new first stages).
 * - While chunk k is in its second stage, chunk k+1 is in its first, so the
 *   device copy overlaps the socket.
 * - `holdLast`: the last chunk's second stage starts only after every other
 *   chunk finished, so a notification bound to it arrives after all the data.
 * - It settles after the last chunk; on the first failure no new chunk
 *   starts, the ones in flight are waited for, and it rejects with that error.
 *
 * It knows nothing of CUDA or TCP: VramStager gives it the stages, and the
 * tests give it stages over host memory.
 */

export interface Chunk {
  /** Index in the transfer. */
  readonly index: number;
  /** Offset of the chunk in the transfer. */
  readonly offset: number;
  readonly len: number;
  /** The staging slot it passes through. */
  readonly slot: number;
  /** True for the last chunk. */
  readonly last: boolean;
}

export interface PipelineStages {
  first(chunk: Chunk): Promise<void>;
  second(chunk: Chunk): Promise<void>;
}

export interface PipelineOptions {
  readonly bytes: number;
  readonly chunkBytes: number;
  readonly slots: number;
  readonly holdLast?: boolean;
  readonly signal?: AbortSignal;
}

export interface PipelineStats {
  readonly chunks: number;
  /** The most chunks that were in flight at once. */
  readonly maxInFlight: number;
}

/** Cuts [0, bytes) into chunks of chunkBytes (the last one shorter). */
export function chunksOf(bytes: number, chunkBytes: number, slots: number): Chunk[] {
  const n = Math.max(1, Math.ceil(bytes / chunkBytes));
  const out: Chunk[] = [];
  for (let i = 0; i < n; i++) {
    const offset = i * chunkBytes;
    out.push({
      index: i,
      offset,
      len: Math.min(chunkBytes, bytes - offset),
      slot: i % slots,
      last: i === n - 1,
    });
  }
  return out;
}

export async function runPipeline(
  opts: PipelineOptions,
  stages: PipelineStages,
): Promise<PipelineStats> {
  const { bytes, chunkBytes, slots } = opts;
  if (!(Number.isSafeInteger(bytes) && bytes > 0)) throw new RangeError(`bad byte count ${bytes}`);
  if (!(Number.isSafeInteger(chunkBytes) && chunkBytes > 0))
    throw new RangeError(`bad chunk size ${chunkBytes}`);
  if (!(Number.isSafeInteger(slots) && slots > 0)) throw new RangeError(`bad slot count ${slots}`);
  const chunks = chunksOf(bytes, chunkBytes, slots);
  const slotFree: Promise<void>[] = Array.from({ length: slots }, () => Promise.resolve());
  let failure: { error: unknown } | undefined;
  let inFlight = 0;
  let maxInFlight = 0;
  const others: Promise<void>[] = [];

  const fail = (error: unknown): void => {
    failure ??= { error };
  };

  const run = async (c: Chunk, waitFor?: Promise<unknown>): Promise<void> => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      await stages.first(c);
      if (waitFor) await waitFor;
      if (failure) return;
      await stages.second(c);
    } catch (e) {
      fail(e);
    } finally {
      inFlight--;
    }
  };

  for (const c of chunks) {
    // Backpressure: the slot's previous chunk must be done.
    await slotFree[c.slot];
    if (opts.signal?.aborted) fail(opts.signal.reason);
    if (failure) break;
    const hold = c.last && opts.holdLast ? Promise.all(others) : undefined;
    const p = run(c, hold);
    slotFree[c.slot] = p;
    if (!c.last) others.push(p);
  }
  await Promise.all(slotFree);
  if (failure) throw failure.error;
  return { chunks: chunks.length, maxInFlight };
}
