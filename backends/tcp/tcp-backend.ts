import { generateKeyPairSync, randomBytes } from 'node:crypto';

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
import { Status } from '../../src/status.js';
import { decodeConnInfo, encodeConnInfo } from './conn-info.js';
import { abortable } from '../common/abortable.js';
import { fromNative } from '../common/native-error.js';
import { NotifLinger } from '../common/notif-linger.js';
import type { TcpBatchCallback, TcpEngine, TcpEngineOptions } from './native-engine.js';
import { loadTcpEngine, TCP_MAX_NOTIF_BYTES } from './native-engine.js';
import type { TcpParams } from './params.js';
import { parsePublicData, RemoteRegionKeys, type RegionMD } from './region-md.js';

interface TcpXfer extends BackendXfer {
  readonly slot: number;
  readonly agent: string;
  gen: number;
  inFlight: boolean;
  released: boolean;
  /** The current post carries a notification. */
  notif: boolean;
  error?: NixlError;
}

interface PeerEntry {
  readonly id: number;
  readonly identity: PeerIdentity;
}

const DESC_WORDS = 9;
const TWO32 = 2 ** 32;
/**
 * A slot no request holds (native/tcp/engine.h, kSlotFree): the engine writes
 * it when it runs a release, after which nothing of the released request
 * touches the slot. Only then may the slot go to a new request.
 */
const SLOT_FREE = -1000;

// Batch event kinds (native/tcp/engine.h, Outbox::Event).
const EV_CONNECTED = 1;
const EV_CONNECT_FAILED = 2;
const EV_DISCONNECTED = 3;

/**
 * The TCP backend: a thin TypeScript shell over the native engine
 * (native/tcp). Transfers are served and driven by the engine's I/O thread;
 * this class maps agents to engine peers, handles to status slots, and turns
 * each completion batch into onSettled calls and one onNotifs call.
 */
/**
 * A fresh identity key (the Ed25519 private seed) for an engine: its public
 * half goes into the connection info, which binds the agent's name to it.
 */
function newIdentitySeed(): Uint8Array {
  const { privateKey } = generateKeyPairSync('ed25519');
  return new Uint8Array(Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url'));
}

/**
 * Backends with transfers in flight. While it moves data a backend stays
 * reachable (and its engine keeps the event loop alive), even if the user
 * holds nothing but the request's promise; an idle one can be collected.
 */
const busyBackends = new Set<TcpBackend>();

export class TcpBackend implements Backend {
  readonly type = 'TCP';
  readonly capabilities: BackendCapabilities = {
    local: true,
    remote: true,
    notif: true,
    mems: ['DRAM'],
  };
  readonly params: Readonly<BackendParams>;
  /** The engine's kMaxNotif (native/tcp/frames.h): a target drops the connection beyond it. */
  readonly maxNotifBytes = TCP_MAX_NOTIF_BYTES;
  readonly #opts: TcpParams;
  readonly #components: BackendComponents;
  readonly #linger = new NotifLinger();
  readonly #engine: TcpEngine;
  readonly #slots: Int32Array;
  readonly #secret: Uint8Array;
  readonly #publicKey: Uint8Array;
  readonly #unixName: string;
  readonly #port: number;
  readonly #peers = new Map<string, PeerEntry>();
  readonly #handles: (TcpXfer | undefined)[];
  readonly #freeSlots: number[] = [];
  /** Released slots the engine had not freed yet when prepXfer came by. */
  #releasing: number[] = [];
  readonly #connectWaiters = new Map<
    number,
    { resolve(): void; reject(e: unknown): void; agent: string }
  >();
  #nextToken = 1;
  #nextGen = 1;
  /** Transfers in flight plus connects pending: while > 0 the engine keeps the process alive. */
  #busy = 0;
  #closed = false;

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
    this.#slots = this.#engine.slots();
    const info = this.#engine.info();
    this.#secret = info.secret;
    this.#publicKey = info.publicKey;
    this.#unixName = engineOpts.unixName;
    this.#port = info.port;
    this.#handles = new Array(opts.slots);
    for (let i = opts.slots - 1; i >= 0; i--) this.#freeSlots.push(i);
  }

  /** The port the engine listens on (useful with port 0). */
  get port(): number {
    return this.#port;
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
    // Synchronous: the engine's I/O thread no longer touches the region after this.
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
      this.#busyUp();
      this.#engine.connect(peer.id, token);
    });
    // On abort the engine goes on connecting; its answer then finds no waiter.
    await abortable(connected, signal, { op: 'connect', backend: this.type, agent }, () => {
      if (this.#connectWaiters.delete(token)) this.#busyDown();
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
    const peerId = agent === this.#components.agentName ? 0 : this.#peer(agent, 'prepXfer').id;
    const slot = this.#takeSlot();
    if (slot === undefined) {
      throw new NotAllowedError(
        `all ${this.#opts.slots} transfer slots are in use; release requests or raise 'slots'`,
        { op: 'prepXfer', backend: this.type },
      );
    }
    const words = new Uint32Array(local.count * DESC_WORDS);
    for (let i = 0; i < local.count; i++) {
      const r = remote.regions[i] as RegionMD;
      const w = i * DESC_WORDS;
      const la = local.addrs[i]!;
      const ra = remote.addrs[i]!;
      const len = local.lens[i]!;
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
    this.#engine.prep(slot, op === 'WRITE' ? 0 : 1, peerId, words);
    this.#slots[slot] = Status.ERR_NOT_POSTED;
    const h: TcpXfer = { slot, agent, gen: 0, inFlight: false, released: false, notif: false };
    this.#handles[slot] = h;
    return h;
  }

  postXfer(handle: BackendXfer, notif: Uint8Array | undefined): number {
    this.#checkOpen('postXfer');
    const h = handle as TcpXfer;
    if (h.released) {
      throw new InvalidParamError('the transfer handle was released', {
        op: 'postXfer',
        backend: this.type,
      });
    }
    if (notif) checkNotifSize(notif, this.maxNotifBytes, { op: 'postXfer', backend: this.type });
    h.error = undefined;
    h.notif = notif !== undefined;
    h.gen = this.#nextGen;
    this.#nextGen = (this.#nextGen + 1) >>> 0 || 1;
    this.#slots[h.slot] = Status.IN_PROG;
    if (!h.inFlight) {
      h.inFlight = true;
      this.#busyUp();
    }
    this.#engine.post(h.slot, h.gen, notif);
    // SUCCESS here is this post's own completion (it ran inside post(): a
    // small local copy, or busy_poll_us): the slot was IN_PROG above and
    // belongs to this request alone. The engine sends no completion batch
    // for it, so it is settled here.
    if (this.#slots[h.slot] !== Status.SUCCESS) return Status.IN_PROG;
    h.inFlight = false;
    this.#busyDown();
    if (h.notif) this.#linger.extend();
    return Status.SUCCESS;
  }

  checkXfer(handle: BackendXfer): number {
    const h = handle as TcpXfer;
    if (h.released) return h.error?.status ?? Status.ERR_CANCELED;
    const s = this.#slots[h.slot]!;
    if (s < 0 && s !== Status.ERR_NOT_POSTED && !h.error) {
      // The batch with the engine's message has not arrived yet.
      h.error = statusToError(s, 'transfer failed', { backend: this.type, agent: h.agent });
    }
    return s;
  }

  releaseXfer(handle: BackendXfer): void {
    const h = handle as TcpXfer;
    if (h.released) return;
    h.released = true;
    if (h.inFlight) {
      h.inFlight = false;
      h.error = new CanceledError('released while in flight', { backend: this.type });
      this.#busyDown();
    }
    this.#handles[h.slot] = undefined;
    if (!this.#closed) {
      this.#engine.release(h.slot);
      this.#freeSlots.push(h.slot);
    }
  }

  genNotif(agent: string, msg: Uint8Array): void {
    this.#checkOpen('genNotif');
    checkNotifSize(msg, this.maxNotifBytes, { op: 'genNotif', backend: this.type });
    const id = agent === this.#components.agentName ? 0 : this.#peer(agent, 'genNotif').id;
    this.#engine.genNotif(id, msg);
    this.#linger.extend();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    busyBackends.delete(this);
    this.#linger.stop();
    this.#engine.close();
    for (const h of this.#handles) {
      if (!h || !h.inFlight) continue;
      h.inFlight = false;
      h.error = new CanceledError('the backend was closed', { backend: this.type });
      this.#slots[h.slot] = Status.ERR_CANCELED;
      h.onSettled?.();
    }
    for (const w of this.#connectWaiters.values()) {
      w.reject(new CanceledError('the backend was closed', { backend: this.type, agent: w.agent }));
    }
    this.#connectWaiters.clear();
    this.#peers.clear();
  }

  /**
   * A slot for a new request: one the engine has freed (its release ran, see
   * SLOT_FREE). A released slot whose release is still queued waits aside;
   * when nothing else is left, the queued commands run now to free them.
   */
  #takeSlot(): number | undefined {
    for (let i = 0; i < 2; i++) {
      for (let slot = this.#freeSlots.pop(); slot !== undefined; slot = this.#freeSlots.pop()) {
        if (this.#slots[slot] === SLOT_FREE) return slot;
        this.#releasing.push(slot);
      }
      if (this.#releasing.length === 0) return undefined;
      if (i === 0) this.#engine.runQueuedCommands();
      // Back in their LIFO order.
      for (let k = this.#releasing.length - 1; k >= 0; k--)
        this.#freeSlots.push(this.#releasing[k]!);
      this.#releasing = [];
    }
    return undefined;
  }

  /**
   * The engine's batch callback. It reaches the backend through a weak
   * reference, so a backend nobody holds is collected (and its engine stopped)
   * although the native side keeps the callback (native/LIFETIME.md); and it is
   * made here, not in the constructor, so that its closure captures nothing else.
   */
  static #batchesOf(self: WeakRef<TcpBackend>): TcpBatchCallback {
    return (c, f, n, e) => {
      const backend = self.deref();
      if (backend) backend.#onBatch(c, f, n, e);
    };
  }

  #busyUp(): void {
    if (this.#busy++ === 0) {
      this.#engine.ref();
      busyBackends.add(this);
    }
  }

  #busyDown(): void {
    if (--this.#busy === 0) {
      busyBackends.delete(this);
      if (!this.#closed) this.#engine.unref();
    }
  }

  #onBatch(
    completions: Int32Array | undefined,
    failures: [number, number, number, string][] | undefined,
    notifs: [string, Uint8Array][] | undefined,
    events: [number, number, number, string][] | undefined,
  ): void {
    if (this.#closed) return;
    if (failures) {
      for (const [slot, gen, status, msg] of failures) {
        const h = this.#handles[slot];
        if (h && h.gen === gen) {
          h.error = statusToError(status, msg, { backend: this.type, agent: h.agent });
        }
      }
    }
    if (completions) {
      for (let i = 0; i < completions.length; i += 2) {
        const h = this.#handles[completions[i]!];
        if (!h || h.gen !== completions[i + 1]! >>> 0 || !h.inFlight) continue;
        h.inFlight = false;
        this.#busyDown();
        if (h.notif) this.#linger.extend();
        h.onSettled?.();
      }
    }
    if (notifs) {
      this.#components.onNotifs(notifs.map(([agent, msg]) => ({ agent, msg })));
    }
    if (events) {
      for (const [kind, id, status, msg] of events) this.#onEvent(kind, id, status, msg);
    }
  }

  #onEvent(kind: number, id: number, status: number, msg: string): void {
    if (kind === EV_CONNECTED || kind === EV_CONNECT_FAILED) {
      const w = this.#connectWaiters.get(id);
      if (!w) return;
      this.#connectWaiters.delete(id);
      this.#busyDown();
      if (kind === EV_CONNECTED) w.resolve();
      else
        w.reject(statusToError(status, msg, { op: 'connect', backend: this.type, agent: w.agent }));
      return;
    }
    if (kind === EV_DISCONNECTED) {
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
