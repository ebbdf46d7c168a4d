import { native } from '../../src/native.js';
import type { BatchCallback, CompletionBatch } from '../common/settle-dispatch.js';
import type { TcpParams } from './params.js';

/**
 * The largest notification the engine carries: 1 MiB, `kMaxNotif` in
 * native/tcp/wire.h. A target closes the connection on a NOTIF frame over
 * it (native/tcp/engine.cc), so the backend refuses a larger one up front.
 * Keep the two equal.
 */
export const TCP_MAX_NOTIF_BYTES = 1 << 20;

/**
 * Options of the native engine (native/tcp/binding.cc): the parsed parameters
 * (params.ts, one field per parameter), and what the backend adds.
 */
export type TcpEngineOptions = TcpParams & {
  name: string;
  /** The agent's identity key: an Ed25519 private seed (32 bytes). */
  identitySeed: Uint8Array;
  /** Abstract Unix socket name for same-host peers ('' for none). */
  unixName: string;
};

/** What the shared-memory path did (native/tcp/engine.h, ShmCounters). */
export interface ShmCounters {
  /** Posts served here without a round trip: a memcpy with a peer's mapping, or a pull. */
  copies: number;
  /** Peer regions this engine mapped. */
  maps: number;
  /** Peer regions this engine may READ with process_vm_readv (a pull grant, no mapping). */
  pullGrants: number;
  /** Regions this engine granted to a peer (a mapping or a pull), and requests it refused. */
  grants: number;
  refused: number;
  /** Peers dropped for not unmapping a deregistered region in time. */
  dropped: number;
  /** Allocations whose view here was made private (a peer may still map the old memory). */
  privatized: number;
}

/** What the I/O thread's lingering did (native/tcp/engine.h, LingerCounters; params `linger_us`). */
export interface LingerCounters {
  /** Posts that arrived while the I/O thread lingered, sent by it. */
  hits: number;
  /** Lingers that ended without a post. */
  misses: number;
}

/** What `poll_progress=auto`'s detector saw (native/tcp/shared_cpu_regime.h). */
export interface RegimeCounters {
  /** The regime now: polling callers read their own answers (byYields or byCpus). */
  sharedCpu: boolean;
  /** On because polling callers' yields let other threads run (16 in a row). */
  byYields: boolean;
  /** On because the I/O thread settled posts on their caller's CPU (16 in a row). */
  byCpus: boolean;
  /** Times it switched to callers reading their answers, and back to the I/O thread. */
  switchesOn: number;
  switchesOff: number;
  /** A polling caller's yields that let another thread run (long), and that did not. */
  longYields: number;
  shortYields: number;
  /** Small socket posts the I/O thread settled on the CPU their caller posted them from, and on another. */
  sameCpuSettles: number;
  otherCpuSettles: number;
  /** Posts left to the I/O thread while callers read their answers (one in 256), to check the regime. */
  probes: number;
  /** Posts whose answer was left to their polling caller (counted by the backend). */
  callerReadPosts: number;
  /** Answers a polling caller's status read read itself (counted by the backend). */
  callerSettles: number;
}

/**
 * What poll_progress=auto's shared-CPU regime said for a post
 * (tcp::RegimeSaid, native/tcp/engine.h): off (or not auto); on, and the
 * caller reads the answer; on, and this post is a probe for the I/O thread.
 */
export const RegimeSaid = { Off: 0, CallerReads: 1, Probe: 2 } as const;
export type RegimeSaid = (typeof RegimeSaid)[keyof typeof RegimeSaid];

/** The native engine's JavaScript surface. */
export interface TcpEngine {
  info(): { port: number; secret: Uint8Array; publicKey: Uint8Array; pid: number };
  /** The next chunk of status slots (native/common/status_slots.h), or undefined at `slots`. */
  growSlots(): Int32Array | undefined;
  /** The completion batch pending now (waits for the I/O thread's current round at most). */
  takeBatch(): CompletionBatch | undefined;
  /** The completion batch published so far, without waiting (what getNotifs takes). */
  takePublished(): CompletionBatch | undefined;
  /** `owner`: the buffer the region lies in, kept alive until deregistration. */
  registerRegion(addr: number, len: number, owner?: object): Uint8Array;
  /**
   * Blocks until same-host peers that mapped the region unmapped it, or
   * `shm_unmap_timeout_ms` (those are then dropped).
   */
  deregisterRegion(rid: number): boolean;
  /** Memory from a memfd (zeroed) that same-host peers may map; the Buffer owns it. */
  allocShared(bytes: number): Buffer;
  shmCounters(): ShmCounters;
  lingerCounters(): LingerCounters;
  regimeCounters(): Omit<RegimeCounters, 'callerReadPosts' | 'callerSettles'>;
  addPeer(
    name: string,
    host: string,
    port: number,
    secret: Uint8Array,
    publicKey: Uint8Array,
    sameHost: boolean,
    unixName: string,
  ): number;
  removePeer(id: number): void;
  connect(id: number, token: number): void;
  /** A transfer is known by its status slot's number. */
  prep(slot: number, op: number, peerId: number, words: Uint32Array): void;
  /** What `poll_progress=auto`'s regime said for this post. */
  post(slot: number, gen: number, notif?: Uint8Array): RegimeSaid;
  /**
   * A poll of a post in flight: reads its peer's connections on this thread
   * when the engine is free (never waits). True when that post succeeded in
   * the call: it then has no batch entry.
   */
  progress(slot: number, gen: number): boolean;
  /**
   * sched_yield: lets a thread queued on the polling caller's CPU run;
   * `sample`: timed, a sample for `poll_progress=auto`.
   */
  yieldCpu(sample: boolean): void;
  /** Sleeps until a transfer settles, `slot` no longer reads IN_PROG, or `maxUs` passed. */
  park(slot: number, maxUs: number): void;
  /** The caller stopped polling that post: its answer goes back to the I/O thread now. */
  stopPolling(slot: number, gen: number): void;
  /** The engine writes SLOT_FREE into the slot once its I/O thread let go. */
  release(slot: number): void;
  /** Runs the queued commands now (blocks for the I/O thread's current round at most). */
  runQueuedCommands(): void;
  genNotif(peerId: number, msg: Uint8Array): void;
  ref(): void;
  unref(): void;
  close(): void;
}

export type TcpEngineClass = new (opts: TcpEngineOptions, onBatch: BatchCallback) => TcpEngine;

/** The engine class from the addon, or undefined when the addon lacks it. */
export function loadTcpEngine(): TcpEngineClass {
  const ctor = native().TcpEngine as TcpEngineClass | undefined;
  if (typeof ctor !== 'function') {
    throw new Error('nixl-ts: the native addon was built without the TCP engine');
  }
  return ctor;
}

export function tcpUnavailableReason(): string | undefined {
  try {
    loadTcpEngine();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
