import type {
  Backend,
  BackendCapabilities,
  BackendComponents,
  BackendMD,
  BackendParams,
  BackendXfer,
  LocalRegionDesc,
  PeerIdentity,
  PrepXferOptions,
  RemoteRegionDesc,
  XferDescs,
  XferOp,
} from '../../src/backend.js';
import { checkNotifSize } from '../../src/backend.js';
import type { MemType } from '../../src/descriptors.js';
import { vramSupport } from '../../src/vram.js';
import {
  InvalidParamError,
  NixlError,
  NotAllowedError,
  NotFoundError,
  NotSupportedError,
  statusToError,
  type ErrorContext,
} from '../../src/errors.js';
import { Status, type PostStatus, type StatusCode } from '../../src/status.js';
import { LoopHold } from '../common/loop-hold.js';
import { throwIfAborted } from '../common/abortable.js';
import { fromNative as fromNativeError } from '../common/native-error.js';
import { NotifLinger } from '../common/notif-linger.js';
import {
  PeerEvent,
  SettleDispatch,
  type BatchCallback,
  type NativeXfer,
} from '../common/settle-dispatch.js';
import { YIELD_EVERY_POLLS } from '../common/poll-yield.js';
import { StatusSlots, type Slot } from '../common/status-slots.js';
import type { NativeUcxEngine } from './native-ucx.js';
import { ucxAddon, UCX_MAX_NOTIF_BYTES, type UcxAuthCounters } from './native-ucx.js';
import type { UcxOptions } from './params.js';
import { ucxCudaSupport } from './cuda-transports.js';

/** A region of this agent, mapped with ucp_mem_map. */
interface LocalMD {
  readonly kind: 'local';
  readonly handle: number;
  readonly publicData: Uint8Array;
  registered: boolean;
}

/** A peer's region (or our own, for loopback): its rkey unpacked on our endpoints. */
interface RemoteMD {
  readonly kind: 'remote';
  readonly handle: number;
  readonly peerId: number;
  loaded: boolean;
}

class UcxXfer implements NativeXfer {
  gen = 0;
  inFlight = false;
  notif = false;
  released = false;
  /** Status reads that found a post in flight (the caller yields every YIELD_EVERY_POLLS). */
  idlePolls = 0;
  error?: NixlError;
  onSettled?: () => void;
  constructor(
    readonly id: number,
    readonly slot: Slot,
    readonly agent: string,
  ) {}
}

const BACKEND = 'UCX';
/**
 * How long close() lets transfers in flight finish before it cancels them
 * (without blocking the event loop); the native close then gives endpoints
 * about 1 s more. close() resolves within about 3 s (README).
 */
const CLOSE_DRAIN_MS = 2_000;

/** Reads `worker_id=N` from NIXL's customParam, or -1 (round robin). */
function workerHint(custom: Uint8Array | undefined, numWorkers: number): number {
  if (!custom?.length) return -1;
  const m = /(?:^|[\s,;])worker_id=(\d+)/.exec(Buffer.from(custom).toString('utf8'));
  if (!m) return -1;
  const w = Number(m[1]);
  if (w >= numWorkers) {
    throw new InvalidParamError(
      `customParam worker_id=${w} is out of range (numWorkers ${numWorkers})`,
      {
        op: 'prepXfer',
        backend: BACKEND,
      },
    );
  }
  return w;
}

/** Turns an error thrown by the native engine (with .status) into a typed NixlError. */
function fromNative(err: unknown, ctx: ErrorContext): NixlError {
  return fromNativeError(err, { ...ctx, backend: BACKEND });
}

/**
 * The UCX backend: one-sided READ/WRITE with ucp_put_nbx / ucp_get_nbx and a
 * flush, notifications as active messages sent after the flush completes.
 * Connection info is the workers' UCX addresses, public data a packed rkey.
 */
export class UcxBackend implements Backend {
  readonly type = BACKEND;
  // VRAM too where the loaded UCX has its CUDA transports (set in the constructor).
  readonly capabilities: BackendCapabilities;
  readonly params: Readonly<BackendParams>;
  /** A chosen bound (UCX itself has none for an active message): see UCX_MAX_NOTIF_BYTES. */
  readonly maxNotifBytes = UCX_MAX_NOTIF_BYTES;
  readonly options: UcxOptions;
  readonly #components: BackendComponents;
  readonly #linger = new NotifLinger();
  readonly #engine: NativeUcxEngine;
  readonly #hold: LoopHold;
  readonly #slots: StatusSlots;
  readonly #settle: SettleDispatch<UcxXfer>;
  readonly #selfPeer: number;
  readonly #peers = new Map<string, number>();
  #closed = false;
  /** Set by close(): no new work is accepted while transfers in flight drain. */
  #closing: Promise<void> | undefined;

  constructor(params: BackendParams, options: UcxOptions, components: BackendComponents) {
    this.params = params;
    this.options = options;
    this.#components = components;
    const addon = ucxAddon();
    const cudaOk = ucxCudaSupport().ok && vramSupport().ok;
    this.capabilities = {
      local: true,
      remote: true,
      notif: true,
      mems: cudaOk ? ['DRAM', 'VRAM'] : ['DRAM'],
    };
    const config: string[] = [];
    for (const [k, v] of options.config) config.push(k, v);
    try {
      this.#engine = new addon.UcxEngine!({
        agentName: components.agentName,
        config,
        numWorkers: options.numWorkers,
        errorMode: options.errorHandling,
        progress: options.progress,
        timeoutMs: options.timeoutMs,
        notifAck: options.notifAck,
        onEvents: UcxBackend.#eventsOf(new WeakRef(this)),
      });
    } catch (err) {
      throw fromNative(err, { op: 'createBackend', agent: components.agentName });
    }
    const engine = this.#engine;
    // Transfers in flight hold the event loop.
    this.#hold = new LoopHold(this, engine);
    // A release frees its slot at once: no queued releases to run.
    this.#slots = new StatusSlots({ growSlots: () => engine.growSlots(), runQueuedReleases() {} });
    this.#settle = new SettleDispatch<UcxXfer>({
      backend: BACKEND,
      components,
      hold: this.#hold,
      linger: this.#linger,
      takeBatch: () => engine.takeBatch(),
      onEvent: (kind, id, status, msg) => this.#onEvent(kind, id, status, msg),
    });
    this.#selfPeer = engine.selfPeer();
    components.log(
      'UCX %s (%s): transports=%s devices=%s workers=%d progress=%s errorHandling=%s timeout_ms=%d config=%s',
      addon.ucxVersion!(),
      addon.ucxLibraryPath!(),
      options.transports || '(UCX default)',
      options.devices || '(all)',
      options.numWorkers,
      options.progress,
      options.errorHandling,
      options.timeoutMs,
      options.config.map(([k, v]) => `${k}=${v}`).join(' ') || '(none)',
    );
  }

  /**
   * Memory from ucp_mem_map with UCP_MEM_MAP_ALLOCATE: UCX picks System V or
   * POSIX shared memory first (UCX_ALLOC_PRIO), which its shared-memory
   * transports map in a peer, so RMA on it is a copy instead of being
   * emulated with active messages. Registering it reuses that mapping.
   */
  alloc(bytes: number): Buffer {
    this.#checkOpen('alloc');
    try {
      return this.#engine.alloc(bytes);
    } catch (err) {
      throw fromNative(err, this.#ctx('alloc'));
    }
  }

  unsupportedMemReason(memType: MemType): string | undefined {
    if (memType !== 'VRAM' || this.capabilities.mems.includes('VRAM')) return undefined;
    const ucx = ucxCudaSupport();
    return ucx.ok ? `VRAM is not supported here: ${vramSupport().reason}` : ucx.reason;
  }

  registerMem(desc: LocalRegionDesc): BackendMD {
    this.#checkOpen('registerMem');
    if (desc.memType !== 'DRAM') {
      throw new NotSupportedError(
        `UCX here registers DRAM only, not ${desc.memType}`,
        this.#ctx('registerMem'),
      );
    }
    try {
      // The engine keeps the region's buffer alive until it is deregistered.
      const [handle, publicData] = this.#engine.register(desc.addr, desc.len, desc.view);
      const md: LocalMD = { kind: 'local', handle, publicData, registered: true };
      return md;
    } catch (err) {
      throw fromNative(err, this.#ctx('registerMem'));
    }
  }

  deregisterMem(md: BackendMD): void {
    const m = md as LocalMD;
    if (m.kind !== 'local')
      throw new InvalidParamError('not a UCX local region', this.#ctx('deregisterMem'));
    if (!m.registered || this.#closed) return;
    m.registered = false;
    try {
      this.#engine.deregister(m.handle);
    } catch (err) {
      throw fromNative(err, this.#ctx('deregisterMem'));
    }
  }

  getConnInfo(): Uint8Array {
    this.#checkOpen('getConnInfo');
    return this.#engine.connInfo();
  }

  getPublicData(md: BackendMD): Uint8Array {
    return (md as LocalMD).publicData;
  }

  loadRemoteConnInfo(peer: PeerIdentity, connInfo: Uint8Array): void {
    this.#checkOpen('loadRemoteConnInfo');
    if (peer.name === this.#components.agentName) {
      throw new InvalidParamError(
        'an agent does not load its own connection info',
        this.#ctx('loadRemoteConnInfo'),
      );
    }
    const old = this.#peers.get(peer.name);
    let id: number;
    try {
      id = this.#engine.loadPeer(peer.name, connInfo);
    } catch (err) {
      throw fromNative(err, { ...this.#ctx('loadRemoteConnInfo'), agent: peer.name });
    }
    // A fresh instance of the peer replaces the old endpoints.
    if (old !== undefined) this.#engine.dropPeer(old);
    this.#peers.set(peer.name, id);
  }

  loadRemoteMD(agent: string, desc: RemoteRegionDesc): BackendMD {
    this.#checkOpen('loadRemoteMD');
    const peerId = this.#peers.get(agent);
    if (peerId === undefined) {
      throw new NotFoundError(
        `no UCX connection info loaded for '${agent}'`,
        this.#ctx('loadRemoteMD'),
      );
    }
    try {
      const md: RemoteMD = {
        kind: 'remote',
        handle: this.#engine.loadRemote(peerId, desc.publicData),
        peerId,
        loaded: true,
      };
      return md;
    } catch (err) {
      throw fromNative(err, { ...this.#ctx('loadRemoteMD'), agent });
    }
  }

  loadLocalMD(md: BackendMD): BackendMD {
    this.#checkOpen('loadLocalMD');
    try {
      const r: RemoteMD = {
        kind: 'remote',
        handle: this.#engine.loadLocal((md as LocalMD).handle),
        peerId: this.#selfPeer,
        loaded: true,
      };
      return r;
    } catch (err) {
      throw fromNative(err, this.#ctx('loadLocalMD'));
    }
  }

  unloadMD(md: BackendMD): void {
    const m = md as RemoteMD;
    if (m.kind !== 'remote' || !m.loaded) return;
    m.loaded = false;
    if (!this.#closed) this.#engine.unload(m.handle);
  }

  async connect(agent: string, signal?: AbortSignal): Promise<void> {
    this.#checkOpen('connect');
    throwIfAborted(signal, { ...this.#ctx('connect'), agent });
    if (agent === this.#components.agentName) return;
    const id = this.#peers.get(agent);
    if (id === undefined)
      throw new NotFoundError(`no UCX connection info loaded for '${agent}'`, this.#ctx('connect'));
    // Endpoints exist since loadRemoteConnInfo; UCX wires them up on first use.
    const [status, message] = this.#engine.peerStatus(id);
    if (status < 0) throw statusToError(status, message, { ...this.#ctx('connect'), agent });
  }

  async disconnect(agent: string): Promise<void> {
    const id = this.#peers.get(agent);
    if (id === undefined || this.#closed) return;
    this.#peers.delete(agent);
    this.#engine.dropPeer(id);
  }

  prepXfer(
    op: XferOp,
    local: XferDescs,
    remote: XferDescs,
    agent: string,
    opts?: PrepXferOptions,
  ): BackendXfer {
    this.#checkOpen('prepXfer');
    if (local.memType !== 'DRAM' || remote.memType !== 'DRAM') {
      throw new NotSupportedError('UCX here moves DRAM only', this.#ctx('prepXfer'));
    }
    const peerId = agent === this.#components.agentName ? this.#selfPeer : this.#peers.get(agent);
    if (peerId === undefined) {
      throw new NotFoundError(`no UCX connection to '${agent}'`, this.#ctx('prepXfer'));
    }
    const n = local.count;
    const lregions = new Uint32Array(n);
    const rregions = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const l = local.regions[i] as LocalMD;
      const r = remote.regions[i] as RemoteMD;
      if (l?.kind !== 'local' || !l.registered) {
        throw new NotFoundError(
          `local descriptor ${i} is not in a UCX-registered region`,
          this.#ctx('prepXfer'),
        );
      }
      if (r?.kind !== 'remote' || !r.loaded || r.peerId !== peerId) {
        throw new NotFoundError(
          `remote descriptor ${i} is not in a loaded region of '${agent}'`,
          this.#ctx('prepXfer'),
        );
      }
      lregions[i] = l.handle;
      rregions[i] = r.handle;
    }
    const hint = workerHint(opts?.customParam, this.options.numWorkers);
    const slot = this.#slots.take();
    if (slot === undefined) {
      throw new NotAllowedError(
        'every transfer slot of this backend is in use; release requests',
        this.#ctx('prepXfer'),
      );
    }
    let id: number;
    try {
      id = this.#engine.prep(
        op === 'READ',
        peerId,
        n,
        local.addrs,
        local.lens,
        lregions,
        remote.addrs,
        rregions,
        slot.index,
        hint,
      );
    } catch (err) {
      this.#slots.free(slot);
      throw fromNative(err, { ...this.#ctx('prepXfer'), agent });
    }
    this.#slots.claim(slot);
    const h = new UcxXfer(id, slot, agent);
    this.#settle.add(h);
    return h;
  }

  postXfer(handle: BackendXfer, notif: Uint8Array | undefined): PostStatus {
    this.#checkOpen('postXfer');
    if (notif) checkNotifSize(notif, this.maxNotifBytes, this.#ctx('postXfer'));
    const h = handle as UcxXfer;
    const gen = this.#settle.begin(h, notif !== undefined);
    try {
      this.#engine.post(h.id, gen, notif);
    } catch (err) {
      // Refused, or failed inside the call: nothing is in flight.
      this.#settle.abort(h);
      throw fromNative(err, { op: 'postXfer', agent: h.agent });
    }
    // A post that completed inside the call (shared-memory copies) queues no batch entry.
    return this.#settle.posted(h);
  }

  checkXfer(handle: BackendXfer): StatusCode {
    const h = handle as UcxXfer;
    let s = this.#settle.status(h);
    if (s !== Status.IN_PROG || this.#closed) return s;
    if (this.options.progress === 'event') {
      // Event-fd mode: a poll also progresses, so a caller spinning on the status moves on.
      this.#engine.progress();
      s = this.#settle.status(h);
    } else if ((++h.idlePolls & (YIELD_EVERY_POLLS - 1)) === 0) {
      // Thread mode: the progress thread that reads the answer (a WRITE's
      // acknowledgement, a notification's) may be yield-spinning on this CPU.
      this.#engine.yieldCpu();
    }
    return s;
  }

  releaseXfer(handle: BackendXfer): void {
    const h = handle as UcxXfer;
    if (!this.#settle.remove(h) || this.#closed) return;
    this.#engine.release(h.id); // the slot reads SLOT_FREE from now on
    this.#slots.free(h.slot);
  }

  genNotif(agent: string, msg: Uint8Array): void {
    this.#checkOpen('genNotif');
    checkNotifSize(msg, this.maxNotifBytes, this.#ctx('genNotif'));
    const peerId = agent === this.#components.agentName ? this.#selfPeer : this.#peers.get(agent);
    if (peerId === undefined)
      throw new NotFoundError(`no UCX connection to '${agent}'`, this.#ctx('genNotif'));
    try {
      this.#engine.genNotif(peerId, msg);
      this.#linger.extend();
    } catch (err) {
      throw fromNative(err, { ...this.#ctx('genNotif'), agent });
    }
  }

  /** What this agent refused of its peers' UCX messages (wire version 4; tests, probes). */
  authCounters(): UcxAuthCounters {
    this.#checkOpen('authCounters');
    return this.#engine.authCounters();
  }

  /**
   * Tests only: sends an arbitrary active message to `agent` (loaded), as a
   * forger would, with no session tag of this agent's.
   */
  forgeAm(agent: string, amId: number, header: Uint8Array, body: Uint8Array): void {
    this.#checkOpen('forgeAm');
    const peerId = this.#peers.get(agent);
    if (peerId === undefined)
      throw new NotFoundError(`no UCX connection to '${agent}'`, this.#ctx('forgeAm'));
    this.#engine.forgeAm(peerId, amId, header, body);
  }

  /**
   * What the engine published and JavaScript has not taken yet. A target
   * publishes a notification before it acknowledges it (notif_ack), so once
   * the initiator's transfer is DONE, the target's getNotifs returns it.
   */
  pollNotifs(): void {
    if (this.#closed) return;
    const b = this.#engine.takePublished();
    if (b) this.#settle.onBatch(b[0], b[1], b[2], b[3]);
  }

  async close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closing = this.#drainAndClose();
    return this.#closing;
  }

  async #drainAndClose(): Promise<void> {
    // Let transfers already on the wire finish (bounded) before endpoints go:
    // tearing a tcp connection down in the middle of a large put has crashed
    // the receiving side's UCX 1.13 now and then.
    const deadline = Date.now() + CLOSE_DRAIN_MS;
    while (this.#settle.inProgress() && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    this.#closed = true;
    this.#engine.close(0); // drained above; transfers still in flight read "canceled"
    this.#settle.close('the UCX backend was closed');
    this.#peers.clear();
  }

  /** A peer event of a completion batch: UCX reports failed peers. */
  #onEvent(kind: number, id: number, status: number, msg: string): void {
    if (kind !== PeerEvent.DISCONNECTED) return;
    // Only the current endpoints of a peer count; a replaced instance is old news.
    for (const [agent, peerId] of this.#peers) {
      if (peerId !== id) continue;
      this.#components.onDisconnect(
        agent,
        statusToError(status, msg, { op: 'progress', agent, backend: BACKEND }),
      );
      return;
    }
  }

  /**
   * The engine's batch callback. It reaches the backend through a weak
   * reference, so a backend nobody holds is collected (and its engine closed)
   * although the native side keeps the callback; and it is made here, not in
   * the constructor, so that its closure captures nothing else of it.
   */
  static #eventsOf(self: WeakRef<UcxBackend>): BatchCallback {
    return (settled, failures, notifs, events) => {
      const backend = self.deref();
      if (backend) backend.#settle.onBatch(settled, failures, notifs, events);
    };
  }

  #ctx(op: string): ErrorContext {
    return { op, agent: this.#components.agentName, backend: BACKEND };
  }

  #checkOpen(op: string): void {
    if (this.#closed || this.#closing) {
      throw new NotAllowedError('the UCX backend is closed', this.#ctx(op));
    }
  }
}
