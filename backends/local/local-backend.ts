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
  CanceledError,
  NixlError,
  NotAllowedError,
  NotFoundError,
  NotSupportedError,
} from '../../src/errors.js';
import { throwIfAborted } from '../common/abortable.js';
import { Status, type PostStatus, type StatusCode } from '../../src/status.js';

/** A registered region: the bytes, seen through JavaScript. */
interface LocalMD {
  readonly addr: number;
  readonly len: number;
  readonly view: Uint8Array;
  registered: boolean;
}

interface LocalXfer extends BackendXfer {
  readonly op: XferOp;
  readonly local: XferDescs;
  readonly remote: XferDescs;
  status: StatusCode;
  error?: NixlError;
  /** Bumped by every post and by release, so a stale chunked copy stops. */
  epoch: number;
}

/**
 * The largest notification LOCAL carries: 1 MiB. In-process nothing limits
 * it; this is the bound the TCP and UCX backends have, so that an application
 * tested on LOCAL does not break on a remote backend.
 */
export const LOCAL_MAX_NOTIF_BYTES = DEFAULT_MAX_NOTIF_BYTES;

export interface LocalParams {
  /** Transfers up to this many bytes are copied inside postXfer. */
  inlineBytes: number;
  /** Larger transfers are copied in slices of this size, one per event-loop turn. */
  sliceBytes: number;
}

/**
 * Transfers between regions of one agent, in pure TypeScript: the reference
 * backend for plugin authors. Small transfers complete inside postXfer; large
 * ones are copied in slices so the event loop keeps turning.
 */
export class LocalBackend implements Backend {
  readonly type = 'LOCAL';
  readonly capabilities: BackendCapabilities = {
    local: true,
    remote: false,
    notif: true,
    mems: ['DRAM'],
  };
  readonly params: Readonly<BackendParams>;
  readonly maxNotifBytes = LOCAL_MAX_NOTIF_BYTES;
  readonly #opts: LocalParams;
  readonly #components: BackendComponents;
  readonly #inFlight = new Set<LocalXfer>();
  #pendingNotifs: { agent: string; msg: Uint8Array }[] = [];
  #closed = false;

  constructor(params: BackendParams, opts: LocalParams, components: BackendComponents) {
    this.params = params;
    this.#opts = opts;
    this.#components = components;
  }

  registerMem(desc: LocalRegionDesc): BackendMD {
    this.#checkOpen('registerMem');
    if (desc.memType !== 'DRAM' || !desc.view) {
      throw new NotSupportedError(
        'LOCAL needs DRAM memory JavaScript can see (a buffer, agent.alloc, or a raw DRAM region)',
        {
          op: 'registerMem',
          backend: this.type,
        },
      );
    }
    const md: LocalMD = { addr: desc.addr, len: desc.len, view: desc.view, registered: true };
    return md;
  }

  deregisterMem(md: BackendMD): void {
    (md as LocalMD).registered = false;
  }

  /** The target side of a loopback transfer is the registration itself. */
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
    const h: LocalXfer = { op, local, remote, status: Status.ERR_NOT_POSTED, epoch: 0 };
    return h;
  }

  postXfer(handle: BackendXfer, notif: Uint8Array | undefined): PostStatus {
    this.#checkOpen('postXfer');
    // The agent checks this too; a backend refuses on its own for direct callers.
    if (notif) checkNotifSize(notif, this.maxNotifBytes, { op: 'postXfer', backend: this.type });
    const h = handle as LocalXfer;
    // A transfer that cannot start throws, before anything moved.
    const gone = this.#deregistered(h);
    if (gone !== undefined) {
      throw new NotFoundError(`descriptor ${gone} touches a region that was deregistered`, {
        op: 'postXfer',
        backend: this.type,
      });
    }
    h.error = undefined;
    h.status = Status.IN_PROG;
    const epoch = ++h.epoch;
    let total = 0;
    for (let i = 0; i < h.local.count; i++) total += h.local.lens[i]!;
    if (total <= this.#opts.inlineBytes) {
      this.#copy(h, 0, 0, Infinity);
      this.#complete(h, notif, false);
      return Status.SUCCESS;
    }
    this.#inFlight.add(h);
    const step = (desc: number, offset: number) => {
      if (h.epoch !== epoch || this.#closed) return;
      const next = this.#copy(h, desc, offset, this.#opts.sliceBytes);
      if (h.status === Status.IN_PROG && next) setImmediate(step, next[0], next[1]);
      else this.#complete(h, notif, true);
    };
    setImmediate(step, 0, 0);
    return Status.IN_PROG;
  }

  checkXfer(handle: BackendXfer): StatusCode {
    return (handle as LocalXfer).status;
  }

  releaseXfer(handle: BackendXfer): void {
    const h = handle as LocalXfer;
    h.epoch++;
    this.#inFlight.delete(h);
    if (h.status === Status.IN_PROG) {
      h.error = new CanceledError('released while in flight', { backend: this.type });
      h.status = Status.ERR_CANCELED;
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
      h.epoch++;
      h.error = new CanceledError('backend closed', { backend: this.type });
      h.status = Status.ERR_CANCELED;
      h.onSettled?.();
    }
    this.#inFlight.clear();
    this.#pendingNotifs = [];
  }

  /** The first descriptor whose region (either side) was deregistered, if any. */
  #deregistered(h: LocalXfer): number | undefined {
    for (let i = 0; i < h.local.count; i++) {
      if (
        !(h.local.regions[i] as LocalMD).registered ||
        !(h.remote.regions[i] as LocalMD).registered
      )
        return i;
    }
    return undefined;
  }

  /**
   * Copies up to `budget` bytes starting at (desc, offset). Returns where to
   * continue, or undefined when every descriptor is done (or on error).
   */
  #copy(h: LocalXfer, desc: number, offset: number, budget: number): [number, number] | undefined {
    const src = h.op === 'WRITE' ? h.local : h.remote;
    const dst = h.op === 'WRITE' ? h.remote : h.local;
    while (desc < src.count) {
      const smd = src.regions[desc] as LocalMD;
      const dmd = dst.regions[desc] as LocalMD;
      if (!smd.registered || !dmd.registered) {
        h.error = new NotFoundError(`descriptor ${desc} touches a region that was deregistered`, {
          op: 'postXfer',
          backend: this.type,
        });
        h.status = Status.ERR_NOT_FOUND;
        return undefined;
      }
      const len = src.lens[desc]!;
      const n = Math.min(len - offset, budget);
      const s = src.addrs[desc]! - smd.addr + offset;
      const d = dst.addrs[desc]! - dmd.addr + offset;
      dmd.view.set(smd.view.subarray(s, s + n), d);
      budget -= n;
      offset += n;
      if (offset >= len) {
        desc++;
        offset = 0;
      }
      if (budget <= 0) return desc < src.count ? [desc, offset] : undefined;
    }
    return undefined;
  }

  #complete(h: LocalXfer, notif: Uint8Array | undefined, settle: boolean): void {
    this.#inFlight.delete(h);
    if (h.status === Status.IN_PROG) {
      h.status = Status.SUCCESS;
      // The data is in place: only now may the notification go out.
      if (notif !== undefined) this.#queueNotif(notif);
    }
    if (settle) h.onSettled?.();
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
        `LOCAL only transfers within agent '${this.#components.agentName}', not to '${agent}'`,
        {
          op,
          backend: this.type,
        },
      );
    }
  }

  #checkOpen(op: string): void {
    if (this.#closed)
      throw new NotAllowedError('the backend is closed', { op, backend: this.type });
  }
}
