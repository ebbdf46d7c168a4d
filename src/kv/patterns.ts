import { CanceledError, NotAllowedError, type NixlError } from '../errors.js';
import type { XferRequest } from '../xfer-request.js';
import type { BlockPool } from './block-pool.js';
import type { KvCache } from './kv-cache.js';
import {
  chunkNotif,
  lastChunkNotif,
  readDoneNotif,
  type ChunksResult,
  type NotifTracker,
  type ReadsResult,
  type WaitOptions,
} from './notif-tracker.js';

// The two ways serving engines move a request's KV blocks from prefill to decode:
//   pull (vLLM): decode READs the blocks and notifies "<request>:<n>"; prefill frees them after n reads.
//   push (SGLang): prefill WRITEs into blocks decode allocated, one notification per chunk and a last one.

function freeQuietly(cache: KvCache, pool: BlockPool | undefined, ids: ArrayLike<number>): void {
  if (!pool) return;
  try {
    pool.free(ids);
  } catch (err) {
    cache.agent.log('kv: could not free blocks: %s', (err as Error).message);
  }
}

/**
 * Decode side of the pull pattern: READs the peer's blocks into local ones;
 * once the data is here the peer is notified "<request>:<reads>". If the
 * transfer fails (e.g. the peer died) the local blocks go back to `pool` and
 * the error is thrown.
 */
export async function pullBlocks(
  cache: KvCache,
  peer: string,
  requestId: string,
  localIds: ArrayLike<number>,
  remoteIds: ArrayLike<number>,
  opts: { reads?: number; pool?: BlockPool; signal?: AbortSignal } = {},
): Promise<void> {
  try {
    await cache.transferBlocks('READ', localIds, peer, remoteIds, {
      notif: readDoneNotif(requestId, opts.reads ?? 1),
      signal: opts.signal,
    });
  } catch (err) {
    freeQuietly(cache, opts.pool, localIds);
    throw err;
  }
}

/**
 * Prefill side of the pull pattern: keeps a request's blocks until every
 * expected read was notified, then frees them. On timeout, abort or the
 * reader's disconnection the blocks are freed too, and the error thrown.
 */
export async function releaseAfterReads(
  tracker: NotifTracker,
  pool: BlockPool,
  requestId: string,
  blockIds: ArrayLike<number>,
  opts: WaitOptions & { reads?: number },
): Promise<ReadsResult> {
  // Bad options throw here, before the blocks are touched.
  const reads = tracker.waitReads(requestId, opts);
  try {
    return await reads;
  } finally {
    pool.free(blockIds);
  }
}

/**
 * Prefill side of the push pattern, one request: each chunk is a WRITE
 * posted at once with "<request>:<i>"; finish() waits for all of them and
 * sends "<request>:last:<k>". The first failure aborts the chunks in flight.
 */
export class PushSession {
  readonly cache: KvCache;
  readonly peer: string;
  readonly requestId: string;
  readonly #inflight = new Set<XferRequest>();
  readonly #done: Promise<void>[] = [];
  #chunks = 0;
  #error: NixlError | undefined;
  #finished = false;

  constructor(cache: KvCache, peer: string, requestId: string) {
    this.cache = cache;
    this.peer = peer;
    this.requestId = requestId;
    lastChunkNotif(requestId, 0); // validates the id
  }

  get chunks(): number {
    return this.#chunks;
  }

  /**
   * Posts the WRITE of one chunk at once. The returned promise settles with
   * that chunk (awaiting it is optional: finish() collects every chunk).
   */
  chunk(localIds: ArrayLike<number>, remoteIds: ArrayLike<number>): Promise<void> {
    if (this.#finished) throw new NotAllowedError(`push of '${this.requestId}' is finished`);
    if (this.#error) throw this.#error;
    const req = this.cache.makeBlockXfer('WRITE', localIds, this.peer, remoteIds, {
      notif: chunkNotif(this.requestId, this.#chunks),
    });
    this.#inflight.add(req);
    let state;
    try {
      state = this.cache.agent.postXferReq(req);
    } catch (err) {
      this.#fail(err as NixlError);
      throw err;
    }
    this.#chunks++;
    const done = state === 'DONE' ? Promise.resolve() : req.wait();
    const settled = done.then(
      () => {
        this.#inflight.delete(req);
        req.release();
      },
      (err: NixlError) => {
        this.#fail(err);
        throw err;
      },
    );
    settled.catch(() => {}); // observed through finish() when the caller does not await it
    this.#done.push(settled.catch(() => {}));
    return settled;
  }

  /** Waits for every chunk, then sends the last notification; returns the chunk count. */
  async finish(): Promise<number> {
    if (this.#finished) throw new NotAllowedError(`push of '${this.requestId}' is finished`);
    this.#finished = true;
    await Promise.all(this.#done);
    if (this.#error) throw this.#error;
    // Every chunk's data is visible at the peer now, so the last one can go on its own.
    this.cache.agent.genNotif(this.peer, lastChunkNotif(this.requestId, this.#chunks));
    return this.#chunks;
  }

  /** Gives up: chunks in flight are released (their waits end in CanceledError). */
  abort(): void {
    this.#fail(new CanceledError(`push of '${this.requestId}' was aborted`));
    this.#finished = true;
  }

  #fail(err: NixlError): void {
    this.#error ??= err;
    for (const r of this.#inflight) r.release();
    this.#inflight.clear();
  }
}

/**
 * Prefill side of the push pattern: writes the blocks in chunks of
 * `chunkBlocks` and sends the last notification. The local blocks go back to
 * `pool` once the push has settled, whether it succeeded or failed.
 */
export async function pushBlocks(
  cache: KvCache,
  peer: string,
  requestId: string,
  localIds: ArrayLike<number>,
  remoteIds: ArrayLike<number>,
  opts: { chunkBlocks?: number; pool?: BlockPool } = {},
): Promise<number> {
  const step = opts.chunkBlocks ?? localIds.length;
  const session = new PushSession(cache, peer, requestId);
  try {
    const l = Array.from(localIds);
    const r = Array.from(remoteIds);
    if (l.length !== r.length || l.length === 0 || !(Number.isSafeInteger(step) && step > 0))
      throw new NotAllowedError(
        `pushBlocks: needs equal, non-empty id lists and a positive chunk size (got ${l.length}, ${r.length}, ${step})`,
      );
    for (let i = 0; i < l.length; i += step)
      session.chunk(l.slice(i, i + step), r.slice(i, i + step));
    return await session.finish();
  } catch (err) {
    session.abort();
    throw err;
  } finally {
    freeQuietly(cache, opts.pool, localIds);
  }
}

/**
 * Decode side of the push pattern: waits until every chunk of the request
 * and the last notification arrived. On timeout, abort or the sender's
 * disconnection the blocks it allocated go back to `pool`, and the error is thrown.
 */
export async function awaitPushedBlocks(
  tracker: NotifTracker,
  pool: BlockPool,
  requestId: string,
  blockIds: ArrayLike<number>,
  opts: WaitOptions,
): Promise<ChunksResult> {
  const chunks = tracker.waitChunks(requestId, opts); // bad options throw before anything is freed
  try {
    return await chunks;
  } catch (err) {
    pool.free(blockIds);
    throw err;
  }
}
