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
import {
  CanceledError,
  InvalidParamError,
  NixlError,
  NotAllowedError,
  NotFoundError,
  NotSupportedError,
} from '../../src/errors.js';
import type { PostStatus, StatusCode } from '../../src/status.js';
import { LoopHold } from '../common/loop-hold.js';
import { fromNative } from '../common/native-error.js';
import { NotifLinger } from '../common/notif-linger.js';
import { SettleDispatch, type BatchCallback, type NativeXfer } from '../common/settle-dispatch.js';
import { SLOT_FREE, StatusSlots, type Slot } from '../common/status-slots.js';
import {
  misalignment,
  registerRegion,
  type DramMD,
  type FileMD,
  type RegionMD,
} from './file-regions.js';
import { loadFileEngine, type FileEngine } from './native-file.js';
import type { FileParams } from './params.js';
import { queryFiles } from './query-mem.js';

class FileXfer implements NativeXfer {
  gen = 0;
  inFlight = false;
  notif = false;
  released = false;
  error?: NixlError;
  onSettled?: () => void;
  constructor(
    readonly slot: Slot,
    readonly agent: string,
    /** The memory side's regions: their buffers stay alive while the engine may touch them. */
    readonly memory: readonly BackendMD[],
  ) {}
}

const WORDS = 4;

/**
 * The POSIX backend (NIXL's name): READ (file → DRAM) and WRITE (DRAM → file)
 * between regions of this agent, as NIXL's POSIX plugin: local capability
 * only, no notifications (storage has no one to tell). The native engine
 * (native/file) moves the bytes on io_uring or a thread pool; status slots
 * and completion batches settle requests as for TCP and UCX.
 */
export class FileBackend implements Backend {
  readonly type = 'POSIX';
  readonly capabilities: BackendCapabilities = {
    local: true,
    remote: false,
    notif: false,
    mems: ['DRAM', 'FILE'],
  };
  readonly params: Readonly<BackendParams>;
  /** No notifications: the agent refuses any non-empty one up front. */
  readonly maxNotifBytes = 0;
  readonly #opts: FileParams;
  readonly #components: BackendComponents;
  readonly #engine: FileEngine;
  readonly #api: 'uring' | 'pool';
  readonly #uringError: string;
  readonly #hold: LoopHold;
  readonly #slots: StatusSlots;
  readonly #settle: SettleDispatch<FileXfer>;
  /** Released while their I/O was still in the kernel: kept until their slot reads free. */
  readonly #draining = new Set<FileXfer>();
  #closed = false;

  constructor(params: BackendParams, opts: FileParams, components: BackendComponents) {
    this.params = params;
    this.#opts = opts;
    this.#components = components;
    const Engine = loadFileEngine();
    try {
      this.#engine = new Engine(
        {
          api: opts.api,
          queueDepth: opts.queueDepth,
          poolThreads: opts.poolThreads,
          chunkBytes: opts.chunkBytes,
          inlineBytes: opts.inlineBytes,
          slots: opts.slots,
        },
        FileBackend.#batchesOf(new WeakRef(this)),
      );
    } catch (err) {
      throw fromNative(err, { op: 'createBackend', backend: this.type });
    }
    const engine = this.#engine;
    const info = engine.info();
    this.#api = info.api;
    this.#uringError = info.uringError;
    this.#hold = new LoopHold(this, engine);
    this.#slots = new StatusSlots({
      growSlots: () => engine.growSlots(),
      runQueuedReleases: () => {},
    });
    this.#settle = new SettleDispatch<FileXfer>({
      backend: this.type,
      components,
      hold: this.#hold,
      linger: new NotifLinger(),
      takeBatch: () => engine.takeBatch(),
      onEvent: () => {},
    });
  }

  /** Which runner moves the bytes: 'uring' (io_uring) or 'pool' (pread/pwrite threads). */
  get api(): 'uring' | 'pool' {
    return this.#api;
  }

  /** Why io_uring is not used, when `api` is 'pool' although it was not forced ('' otherwise). */
  get uringError(): string {
    return this.#uringError;
  }

  registerMem(desc: LocalRegionDesc): BackendMD {
    this.#checkOpen('registerMem');
    return registerRegion(this.#engine, desc, this.#opts.oDirect);
  }

  deregisterMem(md: BackendMD): void {
    const r = md as RegionMD;
    if (!r.registered) return;
    r.registered = false;
    // A transfer in flight keeps the engine's descriptor until its I/O ends.
    if (r.kind === 'FILE' && !this.#closed) this.#engine.deregisterFile(r.id);
  }

  queryMem(descs: readonly LocalRegionDesc[]): (Record<string, string> | undefined)[] {
    return queryFiles(descs);
  }

  /** The target side of a transfer is the registration itself (this agent's file). */
  loadLocalMD(md: BackendMD): BackendMD {
    return md;
  }

  unloadMD(_md: BackendMD): void {}

  async connect(agent: string): Promise<void> {
    this.#checkAgent(agent, 'connect');
  }

  async disconnect(_agent: string): Promise<void> {}

  prepXfer(op: XferOp, local: XferDescs, remote: XferDescs, agent: string): BackendXfer {
    const ctx = { op: 'prepXfer', backend: this.type };
    this.#checkOpen('prepXfer');
    this.#checkAgent(agent, 'prepXfer');
    if (local.memType !== 'DRAM' || remote.memType !== 'FILE') {
      throw new NotSupportedError(
        `POSIX moves between DRAM (the local list) and FILE (the target list), not ${local.memType} and ${remote.memType}`,
        ctx,
      );
    }
    if (local.count !== remote.count) {
      throw new InvalidParamError(
        `local and remote lists differ in length (${local.count} vs ${remote.count})`,
        ctx,
      );
    }
    const words = new Float64Array(local.count * WORDS);
    for (let i = 0; i < local.count; i++) {
      const mem = local.regions[i] as DramMD;
      const file = remote.regions[i] as FileMD;
      if (!mem.registered || !file.registered) {
        throw new NotFoundError(`descriptor ${i} touches a region that was deregistered`, ctx);
      }
      if (op === 'WRITE' ? !file.writable : !file.readable) {
        throw new NotAllowedError(
          `descriptor ${i}: the file (devId ${file.devId}) is not open for ${op === 'WRITE' ? 'writing' : 'reading'}`,
          ctx,
        );
      }
      const offset = remote.addrs[i]!;
      const addr = local.addrs[i]!;
      const len = local.lens[i]!;
      if (file.direct) {
        const why = misalignment(offset, len, addr, this.#opts.directAlignment);
        if (why) throw new InvalidParamError(`descriptor ${i} (O_DIRECT): ${why}`, ctx);
      }
      words[i * WORDS] = file.id;
      words[i * WORDS + 1] = offset;
      words[i * WORDS + 2] = addr;
      words[i * WORDS + 3] = len;
    }
    const slot = this.#slots.take();
    if (slot === undefined) {
      throw new NotAllowedError(
        `all ${this.#opts.slots} transfer slots are in use; release requests or raise 'slots'`,
        ctx,
      );
    }
    try {
      this.#engine.prep(slot.index, op === 'WRITE' ? 0 : 1, words);
    } catch (err) {
      this.#slots.free(slot);
      throw fromNative(err, ctx);
    }
    this.#slots.claim(slot);
    const h = new FileXfer(slot, agent, local.regions);
    this.#settle.add(h);
    return h;
  }

  postXfer(handle: BackendXfer, notif: Uint8Array | undefined): PostStatus {
    const ctx = { op: 'postXfer', backend: this.type };
    this.#checkOpen('postXfer');
    const h = handle as FileXfer;
    if (h.released) throw new InvalidParamError('the transfer handle was released', ctx);
    if (notif !== undefined) {
      throw new NotSupportedError(
        'POSIX carries no notifications: a file has no one to tell (as NIXL’s POSIX plugin)',
        ctx,
      );
    }
    const gen = this.#settle.begin(h, false);
    try {
      this.#engine.post(h.slot.index, gen);
    } catch (err) {
      this.#settle.abort(h);
      throw fromNative(err, { ...ctx, agent: h.agent });
    }
    return this.#settle.posted(h);
  }

  checkXfer(handle: BackendXfer): StatusCode {
    return this.#settle.status(handle as FileXfer);
  }

  releaseXfer(handle: BackendXfer): void {
    const h = handle as FileXfer;
    if (!this.#settle.remove(h) || this.#closed) return;
    if (this.#engine.release(h.slot.index)) this.#draining.add(h);
    this.#slots.free(h.slot);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Joins the engine's threads once the I/O in the kernel ended: nothing
    // writes the slots or the memory after this.
    this.#engine.close();
    this.#settle.close('the backend was closed');
    this.#draining.clear();
  }

  /** Reaches the backend weakly (native/LIFETIME.md §3); captures nothing else. */
  static #batchesOf(self: WeakRef<FileBackend>): BatchCallback {
    return (settled, failures, notifs, events) => {
      const backend = self.deref();
      if (!backend) return;
      backend.#settle.onBatch(settled, failures, notifs, events);
      backend.#sweepDraining();
    };
  }

  #sweepDraining(): void {
    for (const h of this.#draining) {
      if (h.slot.view[h.slot.at] === SLOT_FREE) this.#draining.delete(h);
    }
  }

  #checkAgent(agent: string, op: string): void {
    if (agent !== this.#components.agentName) {
      throw new NotSupportedError(
        `POSIX moves data within agent '${this.#components.agentName}' (its own files), not to '${agent}'`,
        { op, backend: this.type, agent },
      );
    }
  }

  #checkOpen(op: string): void {
    if (this.#closed)
      throw new NotAllowedError('the backend is closed', { op, backend: this.type });
  }
}
