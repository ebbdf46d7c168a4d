/**
 * The backend plugin interface: what a data-plane transport implements to be
 * driven by an Agent. It mirrors NIXL's backend engine contract
 * (docs/BackendGuide.md): capabilities; register/deregister; connection info
 * and per-region public data; load remote / load local / unload metadata;
 * connect / disconnect; prepXfer / postXfer / checkXfer / releaseXfer;
 * notifications; close.
 *
 * The agent does all validation (descriptors inside registered regions, equal
 * lengths, known peers) before it calls a backend; backends receive resolved,
 * packed descriptor lists and opaque metadata handles they created themselves.
 */
import type { MemType } from './descriptors.js';
import { InvalidParamError, type ErrorContext, type NixlError } from './errors.js';
import type { Logger } from './logger.js';
import type { PostStatus, StatusCode } from './status.js';

/** The interface version a plugin declares; the agent refuses any other. */
export const BACKEND_API_VERSION = 1;

/**
 * The notification limit assumed for a backend that does not declare
 * `maxNotifBytes` (out-of-tree plugins written before it existed): 1 MiB, the
 * TCP engine's limit.
 */
export const DEFAULT_MAX_NOTIF_BYTES = 1 << 20;

/** The largest notification, in bytes, that a backend carries. */
export function maxNotifBytes(backend: Pick<Backend, 'maxNotifBytes'>): number {
  return backend.maxNotifBytes ?? DEFAULT_MAX_NOTIF_BYTES;
}

/**
 * Throws InvalidParamError, naming the limit and the size, if `msg` is larger
 * than `limit` bytes. Callers check before anything is sent or changed.
 */
export function checkNotifSize(msg: Uint8Array, limit: number, ctx: ErrorContext): void {
  if (msg.byteLength > limit) {
    throw new InvalidParamError(
      `the notification is ${msg.byteLength} bytes, over the limit of ${limit} bytes` +
        (ctx.backend ? ` (maxNotifBytes of the ${ctx.backend} backend)` : ''),
      ctx,
    );
  }
}

export type XferOp = 'READ' | 'WRITE';

export interface BackendCapabilities {
  /** Transfers between two regions of the same agent (loopback). */
  readonly local: boolean;
  /** Transfers to other agents; requires connection info and public data. */
  readonly remote: boolean;
  /** Notifications (required for remote backends, as in NIXL). */
  readonly notif: boolean;
  readonly mems: readonly MemType[];
}

/** The methods each capability a backend declares requires (checked when it is created). */
const METHODS_OF: Readonly<Record<'local' | 'remote' | 'notif', readonly (keyof Backend)[]>> = {
  local: ['loadLocalMD'],
  remote: ['getConnInfo', 'getPublicData', 'loadRemoteConnInfo', 'loadRemoteMD'],
  notif: ['genNotif'],
};

/** "capability: method" for each method a backend's declared capabilities require and it lacks. */
export function missingMethods(backend: Backend): string[] {
  const missing: string[] = [];
  for (const cap of ['local', 'remote', 'notif'] as const) {
    if (!backend.capabilities[cap]) continue;
    for (const m of METHODS_OF[cap]) {
      if (typeof backend[m] !== 'function') missing.push(`${cap}: ${String(m)}`);
    }
  }
  // The batch load is optional, but only as a pair.
  const batchLoad = typeof backend.loadRemoteRegions === 'function';
  if (batchLoad !== (typeof backend.unloadRemoteRegions === 'function')) {
    missing.push(batchLoad ? 'remote: unloadRemoteRegions' : 'remote: loadRemoteRegions');
  }
  return missing;
}

/** Backend parameters are strings, as NIXL's `nixl_b_params_t`. */
export type BackendParams = Record<string, string>;

/** A local region handed to `registerMem`. */
export interface LocalRegionDesc {
  readonly memType: MemType;
  readonly addr: number;
  readonly len: number;
  readonly devId: number;
  readonly metaInfo?: Uint8Array;
  /** The region's bytes, where JavaScript can see them (DRAM). */
  readonly view?: Uint8Array;
}

/** A peer's region handed to `loadRemoteMD`, with the public data its backend exported. */
export interface RemoteRegionDesc {
  readonly memType: MemType;
  readonly addr: number;
  readonly len: number;
  readonly devId: number;
  readonly publicData: Uint8Array;
}

/** Opaque per-backend metadata for one region (NIXL's nixlBackendMD). */
export type BackendMD = object;

/**
 * A batch of a peer's regions of one memory type, in columns, for
 * `loadRemoteRegions`: region i is [addrs[i], +lens[i]) on devIds[i], and its
 * public data is publicData[pdRanges[2i] .. pdRanges[2i + 1]). The columns
 * are the agent's; a backend reads them and keeps what it needs.
 */
export interface RemoteRegionBatch {
  readonly memType: MemType;
  readonly count: number;
  readonly addrs: Float64Array;
  readonly lens: Float64Array;
  readonly devIds: Float64Array;
  readonly pdRanges: Float64Array;
  readonly publicData: Uint8Array;
}

/**
 * The handles `loadRemoteRegions` made for a batch: `at(i)` is region i's
 * handle, what `loadRemoteMD` would have returned for it. The agent calls
 * `at` only when a descriptor list resolves against the region, so a
 * backend may keep its handles in columns and make each object on demand
 * (equal handles need not be the same object).
 */
export interface RemoteHandles {
  readonly count: number;
  at(i: number): BackendMD;
}

/** What the agent knows of a peer when it loads that peer's connection info. */
export interface PeerIdentity {
  readonly name: string;
  /** Random per-start id: a restarted peer has a new one. */
  readonly agentId: Uint8Array;
  /** Identity of the host the peer runs on (same value => same host). */
  readonly hostId: string;
}

/**
 * A resolved descriptor list: one memory type, packed addresses and lengths,
 * and for each descriptor the metadata of the region that covers it (created
 * by this backend's registerMem, loadRemoteMD or loadLocalMD).
 */
export interface XferDescs {
  readonly memType: MemType;
  readonly count: number;
  readonly addrs: Float64Array;
  readonly lens: Float64Array;
  readonly devIds: Float64Array;
  readonly regions: readonly BackendMD[];
}

/** A backend's transfer handle. The agent wraps it in an XferRequest. */
export interface BackendXfer {
  /** The reason the last post failed, once checkXfer reports an error status. */
  readonly error?: NixlError;
  /**
   * Set by the agent. Backends call it once a posted transfer reaches DONE or
   * an error, from their completion batch (never from inside postXfer).
   */
  onSettled?: () => void;
}

export interface PrepXferOptions {
  /** Opaque to the agent (NIXL's customParam). */
  readonly customParam?: Uint8Array;
}

/** Services and callbacks the agent gives a backend at creation. */
export interface BackendComponents {
  readonly agentName: string;
  readonly agentId: Uint8Array;
  readonly hostId: string;
  readonly log: Logger;
  /** Deliver a batch of received notifications (one call per batch). */
  onNotifs(batch: ReadonlyArray<{ readonly agent: string; readonly msg: Uint8Array }>): void;
  /** Report that a peer failed; the agent drops its metadata. */
  onDisconnect(agent: string, error: NixlError): void;
}

export interface Backend {
  /** Plugin name, e.g. 'TCP'. */
  readonly type: string;
  readonly capabilities: BackendCapabilities;
  /** The effective parameters of this instance. */
  readonly params: Readonly<BackendParams>;
  /**
   * The largest notification, in bytes, this backend carries (bound to a
   * transfer or standalone). The agent refuses a larger one with
   * InvalidParamError before anything is sent. Optional for backward
   * compatibility: DEFAULT_MAX_NOTIF_BYTES (1 MiB) when absent.
   */
  readonly maxNotifBytes?: number;
  /**
   * Optional: for a memory type missing from `capabilities.mems`, why (e.g.
   * "the UCX at /usr/lib/x86_64-linux-gnu has no CUDA transport"), so that
   * registerMem's error says it.
   */
  unsupportedMemReason?(memType: MemType): string | undefined;

  /**
   * Optional: memory the backend allocates itself because its fastest path
   * needs it (UCX: memory that shared-memory transports map in a peer on this
   * host). Zeroed; stays valid until the Buffer is collected, also after the
   * backend closed.
   */
  alloc?(bytes: number): Buffer;

  registerMem(desc: LocalRegionDesc): BackendMD;
  deregisterMem(md: BackendMD): void;
  /** Optional: per-descriptor information (FILE backends: size, mode, ...). */
  queryMem?(descs: readonly LocalRegionDesc[]): (Record<string, string> | undefined)[];

  /** Remote-capable backends: what a peer needs to reach this agent. */
  getConnInfo?(): Uint8Array;
  /** Remote-capable backends: what a peer needs to address this region. */
  getPublicData?(md: BackendMD): Uint8Array;
  /** Remote-capable backends: remember how to reach a peer (no connection yet). */
  loadRemoteConnInfo?(peer: PeerIdentity, connInfo: Uint8Array): void;
  /** Remote-capable backends: a peer's region, from its public data. */
  loadRemoteMD?(agent: string, desc: RemoteRegionDesc): BackendMD;
  /**
   * Optional, with `unloadRemoteRegions`: `loadRemoteMD` for a whole batch
   * of regions at once, all or nothing (a throw leaves nothing loaded). A
   * peer may export a million regions; a backend that keeps their handles
   * in columns makes no object per region. Without it the agent calls
   * `loadRemoteMD` per region.
   */
  loadRemoteRegions?(agent: string, batch: RemoteRegionBatch): RemoteHandles;
  /** Drops every handle of a batch made by `loadRemoteRegions`. */
  unloadRemoteRegions?(handles: RemoteHandles): void;
  /** Local-capable backends: the target-side handle of one of our own regions. */
  loadLocalMD?(md: BackendMD): BackendMD;
  /** Drops metadata created by loadRemoteMD or loadLocalMD. */
  unloadMD(md: BackendMD): void;

  /**
   * Connects to a peer whose connection info was loaded. `signal` aborts the
   * wait (CanceledError with the reason as cause); the backend may go on
   * connecting in the background.
   */
  connect(agent: string, signal?: AbortSignal): Promise<void>;
  /** Forgets the peer: closes connections and fails its transfers in flight. */
  disconnect(agent: string): Promise<void>;

  prepXfer(
    op: XferOp,
    local: XferDescs,
    remote: XferDescs,
    agent: string,
    opts?: PrepXferOptions,
  ): BackendXfer;
  /**
   * Starts the transfer and never blocks. Returns Status.SUCCESS if it
   * finished already, Status.IN_PROG otherwise; throws a NixlError if it
   * cannot start (nothing is then in flight). The notification, if any,
   * reaches the target after the data. The agent refuses any other value with
   * a BackendError naming the backend.
   */
  postXfer(h: BackendXfer, notif: Uint8Array | undefined): PostStatus;
  /**
   * A cheap poll of the current post: Status.IN_PROG, Status.SUCCESS, or a
   * negative status with the error on h.error. The agent refuses a value that
   * is not a status with a BackendError naming the backend.
   */
  checkXfer(h: BackendXfer): StatusCode;
  /**
   * Optional: the agent waits for the completion event of the current post,
   * which is still in flight, instead of polling it (it may have polled it
   * with checkXfer first). A backend that left the post's progress to the
   * polling thread hands it back to its own. Must not block.
   */
  stopPolling?(h: BackendXfer): void;
  /** Frees the handle, aborting a transfer in flight; must not block. */
  releaseXfer(h: BackendXfer): void;

  /** Notification-capable backends: a standalone notification. */
  genNotif?(agent: string, msg: Uint8Array): void;
  /**
   * Optional, notification-capable backends: hand over now (onNotifs) the
   * notifications received and not delivered yet. getNotifs calls it, so a
   * notification that reached the backend before getNotifs is returned by it,
   * not only on a later turn of the event loop. Must not block.
   */
  pollNotifs?(): void;

  /** Idempotent: fails transfers in flight, frees everything. */
  close(): Promise<void>;
}

/** What a plugin module exports (as `default` or `plugin`). */
export interface BackendPlugin {
  readonly apiVersion: number;
  readonly name: string;
  readonly version: string;
  readonly mems: readonly MemType[];
  readonly defaultParams: Readonly<BackendParams>;
  /** Why the plugin can't run here (e.g. a library missing), or undefined if it can. */
  unavailableReason?(): string | undefined;
  create(params: BackendParams, components: BackendComponents): Promise<Backend>;
}
