/** The UCX addon (nixl_ucx.node: native/ucx/*), typed. */
import { hasAddon, loadAddon } from '../../src/native.js';
import type { BatchCallback, CompletionBatch } from '../common/settle-dispatch.js';

/**
 * The largest notification the UCX backend sends: 1 MiB. The engine sends a
 * notification as one eager active message (kAmNotif, native/ucx/engine.cc)
 * and neither UCX nor the engine bounds its size, so this is a chosen bound:
 * the TCP engine's limit, so that an application behaves the same on either
 * backend, and small enough that the receiver's copy of it stays cheap.
 */
export const UCX_MAX_NOTIF_BYTES = 1 << 20;

/** Counts of the engine's message authentication (native/ucx/am_auth.h). */
export interface UcxAuthCounters {
  /** Sessions opened (verified HELLOs). */
  hellos: number;
  /** HELLOs refused: bad signature, another key than the name's, this agent's own name, bounds. */
  hellosRefused: number;
  /** Messages under no session of the name they claim (or malformed). */
  noSession: number;
  /** Messages whose MAC did not verify. */
  badMac: number;
  /** Messages whose sequence number was not above their session's last. */
  replayed: number;
  /** HELLOs (counted in hellosRefused too) whose stamp the key's sessions had reached: replays. */
  hellosStale: number;
  /** HELLOs (counted in hellosRefused too) refused for want of a token (am_auth.h). */
  hellosThrottled: number;
  /** HELLOs whose crypto (signature, X25519, HKDF) was done. */
  hellosChecked: number;
  /** Refused HELLOs that were answered (the answers have a budget; accepted ones always are). */
  hellosAnswered: number;
  /** As a sender: new HELLOs after a refusal or an answer that did not come. */
  hellosRetried: number;
}

export interface NativeUcxEngineOptions {
  agentName: string;
  /** Flattened UCX config: key, value, key, value, ... */
  config: string[];
  numWorkers: number;
  errorMode: 'peer' | 'none' | 'process';
  progress: 'thread' | 'event';
  /** timeout_ms (see EngineOptions in native/ucx/engine.h); 0 or absent: never. */
  timeoutMs?: number;
  /** notif_ack: acknowledge notifications and wait for acknowledgements (default true). */
  notifAck?: boolean;
  /** One call per completion batch (native/common/completion_batch.h). */
  onEvents: BatchCallback;
}

export interface NativeUcxEngine {
  connInfo(): Buffer;
  /** The next chunk of status slots (native/common/status_slots.h), or undefined at the cap. */
  growSlots(): Int32Array | undefined;
  /** The completion batch pending now (waits for settles in progress at most). */
  takeBatch(): CompletionBatch | undefined;
  /** The completion batch published so far, without waiting (what getNotifs takes). */
  takePublished(): CompletionBatch | undefined;
  /** Memory UCX allocates (ucp_mem_map ALLOCATE), zeroed; the Buffer owns it. */
  alloc(bytes: number): Buffer;
  /** `owner`: the buffer the region lies in, kept alive until deregistration. */
  register(addr: number, len: number, owner?: object): [handle: number, publicData: Buffer];
  deregister(handle: number): void;
  loadPeer(name: string, connInfo: Uint8Array): number;
  dropPeer(peerId: number): void;
  peerStatus(peerId: number): [status: number, message: string];
  selfPeer(): number;
  loadRemote(peerId: number, publicData: Uint8Array): number;
  loadLocal(localHandle: number): number;
  unload(handle: number): void;
  prep(
    read: boolean,
    peerId: number,
    count: number,
    laddrs: Float64Array,
    lens: Float64Array,
    lregions: Uint32Array,
    raddrs: Float64Array,
    rregions: Uint32Array,
    slot: number,
    workerHint: number,
  ): number;
  /** 0 or 1 (also in the slot); throws an Error with .status if the post fails at once. */
  post(xferId: number, gen: number, notif?: Uint8Array): number;
  /** Frees the transfer; its status slot reads SLOT_FREE when this returns. */
  release(xferId: number): void;
  genNotif(peerId: number, msg: Uint8Array): void;
  /** What the engine refused of its peers' active messages (native/ucx/am_auth.h). */
  authCounters(): UcxAuthCounters;
  /** Tests only: an arbitrary active message to the peer, as a forger would send it. */
  forgeAm(peerId: number, amId: number, header: Uint8Array, body: Uint8Array): void;
  progress(): void;
  /** sched_yield: lets a progress thread queued on the polling caller's CPU run. */
  yieldCpu(): void;
  /** Holds the event loop open (transfers in flight) / lets it go (idle). */
  ref(): void;
  unref(): void;
  /** Closes; `drainMs` (default 2000) lets transfers on the wire finish first. */
  close(drainMs?: number): void;
}

interface UcxAddon {
  readonly hasUcx: boolean;
  UcxEngine?: new (opts: NativeUcxEngineOptions) => NativeUcxEngine;
  ucxVersion?: () => string;
  ucxLibraryPath?: () => string;
}

/**
 * The separate nixl_ucx addon (only built where UCX is installed; loaded on
 * first use). nixl_ucm_preload goes first: it initializes libucm without the
 * memory-hook self-test that libucs's constructor would otherwise run, which
 * can unmap the top page of the malloc heap (native/ucx/ucm_preload.cc).
 */
export function ucxAddon(): UcxAddon {
  if (hasAddon('nixl_ucm_preload')) loadAddon('nixl_ucm_preload');
  return loadAddon('nixl_ucx') as unknown as UcxAddon;
}

export const INSTALL_HINT =
  "install UCX's development files (Debian/Ubuntu: apt-get install libucx-dev; Fedora/RHEL: dnf install ucx-devel) " +
  "so that 'pkg-config --exists ucx' succeeds, then rebuild the addon: 'npm rebuild nixl-ts' (inside a clone of nixl-ts: 'npm run build:native')";

/**
 * Why UCX can't be used here, or undefined if its addon was built. Cheap and
 * side-effect free: it does not load UCX (the plugin manager asks every
 * process, and loading UCX installs libucm's memory hooks).
 */
export function ucxUnavailableReason(): string | undefined {
  if (!hasAddon('nixl_ucx')) return `the UCX addon was not built: ${INSTALL_HINT}`;
  return undefined;
}

/** Loads the UCX addon; why it can't be used, or undefined. */
export function ucxLoadFailure(): string | undefined {
  const reason = ucxUnavailableReason();
  if (reason) return reason;
  let addon: UcxAddon;
  try {
    addon = ucxAddon();
  } catch (err) {
    return `the UCX addon did not load (${(err as Error).message})`;
  }
  if (!addon.hasUcx || !addon.UcxEngine) return `the UCX addon is incomplete: ${INSTALL_HINT}`;
  return undefined;
}
