import { randomBytes } from 'node:crypto';

import type {
  Backend,
  BackendCapabilities,
  BackendComponents,
  BackendMD,
  BackendParams,
  BackendXfer,
  LocalRegionDesc,
  PeerIdentity,
  RemoteHandles,
  RemoteRegionBatch,
  RemoteRegionDesc,
  XferDescs,
  XferOp,
} from '../../src/backend.js';
import { checkNotifSize } from '../../src/backend.js';
import type { MemType } from '../../src/descriptors.js';
import { vramSupport } from '../../src/vram.js';
import {
  CanceledError,
  InvalidParamError,
  MismatchError,
  NixlError,
  NotAllowedError,
  NotFoundError,
  NotSupportedError,
  RemoteDisconnectError,
  statusToError,
} from '../../src/errors.js';
import { Status, type PostStatus, type StatusCode } from '../../src/status.js';
import { decodeConnInfo, encodeConnInfo } from './conn-info.js';
import { newIdentitySeed } from './identity-seed.js';
import { abortable } from '../common/abortable.js';
import { LoopHold } from '../common/loop-hold.js';
import { fromNative } from '../common/native-error.js';
import { NotifLinger } from '../common/notif-linger.js';
import {
  PeerEvent,
  SettleDispatch,
  type BatchCallback,
  type NativeXfer,
} from '../common/settle-dispatch.js';
import { YIELD_EVERY_POLLS } from '../common/poll-yield.js';
import { StatusSlots, type Slot } from '../common/status-slots.js';
import type {
  LingerCounters,
  RegimeCounters,
  ShmCounters,
  TcpEngine,
  TcpEngineOptions,
} from './native-engine.js';
import { native } from '../../src/native.js';
import { loadTcpEngine, RegimeSaid, TCP_MAX_NOTIF_BYTES } from './native-engine.js';
import type { TcpParams } from './params.js';
import { parsePublicData, RemoteRegionKeys, type RegionMD } from './region-md.js';

class TcpXfer implements NativeXfer {
  gen = 0;
  inFlight = false;
  notif = false;
  released = false;
  /** Status reads of this transfer send its payload and read its answer (poll_send). */
  pollSends = false;
  /** Small enough for poll_progress=auto to leave its answer to its caller. */
  autoReads = false;
  /** Status reads of the current post read its answer (poll_progress=auto, one shared CPU). */
  callerReads = false;
  /**
   * Under poll_progress=auto, a socket WRITE of one descriptor up to
   * inline_write_max_bytes, or a socket READ up to POLL_READ_MAX_BYTES: where
   * the regime is off or does not decide, its status reads read its answer
   * too (Engine::CallerPollsAnswer).
   */
  ownAnswer = false;
  /** Status reads of the current post that found it in flight. */
  idlePolls = 0;
  /** Status reads of it park the caller (poll_park_us) instead of yielding. */
  parks = false;
  error?: NixlError;
  onSettled?: () => void;
  constructor(
    readonly slot: Slot,
    readonly agent: string,
  ) {}
}

interface PeerEntry {
  readonly id: number;
  readonly identity: PeerIdentity;
}

const DESC_WORDS = 9;
/**
 * The largest socket transfer (total bytes) whose answer poll_progress=auto
 * leaves to its polling caller in the shared-CPU regime (kRegimeMaxBytes,
 * native/tcp/engine.h): the posts the regime decides for and samples.
 */
const AUTO_READS_MAX_BYTES = 16 * 1024;
/**
 * The largest socket READ (total bytes) whose answer a poll receives itself,
 * left to its polling caller under poll_progress=auto whatever the regime
 * (kPollAnswerMaxBytes, native/tcp/engine.h). Larger ones keep the I/O
 * thread's receive straight into place and parking.
 */
const POLL_READ_MAX_BYTES = 32 * 1024;
const TWO32 = 2 ** 32;

/**
 * The TCP backend: a thin TypeScript shell over the native engine
 * (native/tcp). Transfers are served and driven by the engine's I/O thread;
 * this class maps agents to engine peers and requests to status slots
 * (backends/common/status-slots.ts); completion batches settle them
 * (backends/common/settle-dispatch.ts), and connect answers come as peer events.
 */
export class TcpBackend implements Backend {
  readonly type = 'TCP';
  readonly capabilities: BackendCapabilities = {
    local: true,
    remote: true,
    notif: true,
    mems: ['DRAM'],
  };
  readonly params: Readonly<BackendParams>;
  /** The engine's kMaxNotif (native/tcp/wire.h): a target drops the connection beyond it. */
  readonly maxNotifBytes = TCP_MAX_NOTIF_BYTES;
  readonly #opts: TcpParams;
  readonly #components: BackendComponents;
  readonly #linger = new NotifLinger();
  readonly #engine: TcpEngine;
  readonly #hold: LoopHold;
  readonly #slots: StatusSlots;
  readonly #settle: SettleDispatch<TcpXfer>;
  readonly #secret: Uint8Array;
  readonly #publicKey: Uint8Array;
  readonly #unixName: string;
  readonly #port: number;
  readonly #peers = new Map<string, PeerEntry>();
  readonly #connectWaiters = new Map<
    number,
    { resolve(): void; reject(e: unknown): void; agent: string }
  >();
  #nextToken = 1;
  #closed = false;
  /** Posts whose answer poll_progress=auto left to the polling caller. */
  #callerReadPosts = 0;
  /** Socket answers a status read found and read itself (Engine::Progress settled them). */
  #callerSettles = 0;

  constructor(params: BackendParams, opts: TcpParams, components: BackendComponents) {
    this.params = params;
    this.#opts = opts;
    this.#components = components;
    const Engine = loadTcpEngine();
    const engineOpts: TcpEngineOptions = {
      ...opts,
      name: components.agentName,
      identitySeed: newIdentitySeed(),
      // Random, so that no other process can squat it in advance.
      unixName: opts.sameHost ? `nixl-tcp-${process.pid}-${randomBytes(8).toString('hex')}` : '',
    };
    try {
      this.#engine = new Engine(engineOpts, TcpBackend.#batchesOf(new WeakRef(this)));
    } catch (err) {
      throw fromNative(err, { op: 'createBackend', backend: 'TCP' });
    }
    const engine = this.#engine;
    // Transfers in flight and connects pending hold the event loop.
    this.#hold = new LoopHold(this, engine);
    this.#slots = new StatusSlots({
      growSlots: () => engine.growSlots(),
      runQueuedReleases: () => engine.runQueuedCommands(),
    });
    this.#settle = new SettleDispatch<TcpXfer>({
      backend: this.type,
      components,
      hold: this.#hold,
      linger: this.#linger,
      takeBatch: () => engine.takeBatch(),
      onEvent: (kind, id, status, msg) => this.#onEvent(kind, id, status, msg),
    });
    const info = engine.info();
    this.#secret = info.secret;
    this.#publicKey = info.publicKey;
    this.#unixName = engineOpts.unixName;
    this.#port = info.port;
  }

  /** The port the engine listens on (useful with port 0). */
  get port(): number {
    return this.#port;
  }

  unsupportedMemReason(memType: MemType): string | undefined {
    if (memType !== 'VRAM') return undefined;
    return (
      'the TCP engine serves host memory only; move VRAM over TCP with VramStager ' +
      '(nixl-ts/backends/tcp: pinned host staging, CUDA IPC on one host)' +
      (vramSupport().ok ? '' : `; VRAM is not supported here: ${vramSupport().reason}`)
    );
  }

  /**
   * Memory same-host peers may map (a memfd, zeroed): once a registered
   * region covers the whole allocation, a peer connected over the Unix
   * socket maps it and its transfers become one memcpy. With
   * `same_host_shm=off`, ordinary memory. Valid until the Buffer is collected.
   */
  alloc(bytes: number): Buffer {
    this.#checkOpen('alloc');
    if (!this.#opts.sameHostShm || bytes === 0) return native().alloc(bytes);
    try {
      return this.#engine.allocShared(bytes);
    } catch (err) {
      throw fromNative(err, { op: 'alloc', backend: this.type });
    }
  }

  /** What the shared-memory path did so far (tests, the benchmark's path column). */
  shmCounters(): ShmCounters {
    return this.#engine.shmCounters();
  }

  /** What the I/O thread's lingering did so far (param `linger_us`; tests). */
  lingerCounters(): LingerCounters {
    return this.#engine.lingerCounters();
  }

  /** What `poll_progress=auto`'s detector saw so far (tests, benchmarks). */
  regimeCounters(): RegimeCounters {
    return {
      ...this.#engine.regimeCounters(),
      callerReadPosts: this.#callerReadPosts,
      callerSettles: this.#callerSettles,
    };
  }

  registerMem(desc: LocalRegionDesc): BackendMD {
    this.#checkOpen('registerMem');
    if (desc.memType !== 'DRAM') {
      throw new NotSupportedError(`TCP serves DRAM only, not ${desc.memType}`, {
        op: 'registerMem',
        backend: this.type,
      });
    }
    // The engine keeps the region's buffer alive until it is deregistered.
    const pub = this.#engine.registerRegion(desc.addr, desc.len, desc.view);
    return parsePublicData(new Uint8Array(pub), this.#components.agentName);
  }

  deregisterMem(md: BackendMD): void {
    const r = md as RegionMD;
    if (!r.registered) return;
    r.registered = false;
    // Synchronous: the engine's I/O thread no longer touches the region after
    // this, and same-host peers that mapped it have unmapped it (or were
    // dropped, shm_unmap_timeout_ms at most).
    if (!this.#closed) this.#engine.deregisterRegion(r.rid);
  }

  getConnInfo(): Uint8Array {
    this.#checkOpen('getConnInfo');
    return encodeConnInfo({
      host: this.#opts.advertiseAddr,
      port: this.#port,
      secret: this.#secret,
      publicKey: this.#publicKey,
      unixName: this.#unixName,
    });
  }

  getPublicData(md: BackendMD): Uint8Array {
    return (md as RegionMD).publicData;
  }

  loadRemoteConnInfo(peer: PeerIdentity, connInfo: Uint8Array): void {
    this.#checkOpen('loadRemoteConnInfo');
    const ci = decodeConnInfo(connInfo, peer.name);
    const old = this.#peers.get(peer.name);
    if (old) this.#engine.removePeer(old.id);
    const sameHost = peer.hostId === this.#components.hostId;
    const id = this.#engine.addPeer(
      peer.name,
      ci.host,
      ci.port,
      ci.secret,
      ci.publicKey,
      sameHost,
      ci.unixName,
    );
    this.#peers.set(peer.name, { id, identity: peer });
  }

  loadRemoteMD(agent: string, desc: RemoteRegionDesc): BackendMD {
    if (desc.memType !== 'DRAM') {
      throw new NotSupportedError(`TCP serves DRAM only, not ${desc.memType}`, {
        op: 'loadRemoteMD',
        backend: this.type,
        agent,
      });
    }
    return parsePublicData(desc.publicData, agent);
  }

  loadRemoteRegions(agent: string, batch: RemoteRegionBatch): RemoteHandles {
    if (batch.memType !== 'DRAM') {
      throw new NotSupportedError(`TCP serves DRAM only, not ${batch.memType}`, {
        op: 'loadRemoteMD',
        backend: this.type,
        agent,
      });
    }
    return new RemoteRegionKeys(agent, batch);
  }

  unloadRemoteRegions(_handles: RemoteHandles): void {}

  loadLocalMD(md: BackendMD): BackendMD {
    return md;
  }

  unloadMD(_md: BackendMD): void {}

  async connect(agent: string, signal?: AbortSignal): Promise<void> {
    this.#checkOpen('connect');
    if (agent === this.#components.agentName) return;
    const peer = this.#peer(agent, 'connect');
    const token = this.#nextToken++;
    const connected = new Promise<void>((resolve, reject) => {
      this.#connectWaiters.set(token, { resolve, reject, agent });
      this.#hold.up();
      this.#engine.connect(peer.id, token);
    });
    // On abort the engine goes on connecting; its answer then finds no waiter.
    await abortable(connected, signal, { op: 'connect', backend: this.type, agent }, () => {
      if (this.#connectWaiters.delete(token)) this.#hold.down();
    });
  }

  async disconnect(agent: string): Promise<void> {
    const peer = this.#peers.get(agent);
    if (!peer) return;
    this.#peers.delete(agent);
    if (!this.#closed) this.#engine.removePeer(peer.id);
  }

  prepXfer(op: XferOp, local: XferDescs, remote: XferDescs, agent: string): BackendXfer {
    this.#checkOpen('prepXfer');
    if (local.count !== remote.count) {
      throw new InvalidParamError(
        `local and remote lists differ in length (${local.count} vs ${remote.count})`,
        { op: 'prepXfer', backend: this.type },
      );
    }
    const peer = agent === this.#components.agentName ? undefined : this.#peer(agent, 'prepXfer');
    const peerId = peer?.id ?? 0;
    const slot = this.#slots.take();
    if (slot === undefined) {
      throw new NotAllowedError(
        `all ${this.#opts.slots} transfer slots are in use; release requests or raise 'slots'`,
        { op: 'prepXfer', backend: this.type },
      );
    }
    const words = new Uint32Array(local.count * DESC_WORDS);
    let bytes = 0;
    for (let i = 0; i < local.count; i++) {
      const r = remote.regions[i] as RegionMD;
      const w = i * DESC_WORDS;
      const la = local.addrs[i]!;
      const ra = remote.addrs[i]!;
      const len = local.lens[i]!;
      bytes += len;
      words[w] = la >>> 0;
      words[w + 1] = Math.floor(la / TWO32);
      words[w + 2] = ra >>> 0;
      words[w + 3] = Math.floor(ra / TWO32);
      words[w + 4] = len >>> 0;
      words[w + 5] = Math.floor(len / TWO32);
      words[w + 6] = r.keyLo;
      words[w + 7] = r.keyHi;
      words[w + 8] = r.rid;
    }
    this.#engine.prep(slot.index, op === 'WRITE' ? 0 : 1, peerId, words);
    this.#slots.claim(slot);
    const h = new TcpXfer(slot, agent);
    h.pollSends =
      this.#opts.pollSend &&
      this.#opts.busyPollUs === 0 &&
      op === 'WRITE' &&
      peerId !== 0 &&
      bytes >= this.#opts.pollSendMinBytes;
    // Socket transfers only: a same-host copy takes a fraction of a millisecond,
    // where a parked caller's wake-up costs more than its spinning did.
    const sameHostPath = this.#opts.sameHost && peer?.identity.hostId === this.#components.hostId;
    const autoSocket = this.#opts.pollProgress === 'auto' && peer !== undefined && !sameHostPath;
    h.autoReads = autoSocket && bytes <= AUTO_READS_MAX_BYTES;
    // Its caller reads its answer whatever the regime (pollSends is for WRITEs only).
    h.ownAnswer =
      op === 'READ'
        ? autoSocket && bytes <= POLL_READ_MAX_BYTES
        : autoSocket &&
          !h.pollSends &&
          local.count === 1 &&
          bytes <= this.#opts.inlineWriteMaxBytes;
    h.parks =
      this.#opts.pollParkUs > 0 &&
      peer !== undefined &&
      !sameHostPath &&
      bytes >= this.#opts.pollParkMinBytes;
    this.#settle.add(h);
    return h;
  }

  postXfer(handle: BackendXfer, notif: Uint8Array | undefined): PostStatus {
    this.#checkOpen('postXfer');
    const h = handle as TcpXfer;
    if (h.released) {
      throw new InvalidParamError('the transfer handle was released', {
        op: 'postXfer',
        backend: this.type,
      });
    }
    if (notif) checkNotifSize(notif, this.maxNotifBytes, { op: 'postXfer', backend: this.type });
    const gen = this.#settle.begin(h, notif !== undefined);
    try {
      const said = this.#engine.post(h.slot.index, gen, notif);
      if (h.autoReads && said !== RegimeSaid.Off) {
        h.callerReads = said === RegimeSaid.CallerReads;
        if (h.callerReads) this.#callerReadPosts++;
      } else {
        // The regime is off or does not decide for it (Engine::CallerPollsAnswer).
        h.callerReads = h.ownAnswer;
      }
    } catch (err) {
      this.#settle.abort(h);
      throw fromNative(err, { op: 'postXfer', backend: this.type, agent: h.agent });
    }
    // A post that ran inside post() (a small local copy, busy_poll_us) and
    // succeeded sends no completion batch: it is settled here.
    return this.#settle.posted(h);
  }

  checkXfer(handle: BackendXfer): StatusCode {
    const h = handle as TcpXfer;
    const s = this.#settle.status(h);
    if (s !== Status.IN_PROG || !h.inFlight || this.#closed) return s;
    if (!this.#pollsAnswers(h)) {
      if ((++h.idlePolls & (YIELD_EVERY_POLLS - 1)) !== 0) return s;
      if (!h.parks) {
        // Timed (poll_progress=auto's signal) only where auto may act: a large
        // transfer's own I/O threads make its caller's yields long.
        this.#engine.yieldCpu(h.autoReads);
        return s;
      }
      this.#engine.park(h.slot.index, this.#opts.pollParkUs);
      return this.#settle.status(h);
    }
    // A poll reads the answer itself when it is already there (no wake-up of
    // the engine's I/O thread, no completion batch), and sends what is left of
    // a large WRITE's payload: see Engine::Progress.
    if (this.#engine.progress(h.slot.index, h.gen)) {
      this.#callerSettles++;
      this.#settle.settledInCall(h);
      return Status.SUCCESS;
    }
    return this.#settle.status(h);
  }

  stopPolling(handle: BackendXfer): void {
    const h = handle as TcpXfer;
    // Without poll_progress (on, or auto's shared-CPU regime), poll_send or busy_poll_us no answer is ever left to a poller: nothing to hand back.
    if (h.inFlight && !this.#closed && this.#pollsAnswers(h))
      this.#engine.stopPolling(h.slot.index, h.gen);
  }

  /** Whether status reads of this transfer read its answer themselves (Engine::Progress). */
  #pollsAnswers(h: TcpXfer): boolean {
    return (
      this.#opts.pollProgress === 'on' || h.callerReads || h.pollSends || this.#opts.busyPollUs > 0
    );
  }

  releaseXfer(handle: BackendXfer): void {
    const h = handle as TcpXfer;
    if (!this.#settle.remove(h) || this.#closed) return;
    this.#engine.release(h.slot.index);
    this.#slots.free(h.slot);
  }

  genNotif(agent: string, msg: Uint8Array): void {
    this.#checkOpen('genNotif');
    checkNotifSize(msg, this.maxNotifBytes, { op: 'genNotif', backend: this.type });
    const id = agent === this.#components.agentName ? 0 : this.#peer(agent, 'genNotif').id;
    this.#engine.genNotif(id, msg);
    this.#linger.extend();
  }

  /**
   * What the engine published and JavaScript has not taken yet. A target
   * publishes a notification before it acknowledges it, so once the
   * initiator's transfer is DONE, the target's getNotifs returns it.
   */
  pollNotifs(): void {
    if (this.#closed) return;
    const b = this.#engine.takePublished();
    if (b) this.#settle.onBatch(b[0], b[1], b[2], b[3]);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#engine.close(); // joins the I/O thread: nothing writes the slots after this
    this.#settle.close('the backend was closed');
    for (const w of this.#connectWaiters.values()) {
      w.reject(new CanceledError('the backend was closed', { backend: this.type, agent: w.agent }));
    }
    this.#connectWaiters.clear();
    this.#peers.clear();
  }

  /**
   * The engine's batch callback. It reaches the backend through a weak
   * reference, so a backend nobody holds is collected (and its engine stopped)
   * although the native side keeps the callback (native/LIFETIME.md); and it is
   * made here, not in the constructor, so that its closure captures nothing else.
   */
  static #batchesOf(self: WeakRef<TcpBackend>): BatchCallback {
    return (settled, failures, notifs, events) => {
      const backend = self.deref();
      if (backend) backend.#settle.onBatch(settled, failures, notifs, events);
    };
  }

  #onEvent(kind: number, id: number, status: number, msg: string): void {
    if (kind === PeerEvent.CONNECTED || kind === PeerEvent.CONNECT_FAILED) {
      const w = this.#connectWaiters.get(id);
      if (!w) return;
      this.#connectWaiters.delete(id);
      this.#hold.down();
      if (kind === PeerEvent.CONNECTED) w.resolve();
      else
        w.reject(statusToError(status, msg, { op: 'connect', backend: this.type, agent: w.agent }));
      return;
    }
    if (kind === PeerEvent.DISCONNECTED) {
      for (const [name, p] of this.#peers) {
        if (p.id !== id) continue;
        this.#peers.delete(name);
        this.#engine.removePeer(id);
        this.#components.onDisconnect(
          name,
          new RemoteDisconnectError(msg, { backend: this.type, agent: name }),
        );
        return;
      }
    }
  }

  #peer(agent: string, op: string): PeerEntry {
    const p = this.#peers.get(agent);
    if (!p) {
      throw new NotFoundError(`no TCP connection info loaded for '${agent}'`, {
        op,
        backend: this.type,
        agent,
      });
    }
    return p;
  }

  #checkOpen(op: string): void {
    if (this.#closed)
      throw new NotAllowedError('the backend is closed', { op, backend: this.type });
  }
}
