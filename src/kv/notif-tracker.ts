import { EventEmitter } from 'node:events';

import type { Agent } from '../agent.js';
import {
  CanceledError,
  InvalidParamError,
  MismatchError,
  NixlError,
  RemoteDisconnectError,
} from '../errors.js';

// Notification names (the request id may itself contain ':'):
//   "<request>:<n>"       pull: the reader read the request's blocks; n reads are expected in all (vLLM)
//   "<request>:<i>"       push: chunk i of the request was written (SGLang)
//   "<request>:last:<k>"  push: the request was written in k chunks, all sent

/** Sent by a reader once it has read a request's blocks; `reads` = reads the owner should expect. */
export function readDoneNotif(requestId: string, reads = 1): string {
  checkRequestId(requestId);
  return `${requestId}:${reads}`;
}

/** Bound to the WRITE of chunk `index` of a request. */
export function chunkNotif(requestId: string, index: number): string {
  checkRequestId(requestId);
  return `${requestId}:${index}`;
}

/** Sent after every chunk of a request was written: `chunks` in all. */
export function lastChunkNotif(requestId: string, chunks: number): string {
  checkRequestId(requestId);
  return `${requestId}:last:${chunks}`;
}

export type KvNotif =
  { requestId: string; kind: 'number'; n: number } | { requestId: string; kind: 'last'; n: number };

const LAST = /^(.+):last:(\d{1,9})$/s;
const NUMBERED = /^(.+):(\d{1,9})$/s;

/** Parses a KV notification, or undefined for anything else. */
export function parseKvNotif(msg: string): KvNotif | undefined {
  let m = LAST.exec(msg);
  if (m) return { requestId: m[1]!, kind: 'last', n: Number(m[2]) };
  m = NUMBERED.exec(msg);
  if (m) return { requestId: m[1]!, kind: 'number', n: Number(m[2]) };
  return undefined;
}

/**
 * The longest KV request id, in UTF-8 bytes. Every KV notification (at most
 * the id and 15 bytes) then stays far below the built-in backends' 1 MiB
 * maxNotifBytes (and the default), so a push cannot write its chunks and then
 * fail on its last notification.
 */
export const MAX_KV_REQUEST_ID_BYTES = 4096;

function checkRequestId(id: string): void {
  if (typeof id !== 'string' || id.length === 0)
    throw new InvalidParamError('a KV request id must be a non-empty string');
  const bytes = Buffer.byteLength(id);
  if (bytes > MAX_KV_REQUEST_ID_BYTES)
    throw new InvalidParamError(
      `a KV request id is at most ${MAX_KV_REQUEST_ID_BYTES} bytes, got ${bytes}`,
    );
}

export interface WaitOptions {
  /** Give up (CanceledError) after this long. */
  timeoutMs: number;
  /** Count only notifications from this agent, and fail at once if it disconnects. */
  from?: string;
  signal?: AbortSignal;
}

export interface ReadsResult {
  reads: number;
  /** Senders, in arrival order. */
  from: string[];
}

export interface ChunksResult {
  chunks: number;
}

interface Entry {
  /** Numbered notifications received: read counts (pull) or chunk indices (push). */
  numbers: number[];
  senders: string[];
  last?: number;
  waiter?: Waiter;
}

interface Waiter {
  kind: 'reads' | 'chunks';
  from?: string;
  reads?: number;
  settle(err: NixlError | undefined): void;
}

interface TrackerEvents {
  /** A notification that is not a KV one (the tracker takes over the agent's 'notif' event). */
  other: [agent: string, msg: Uint8Array];
}

/**
 * Collects a request's KV notifications and resolves when every expected one
 * has arrived; a timeout, an abort or the sender's disconnection ends the wait
 * with an error instead. Notifications that come before their wait are kept
 * (up to `maxPending` requests; the oldest are dropped first).
 */
export class NotifTracker extends EventEmitter<TrackerEvents> {
  readonly agent: Agent;
  readonly maxPending: number;
  readonly #entries = new Map<string, Entry>();
  #dropped = 0;
  #closed = false;
  readonly #onNotif = (agent: string, msg: Uint8Array) => this.#receive(agent, msg);
  readonly #onDisconnect = (agent: string, err: NixlError) => this.#peerFailed(agent, err);

  constructor(agent: Agent, opts: { maxPending?: number } = {}) {
    super();
    this.agent = agent;
    this.maxPending = opts.maxPending ?? 65536;
    agent.on('notif', this.#onNotif);
    agent.on('peer:disconnect', this.#onDisconnect);
  }

  /** Requests with notifications but no completed wait. */
  get pending(): number {
    return this.#entries.size;
  }

  /** Requests whose early notifications were dropped for lack of room. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Pull pattern, owner side: resolves once the request has been read as
   * many times as its "<request>:<n>" notifications say (or `reads`).
   */
  waitReads(requestId: string, opts: WaitOptions & { reads?: number }): Promise<ReadsResult> {
    if (opts.reads !== undefined && !(Number.isSafeInteger(opts.reads) && opts.reads > 0))
      throw new InvalidParamError(`waitReads: reads must be a positive integer`);
    return this.#wait(requestId, 'reads', opts).then((e) => ({
      reads: e.numbers.length,
      from: e.senders,
    }));
  }

  /**
   * Push pattern, receiving side: resolves once "<request>:last:<k>" and all
   * chunks 0..k-1 have arrived, in any order.
   */
  waitChunks(requestId: string, opts: WaitOptions): Promise<ChunksResult> {
    return this.#wait(requestId, 'chunks', opts).then((e) => ({ chunks: e.last! }));
  }

  /** Stops listening; waits in progress end with CanceledError. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.agent.off('notif', this.#onNotif);
    this.agent.off('peer:disconnect', this.#onDisconnect);
    for (const [id, e] of [...this.#entries]) {
      e.waiter?.settle(new CanceledError(`the tracker was closed while waiting for '${id}'`));
    }
    this.#entries.clear();
  }

  #wait(
    requestId: string,
    kind: 'reads' | 'chunks',
    opts: WaitOptions & { reads?: number },
  ): Promise<Entry> {
    checkRequestId(requestId);
    if (this.#closed) return Promise.reject(new CanceledError('the tracker is closed'));
    if (!opts || !(typeof opts.timeoutMs === 'number' && opts.timeoutMs > 0))
      throw new InvalidParamError('a positive timeoutMs is required');
    let entry = this.#entries.get(requestId);
    if (entry?.waiter)
      throw new InvalidParamError(`a wait for request '${requestId}' is in progress already`);
    if (opts.signal?.aborted) return Promise.reject(opts.signal.reason);
    if (!entry) {
      entry = { numbers: [], senders: [] };
      this.#entries.set(requestId, entry);
    }
    const e = entry;
    if (opts.from !== undefined) {
      // Early notifications from others do not count.
      const keep = e.senders.map((s) => s === opts.from);
      e.numbers = e.numbers.filter((_, i) => keep[i]);
      e.senders = e.senders.filter((_, i) => keep[i]);
    }
    return new Promise<Entry>((resolve, reject) => {
      const timer = setTimeout(() => {
        const got =
          kind === 'reads' ? `${e.numbers.length} read notification(s)` : describeChunks(e);
        w.settle(
          new CanceledError(
            `request '${requestId}': timed out after ${opts.timeoutMs} ms with ${got}`,
            { op: kind === 'reads' ? 'kv.waitReads' : 'kv.waitChunks', agent: this.agent.name },
          ),
        );
      }, opts.timeoutMs);
      const onAbort = () => w.settle(opts.signal!.reason);
      const w: Waiter = {
        kind,
        from: opts.from,
        reads: opts.reads,
        settle: (err) => {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          if (this.#entries.get(requestId) === e) this.#entries.delete(requestId);
          e.waiter = undefined;
          if (err) reject(err);
          else resolve(e);
        },
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      e.waiter = w;
      this.#evaluate(requestId, e);
    });
  }

  #receive(agent: string, msg: Uint8Array): void {
    const text = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength).toString('utf8');
    const n = parseKvNotif(text);
    if (!n) {
      this.emit('other', agent, msg);
      return;
    }
    let e = this.#entries.get(n.requestId);
    if (!e) {
      if (this.#entries.size >= this.maxPending) {
        for (const [id, old] of this.#entries) {
          if (old.waiter) continue;
          this.#entries.delete(id);
          this.#dropped++;
          break;
        }
      }
      e = { numbers: [], senders: [] };
      this.#entries.set(n.requestId, e);
    }
    if (e.waiter?.from !== undefined && e.waiter.from !== agent) return;
    if (n.kind === 'last') e.last = n.n;
    else {
      e.numbers.push(n.n);
      e.senders.push(agent);
    }
    if (e.waiter) this.#evaluate(n.requestId, e);
  }

  #evaluate(requestId: string, e: Entry): void {
    const w = e.waiter!;
    if (w.kind === 'reads') {
      if (e.numbers.length === 0) return;
      const expected = w.reads ?? e.numbers[0]!;
      if (e.numbers.length >= expected) w.settle(undefined);
      return;
    }
    if (e.last === undefined) return;
    const k = e.last;
    const seen = new Set<number>();
    for (const i of e.numbers) {
      if (i >= k) {
        w.settle(
          new MismatchError(
            `request '${requestId}': chunk ${i} arrived but the last notification says ${k} chunks`,
            {
              op: 'kv.waitChunks',
            },
          ),
        );
        return;
      }
      seen.add(i);
    }
    if (seen.size === k) w.settle(undefined);
  }

  #peerFailed(agent: string, err: NixlError): void {
    for (const [id, e] of [...this.#entries]) {
      if (e.waiter?.from === agent)
        e.waiter.settle(
          new RemoteDisconnectError(`request '${id}': '${agent}' disconnected before it finished`, {
            op: e.waiter.kind === 'reads' ? 'kv.waitReads' : 'kv.waitChunks',
            agent: this.agent.name,
            cause: err,
          }),
        );
    }
  }
}

function describeChunks(e: Entry): string {
  const last = e.last === undefined ? 'no last notification' : `last says ${e.last}`;
  return `${new Set(e.numbers).size} chunk notification(s), ${last}`;
}
