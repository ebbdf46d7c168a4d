import { setMaxListeners } from 'node:events';

import type {
  Backend,
  BackendCapabilities,
  BackendComponents,
  BackendMD,
  BackendParams,
  BackendXfer,
  LocalRegionDesc,
  XferDescs,
  XferOp,
} from '../../src/backend.js';
import { checkNotifSize, DEFAULT_MAX_NOTIF_BYTES } from '../../src/backend.js';
import {
  BackendError,
  CanceledError,
  InvalidParamError,
  NixlError,
  NotAllowedError,
  NotFoundError,
  NotSupportedError,
  type ErrorContext,
} from '../../src/errors.js';
import { throwIfAborted } from '../common/abortable.js';
import { Status, type PostStatus, type StatusCode } from '../../src/status.js';
import { objectOf, type ObjectKeys } from './object-keys.js';
import type { ObjOptions } from './params.js';
import { s3Error } from './s3-errors.js';
import type { ObjectRef, S3Store } from './s3-store.js';
import type { SyncHead } from './sync-head.js';

/** queryMem's answer for an object that exists. */
function facts(
  r: ObjectRef,
  size: number,
  etag?: string,
  lastModified?: string,
): Record<string, string> {
  const out: Record<string, string> = {
    exists: 'true',
    size: String(size),
    bucket: r.bucket,
    key: r.key,
  };
  if (etag) out.etag = etag;
  if (lastModified) out.last_modified = lastModified;
  return out;
}

/** A registered DRAM region: the bytes the S3 requests read and fill. */
interface DramMD {
  readonly kind: 'DRAM';
  readonly addr: number;
  readonly len: number;
  readonly view: Uint8Array;
  registered: boolean;
}

/** A registered object: [addr, addr + len) of bucket/key (addr is the offset in the object). */
interface ObjMD extends ObjectRef {
  readonly kind: 'OBJ';
  readonly addr: number;
  readonly len: number;
  readonly devId: number;
  registered: boolean;
}

type RegionMD = DramMD | ObjMD;

interface ObjXfer extends BackendXfer {
  readonly op: XferOp;
  readonly local: XferDescs;
  readonly remote: XferDescs;
  status: StatusCode;
  error?: NixlError;
  /** Aborts the post in flight (release, close). */
  abort?: AbortController;
}

/**
 * NIXL's OBJ backend over the AWS SDK's S3 client: READ fills registered
 * DRAM from objects (ranged GETs), WRITE puts registered DRAM into objects.
 * Transfers are between regions of this agent (the local capability): the
 * DRAM side is the initiator's list, the OBJ side the "remote" one, with this
 * agent as the target, as in NIXL.
 */
export class ObjBackend implements Backend {
  readonly type = 'OBJ';
  readonly capabilities: BackendCapabilities = {
    local: true,
    remote: false,
    notif: true,
    mems: ['DRAM', 'OBJ'],
  };
  readonly params: Readonly<BackendParams>;
  readonly maxNotifBytes = DEFAULT_MAX_NOTIF_BYTES;
  readonly store: S3Store;
  readonly #opts: ObjOptions;
  readonly #components: BackendComponents;
  readonly #keys: ObjectKeys = new Map();
  readonly #inFlight = new Set<ObjXfer>();
  /** The partial WRITE of each object in progress: the next one waits for it (no lost update). */
  readonly #patching = new Map<string, Promise<void>>();
  #pendingNotifs: { agent: string; msg: Uint8Array }[] = [];
  #closed = false;

  readonly #syncHead: SyncHead;

  constructor(
    params: BackendParams,
    opts: ObjOptions,
    store: S3Store,
    syncHead: SyncHead,
    components: BackendComponents,
  ) {
    this.params = params;
    this.#opts = opts;
    this.store = store;
    this.#syncHead = syncHead;
    this.#components = components;
  }

  registerMem(desc: LocalRegionDesc): BackendMD {
    this.#checkOpen('registerMem');
    const ctx = { op: 'registerMem', backend: this.type };
    if (desc.memType === 'DRAM') {
      if (!desc.view) {
        throw new NotSupportedError(
          'OBJ needs DRAM memory JavaScript can see (a buffer, agent.alloc, or a raw DRAM region)',
          ctx,
        );
      }
      const md: DramMD = {
        kind: 'DRAM',
        addr: desc.addr,
        len: desc.len,
        view: desc.view,
        registered: true,
      };
      return md;
    }
    if (desc.memType !== 'OBJ')
      throw new NotSupportedError(`OBJ does not handle ${desc.memType} memory`, ctx);
    const obj = objectOf(desc, this.#opts.bucket, this.#keys, ctx);
    const md: ObjMD = {
      kind: 'OBJ',
      ...obj,
      addr: desc.addr,
      len: desc.len,
      devId: desc.devId,
      registered: true,
    };
    return md;
  }

  deregisterMem(md: BackendMD): void {
    const m = md as RegionMD;
    if (!m.registered) return;
    m.registered = false;
    if (m.kind === 'OBJ') {
      const e = this.#keys.get(m.devId);
      if (e && --e.regions === 0) this.#keys.delete(m.devId);
    }
  }

  /**
   * Object facts per OBJ descriptor, from a HEAD: `exists`, `size`, `etag`,
   * `last_modified`, `bucket`, `key`; undefined where the object does not
   * exist. Synchronous, as the agent's queryMem is (a worker makes the
   * requests; see sync-head.ts); queryObjects is the asynchronous form.
   */
  queryMem(descs: readonly LocalRegionDesc[]): (Record<string, string> | undefined)[] {
    this.#checkOpen('queryMem');
    const ctx = { op: 'queryMem', backend: this.type };
    const refs = this.#queryRefs(descs, ctx);
    return this.#syncHead.head(refs, ctx).map((r, i) => {
      if ('error' in r) {
        throw s3Error(
          { name: r.name, message: r.error },
          `HEAD ${refs[i]!.bucket}/${refs[i]!.key}`,
          ctx,
          false,
        );
      }
      return r.found ? facts(refs[i]!, r.size, r.etag, r.lastModified) : undefined;
    });
  }

  /** What queryMem answers, asynchronously: for each OBJ descriptor, the object's facts or undefined if it does not exist. */
  async queryObjects(
    descs: readonly LocalRegionDesc[],
    signal?: AbortSignal,
  ): Promise<(Record<string, string> | undefined)[]> {
    this.#checkOpen('queryMem');
    const refs = this.#queryRefs(descs, { op: 'queryMem', backend: this.type });
    const s = signal ?? new AbortController().signal;
    return Promise.all(
      refs.map(async (r) => {
        const info = await this.store.head(r, s);
        return info ? facts(r, info.size, info.etag, info.lastModified?.toISOString()) : undefined;
      }),
    );
  }

  #queryRefs(descs: readonly LocalRegionDesc[], ctx: ErrorContext): ObjectRef[] {
    return descs.map((d) => {
      if (d.memType !== 'OBJ')
        throw new InvalidParamError(`queryMem takes OBJ descriptors, not ${d.memType}`, ctx);
      return objectOf(d, this.#opts.bucket, undefined, ctx);
    });
  }

  /** The target side of a transfer is the registration itself. */
  loadLocalMD(md: BackendMD): BackendMD {
    return md;
  }

  unloadMD(_md: BackendMD): void {}

  async connect(agent: string, signal?: AbortSignal): Promise<void> {
    this.#checkAgent(agent, 'connect');
    throwIfAborted(signal, { op: 'connect', backend: this.type, agent });
  }

  async disconnect(_agent: string): Promise<void> {}

  prepXfer(op: XferOp, local: XferDescs, remote: XferDescs, agent: string): BackendXfer {
    this.#checkOpen('prepXfer');
    this.#checkAgent(agent, 'prepXfer');
    const ctx = { op: 'prepXfer', backend: this.type };
    if (local.memType !== 'DRAM' || remote.memType !== 'OBJ') {
      throw new NotSupportedError(
        `OBJ moves between DRAM (the local list) and OBJ (the remote list), not ${local.memType} and ${remote.memType}`,
        ctx,
      );
    }
    const h: ObjXfer = { op, local, remote, status: Status.ERR_NOT_POSTED };
    return h;
  }

  postXfer(handle: BackendXfer, notif: Uint8Array | undefined): PostStatus {
    this.#checkOpen('postXfer');
    if (notif) checkNotifSize(notif, this.maxNotifBytes, { op: 'postXfer', backend: this.type });
    const h = handle as ObjXfer;
    for (let i = 0; i < h.local.count; i++) {
      if (
        !(h.local.regions[i] as RegionMD).registered ||
        !(h.remote.regions[i] as RegionMD).registered
      ) {
        throw new NotFoundError(`descriptor ${i} touches a region that was deregistered`, {
          op: 'postXfer',
          backend: this.type,
        });
      }
    }
    h.error = undefined;
    let bytes = 0;
    for (let i = 0; i < h.local.count; i++) bytes += h.local.lens[i]!;
    if (bytes === 0) {
      h.status = Status.SUCCESS;
      if (notif !== undefined) this.#queueNotif(notif);
      return Status.SUCCESS;
    }
    h.status = Status.IN_PROG;
    const abort = new AbortController();
    setMaxListeners(0, abort.signal); // one listener per request of the transfer
    h.abort = abort;
    this.#inFlight.add(h);
    const run = h.op === 'READ' ? this.#read(h, abort.signal) : this.#write(h, abort.signal);
    run.then(
      () => this.#settle(h, abort, undefined, notif),
      (err: unknown) => this.#settle(h, abort, err, undefined),
    );
    return Status.IN_PROG;
  }

  checkXfer(handle: BackendXfer): StatusCode {
    return (handle as ObjXfer).status;
  }

  releaseXfer(handle: BackendXfer): void {
    const h = handle as ObjXfer;
    this.#inFlight.delete(h);
    if (h.status === Status.IN_PROG) {
      h.error = new CanceledError('released while in flight', { backend: this.type });
      h.status = Status.ERR_CANCELED;
      h.abort?.abort(h.error);
    }
  }

  genNotif(agent: string, msg: Uint8Array): void {
    this.#checkOpen('genNotif');
    this.#checkAgent(agent, 'genNotif');
    checkNotifSize(msg, this.maxNotifBytes, { op: 'genNotif', backend: this.type });
    this.#queueNotif(msg);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const h of this.#inFlight) {
      h.error = new CanceledError('backend closed', { backend: this.type });
      h.status = Status.ERR_CANCELED;
      h.abort?.abort(h.error);
      h.onSettled?.();
    }
    this.#inFlight.clear();
    this.#pendingNotifs = [];
    this.store.destroy();
    this.#syncHead.close();
  }

  /** READ: each descriptor is a ranged GET (split at part_size) into its DRAM bytes. */
  async #read(h: ObjXfer, signal: AbortSignal): Promise<void> {
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < h.local.count; i++) {
      const len = h.local.lens[i]!;
      if (len === 0) continue;
      const obj = h.remote.regions[i] as ObjMD;
      jobs.push(this.store.read(obj, h.remote.addrs[i]!, this.#dram(h, i), signal));
    }
    await this.#all(jobs, h);
  }

  /**
   * WRITE, per object: a descriptor that covers a whole region registered at
   * offset 0 is a PUT of those bytes (NIXL's whole-object write); any other
   * (an offset, a part of the region, several descriptors) reads the object,
   * patches it and puts it back, one patch of an object at a time.
   */
  async #write(h: ObjXfer, signal: AbortSignal): Promise<void> {
    const byObject = new Map<string, number[]>();
    for (let i = 0; i < h.local.count; i++) {
      if (h.local.lens[i] === 0) continue;
      const obj = h.remote.regions[i] as ObjMD;
      const id = `${obj.bucket}/${obj.key}`;
      const list = byObject.get(id);
      if (list) list.push(i);
      else byObject.set(id, [i]);
    }
    const jobs: Promise<void>[] = [];
    for (const [id, descs] of byObject) {
      const i = descs[0]!;
      const obj = h.remote.regions[i] as ObjMD;
      const whole =
        descs.length === 1 &&
        obj.addr === 0 &&
        h.remote.addrs[i] === 0 &&
        h.remote.lens[i] === obj.len;
      jobs.push(
        whole
          ? this.store.write(obj, this.#dram(h, i), signal)
          : this.#patch(id, obj, h, descs, signal),
      );
    }
    await this.#all(jobs, h);
  }

  #patch(id: string, obj: ObjMD, h: ObjXfer, descs: number[], signal: AbortSignal): Promise<void> {
    const before = this.#patching.get(id) ?? Promise.resolve();
    const mine = before.then(async () => {
      signal.throwIfAborted();
      const old = await this.store.readWhole(obj, this.#opts.rmwMaxBytes, signal);
      let size = old.length;
      for (const i of descs) size = Math.max(size, h.remote.addrs[i]! + h.remote.lens[i]!);
      if (size > this.#opts.rmwMaxBytes) {
        throw new NotSupportedError(
          `a partial WRITE to ${id} would put back ${size} bytes, over rmw_max_bytes (${this.#opts.rmwMaxBytes})`,
          { op: 'postXfer', backend: this.type },
        );
      }
      const next = size === old.length ? old : Buffer.alloc(size);
      if (next !== old) old.copy(next);
      for (const i of descs) next.set(this.#dram(h, i), h.remote.addrs[i]!);
      await this.store.write(obj, next, signal);
    });
    // The next patch of this object waits for this one, whatever its outcome.
    const tail = mine.catch(() => {});
    this.#patching.set(id, tail);
    void tail.then(() => {
      if (this.#patching.get(id) === tail) this.#patching.delete(id);
    });
    return mine;
  }

  /** Every job; on the first failure the post is aborted, and it is thrown once all settled. */
  async #all(jobs: Promise<void>[], h: ObjXfer): Promise<void> {
    let first: { err: unknown } | undefined;
    await Promise.all(
      jobs.map((j) =>
        j.catch((err: unknown) => {
          first ??= { err };
          h.abort?.abort(err);
        }),
      ),
    );
    if (first) throw first.err;
  }

  /** The DRAM bytes of descriptor i of the local list. */
  #dram(h: ObjXfer, i: number): Uint8Array {
    const md = h.local.regions[i] as DramMD;
    const off = h.local.addrs[i]! - md.addr;
    return md.view.subarray(off, off + h.local.lens[i]!);
  }

  #settle(h: ObjXfer, abort: AbortController, err: unknown, notif: Uint8Array | undefined): void {
    // A release or close already settled this post (and a repost has its own controller).
    if (h.abort !== abort || h.status !== Status.IN_PROG) return;
    this.#inFlight.delete(h);
    h.abort = undefined;
    if (err === undefined) {
      h.status = Status.SUCCESS;
      // The data is in the store: only now may the notification go out.
      if (notif !== undefined) this.#queueNotif(notif);
    } else {
      const e =
        err instanceof NixlError
          ? err
          : new BackendError(String((err as Error)?.message ?? err), {
              backend: this.type,
              cause: err,
            });
      h.error = e;
      h.status = e.status as StatusCode;
    }
    h.onSettled?.();
  }

  #queueNotif(msg: Uint8Array): void {
    this.#pendingNotifs.push({ agent: this.#components.agentName, msg });
    if (this.#pendingNotifs.length === 1) {
      queueMicrotask(() => {
        const batch = this.#pendingNotifs;
        this.#pendingNotifs = [];
        if (batch.length && !this.#closed) this.#components.onNotifs(batch);
      });
    }
  }

  #checkAgent(agent: string, op: string): void {
    if (agent !== this.#components.agentName) {
      throw new NotSupportedError(
        `OBJ transfers between this agent's DRAM and its objects: the target is '${this.#components.agentName}', not '${agent}'`,
        { op, backend: this.type },
      );
    }
  }

  #checkOpen(op: string): void {
    if (this.#closed)
      throw new NotAllowedError('the backend is closed', { op, backend: this.type });
  }
}
