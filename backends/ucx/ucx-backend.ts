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
import {
  CanceledError,
  InvalidParamError,
  NixlError,
  NotAllowedError,
  NotFoundError,
  NotSupportedError,
  statusToError,
  type ErrorContext,
} from '../../src/errors.js';
import { Status } from '../../src/status.js';
import { fromNative as fromNativeError } from '../common/native-error.js';
import { NotifLinger } from '../common/notif-linger.js';
import type { NativeUcxEngine, NativeUcxEvents, UcxDisconnect } from './native-ucx.js';
import { ucxAddon, UCX_MAX_NOTIF_BYTES } from './native-ucx.js';
import type { UcxOptions } from './params.js';
import { StatusSlots, type Slot } from './status-slots.js';

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

class UcxXfer implements BackendXfer {
  error?: NixlError;
  onSettled?: () => void;
  /** Posted and not settled yet: the backend holds the event loop for it. */
  busy = false;
  /** The current post carries a notification. */
  notif = false;
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
 * Backends with transfers in flight: kept reachable while they move data (the
 * user may hold nothing but a request's promise); an idle one can be collected.
 */
const busyBackends = new Set<UcxBackend>();

/**
 * The UCX backend: one-sided READ/WRITE with ucp_put_nbx / ucp_get_nbx and a
 * flush, notifications as active messages sent after the flush completes.
 * Connection info is the workers' UCX addresses, public data a packed rkey.
 */
export class UcxBackend implements Backend {
  readonly type = BACKEND;
  readonly capabilities: BackendCapabilities = {
    local: true,
    remote: true,
    notif: true,
    mems: ['DRAM'],
  };
  readonly params: Readonly<BackendParams>;
  /** A chosen bound (UCX itself has none for an active message): see UCX_MAX_NOTIF_BYTES. */
  readonly maxNotifBytes = UCX_MAX_NOTIF_BYTES;
  readonly options: UcxOptions;
  readonly #components: BackendComponents;
  readonly #linger = new NotifLinger();
  readonly #engine: NativeUcxEngine;
  readonly #slots: StatusSlots;
  readonly #selfPeer: number;
  readonly #peers = new Map<string, number>();
  readonly #xfers = new Map<number, UcxXfer>();
  #closed = false;
  /** Transfers posted and not settled: while there are any, the engine holds the event loop. */
  #busy = 0;
  /** Set by close(): no new work is accepted while transfers in flight drain. */
  #closing: Promise<void> | undefined;

  constructor(params: BackendParams, options: UcxOptions, components: BackendComponents) {
    this.params = params;
    this.options = options;
    this.#components = components;
    const addon = ucxAddon();
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
        onEvents: UcxBackend.#eventsOf(new WeakRef(this)),
      });
    } catch (err) {
      throw fromNative(err, { op: 'createBackend', agent: components.agentName });
    }
    this.#slots = new StatusSlots((chunk) => this.#engine.addStatusChunk(chunk));
    this.#selfPeer = this.#engine.selfPeer();
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
    if (signal?.aborted) {
      throw new CanceledError('connect was aborted', {
        ...this.#ctx('connect'),
        agent,
        cause: signal.reason,
      });
    }
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
    const slot = this.#slots.alloc();
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
        slot.chunk,
        slot.index,
        hint,
      );
    } catch (err) {
      this.#slots.free(slot);
      throw fromNative(err, { ...this.#ctx('prepXfer'), agent });
    }
    const h = new UcxXfer(id, slot, agent);
    this.#xfers.set(id, h);
    return h;
  }

  postXfer(handle: BackendXfer, notif: Uint8Array | undefined): number {
    this.#checkOpen('postXfer');
    if (notif) checkNotifSize(notif, this.maxNotifBytes, this.#ctx('postXfer'));
    const h = handle as UcxXfer;
    h.error = undefined;
    try {
      h.notif = notif !== undefined;
      const status = this.#engine.post(h.id, notif);
      if (status === Status.IN_PROG) this.#busyUp(h);
      else if (h.notif) this.#linger.extend();
      return status;
    } catch (err) {
      const e = fromNative(err, { op: 'postXfer', agent: h.agent });
      h.error = e;
      return e.status;
    }
  }

  checkXfer(handle: BackendXfer): number {
    const h = handle as UcxXfer;
    let s = Atomics.load(h.slot.view, h.slot.index);
    if (s === Status.IN_PROG && this.options.progress === 'event' && !this.#closed) {
      // Event-fd mode: a poll also progresses, so a caller spinning on the status moves on.
      this.#engine.progress();
      s = Atomics.load(h.slot.view, h.slot.index);
    }
    if (s < 0 && !h.error) {
      const msg = this.#closed ? 'the UCX backend was closed' : this.#engine.xferError(h.id);
      h.error = statusToError(s, msg || `transfer failed with status ${s}`, {
        op: 'checkXfer',
        agent: h.agent,
        backend: BACKEND,
      });
    }
    return s;
  }

  releaseXfer(handle: BackendXfer): void {
    const h = handle as UcxXfer;
    if (!this.#xfers.delete(h.id)) return;
    this.#busyDown(h);
    if (!this.#closed) this.#engine.release(h.id);
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
    const inFlight = () =>
      [...this.#xfers.values()].some(
        (h) => Atomics.load(h.slot.view, h.slot.index) === Status.IN_PROG,
      );
    while (inFlight() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    this.#closed = true;
    this.#engine.close(0); // drained above
    busyBackends.delete(this);
    this.#linger.stop();
    this.#busy = 0;
    // Transfers in flight now read "canceled" from their slots.
    for (const h of this.#xfers.values()) {
      h.busy = false;
      if (Atomics.load(h.slot.view, h.slot.index) < 0) h.onSettled?.();
    }
    this.#peers.clear();
  }

  #onEvents(
    settled: Uint32Array,
    notifs: (string | Uint8Array)[],
    disconnects: UcxDisconnect[],
  ): void {
    if (this.#closed) return;
    for (let i = 0; i < settled.length; i++) {
      const h = this.#xfers.get(settled[i]!);
      if (!h) continue;
      this.#busyDown(h);
      if (h.notif) this.#linger.extend();
      h.onSettled?.();
    }
    if (notifs.length) {
      const batch: { agent: string; msg: Uint8Array }[] = [];
      for (let i = 0; i < notifs.length; i += 2) {
        batch.push({ agent: notifs[i] as string, msg: notifs[i + 1] as Uint8Array });
      }
      this.#components.onNotifs(batch);
    }
    for (const d of disconnects) {
      // Only the current endpoints of that peer count; a replaced instance is old news.
      if (this.#peers.get(d.agent) !== d.peerId) continue;
      this.#components.onDisconnect(
        d.agent,
        statusToError(d.status, d.message, { op: 'progress', agent: d.agent, backend: BACKEND }),
      );
    }
  }

  /**
   * The engine's event callback. It reaches the backend through a weak
   * reference, so a backend nobody holds is collected (and its engine closed)
   * although the native side keeps the callback; and it is made here, not in
   * the constructor, so that its closure captures nothing else of it.
   */
  static #eventsOf(self: WeakRef<UcxBackend>): NativeUcxEvents {
    return (settled, notifs, disconnects) => {
      const backend = self.deref();
      if (backend) backend.#onEvents(settled, notifs, disconnects);
    };
  }

  #busyUp(h: UcxXfer): void {
    if (h.busy) return;
    h.busy = true;
    if (this.#busy++ === 0) {
      this.#engine.ref();
      busyBackends.add(this);
    }
  }

  #busyDown(h: UcxXfer): void {
    if (!h.busy) return;
    h.busy = false;
    if (--this.#busy === 0) {
      busyBackends.delete(this);
      if (!this.#closed) this.#engine.unref();
    }
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
