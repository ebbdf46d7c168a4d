/**
 * Agent metadata through etcd, the way NIXL and Dynamo clusters run it: each
 * agent publishes its metadata under `<namespace><agent>/metadata`
 * (NIXL_ETCD_NAMESPACE, default /nixl/agents/) on a lease it keeps alive,
 * and loads every other agent's from a range read of the namespace and a
 * watch from the revision after it (no polling, nothing missed between the
 * two). Registrations reach peers as partial metadata; a closed agent
 * revokes its lease, a crashed one's expires after the TTL, and either way
 * every watcher invalidates it. It is also the agent's MetadataStore:
 * sendLocalMD, sendLocalPartialMD, fetchRemoteMD and invalidateLocalMD go
 * through it.
 *
 * Failures are errors, not hangs: start fails with a typed error within
 * connectTimeoutMs; if etcd goes away while running, transfers between
 * agents that know each other go on (etcd is not on the data path), and once
 * etcd is back the plugin renews its lease, re-publishes, re-reads the
 * namespace and watches again.
 */
import '../../src/polyfills.js';

import type { Etcd3, IWatchResponse, Watcher } from 'etcd3';

import type { DiscoveryHost, MetadataStore } from '../../src/discovery.js';
import {
  BackendError,
  CanceledError,
  InvalidParamError,
  NixlError,
  NotAllowedError,
} from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { createClient, etcdError, isTooLarge, messageBound, prefixEnd } from './client.js';
import { describe, resolveConfig, type EtcdConfig, type EtcdOptions } from './config.js';
import {
  METADATA_LABEL,
  UPDATE_LABEL,
  checkAgentName,
  checkLabel,
  keyOf,
  parseKey,
} from './keys.js';
import { Liveness } from './liveness.js';
import { PeerView, type PeerChange, type PeerViewStats } from './peer-view.js';
import { Publisher } from './publisher.js';

export {
  CA_FILE_ENV,
  CERT_FILE_ENV,
  DEFAULT_MAX_PEERS,
  DEFAULT_MAX_VALUE_BYTES,
  ENDPOINTS_ENV,
  KEY_FILE_ENV,
  NAMESPACE_ENV,
  PASSWORD_ENV,
  USERNAME_ENV,
  type EtcdOptions,
  type EtcdTlsOptions,
} from './config.js';
export { DEFAULT_NAMESPACE, METADATA_LABEL, UPDATE_LABEL } from './keys.js';

/** Keys per page of the namespace read (fewer after a page over the gRPC message bound). */
const PAGE_KEYS = 256;
const RECOVER_MIN_MS = 200;
const RECOVER_MAX_MS = 2000;

export function etcd(opts: EtcdOptions = {}): EtcdDiscovery {
  return new EtcdDiscovery(opts);
}

export class EtcdDiscovery implements MetadataStore {
  readonly name = 'etcd';
  readonly config: EtcdConfig;
  #host?: DiscoveryHost;
  #log?: Logger;
  #client?: Etcd3;
  #publisher?: Publisher;
  #view?: PeerView;
  #watcher?: Watcher;
  #started = false;
  #stopping = false;
  #unsubscribe?: () => void;
  #recheckTimer?: ReturnType<typeof setInterval>;
  /** The recovery loop (see #recover), while it runs. */
  #recovering?: Promise<void>;
  #recoverAgain = false;
  /** Fetches waiting for a key to be put: key → resolvers. */
  readonly #waiters = new Map<string, Set<(value: Uint8Array) => void>>();
  readonly #cancelWaits = new Set<(err: Error) => void>();
  /** Holds the event loop open while a caller awaits start, stop or a MetadataStore call. */
  readonly #liveness = new Liveness();

  constructor(opts: EtcdOptions = {}) {
    this.config = resolveConfig(opts);
  }

  /** What the plugin tracks and what it did not report (see PeerView). */
  stats(): PeerViewStats {
    return this.#view?.stats() ?? { peers: 0, refused: 0, errorsSuppressed: 0 };
  }

  /** Agent names whose metadata this plugin loaded. */
  loadedPeers(): string[] {
    return this.#view?.loaded() ?? [];
  }

  start(host: DiscoveryHost): Promise<void> {
    return this.#liveness.hold(() => this.#start(host));
  }

  async #start(host: DiscoveryHost): Promise<void> {
    if (this.#started)
      throw new NotAllowedError('etcd discovery already started', { op: 'etcd.start' });
    this.#started = true;
    checkAgentName(host.name, 'etcd.start');
    this.#host = host;
    this.#log = host.log.extend('etcd');
    const cfg = this.config;
    const client = await createClient(cfg);
    this.#client = client;
    this.#view = new PeerView(host, cfg.maxValueBytes, cfg.maxPeers);
    this.#view.hold();
    this.#publisher = new Publisher(client, host, cfg, (err) => this.#lost(err));

    try {
      await this.#connect();
    } catch (err) {
      await this.#shutdown(false);
      throw err;
    }
    // Past Agent.create: its caller listens by then.
    setImmediate(() => this.#view!.release());
    this.#unsubscribe = host.onRegistrationChange((c) => this.#publisher!.onChange(c));
    this.#recheckTimer = setInterval(() => this.#recheck(), cfg.recheckMs);
    this.#recheckTimer.unref?.();
    this.#log(
      'started: %s, namespace %s, lease TTL %d s',
      describe(cfg),
      cfg.namespace,
      cfg.ttlSeconds,
    );
  }

  /**
   * The first lease, put, read and watch, retried while they fail for a
   * transient reason (etcd still starting, a connection dropped) until
   * connectTimeoutMs; then a BackendError naming the last failure. Refused
   * credentials fail at once (NotAllowedError).
   */
  async #connect(): Promise<void> {
    const cfg = this.config;
    const deadline = performance.now() + cfg.connectTimeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), cfg.connectTimeoutMs);
    });
    let leased = false;
    let last: unknown;
    try {
      for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
        const attempt = (async () => {
          if (!leased) await this.#publisher!.renew();
          leased = true;
          await this.#sync();
        })();
        attempt.catch(() => {});
        try {
          if ((await Promise.race([attempt, timedOut])) !== 'timeout') return;
        } catch (err) {
          const e = err instanceof NixlError ? err : etcdError(err, 'starting', cfg, 'etcd.start');
          if (e.code !== 'NIXL_ERR_BACKEND') throw e;
          last = e;
          if (performance.now() + delay < deadline) {
            this.#log?.('etcd not ready (%s); retrying', e.message);
            if ((await Promise.race([sleep(delay), timedOut])) !== 'timeout') continue;
          }
        }
        const why = last ? `; last error: ${(last as Error).message}` : '';
        throw new BackendError(
          `${describe(cfg)} not reachable within ${cfg.connectTimeoutMs} ms (connectTimeoutMs)${why}`,
          { op: 'etcd.start', cause: last },
        );
      }
    } finally {
      clearTimeout(timer);
    }
  }

  stop(): Promise<void> {
    return this.#liveness.hold(() => this.#stop());
  }

  async #stop(): Promise<void> {
    if (!this.#started || this.#stopping) return;
    this.#stopping = true;
    this.#unsubscribe?.();
    clearInterval(this.#recheckTimer);
    for (const cancel of [...this.#cancelWaits]) {
      cancel(
        new CanceledError('the agent is closing', { op: 'fetchRemoteMD', agent: this.#host?.name }),
      );
    }
    await this.#shutdown();
  }

  // ------------------------------------------------------- MetadataStore

  publish(): Promise<void> {
    const publisher = this.#running('sendLocalMD');
    return this.#liveness.hold(() => publisher.publish());
  }

  publishPartial(label: string, metadata: Uint8Array): Promise<void> {
    checkLabel(label, 'sendLocalPartialMD');
    if (label === METADATA_LABEL || label === UPDATE_LABEL) {
      throw new InvalidParamError(`etcd: the label '${label}' is the plugin's own`, {
        op: 'sendLocalPartialMD',
      });
    }
    const publisher = this.#running('sendLocalPartialMD');
    return this.#liveness.hold(() => publisher.publishPartial(label, metadata));
  }

  unpublish(): Promise<void> {
    const publisher = this.#running('invalidateLocalMD');
    return this.#liveness.hold(() => publisher.unpublish());
  }

  /**
   * Loads a peer's value under `label`: read now, or, if not there yet, the
   * first put of it that the namespace watch sees (the waiter is in place
   * before the read, so a put between the two is not missed).
   */
  fetch(name: string, label: string, signal?: AbortSignal): Promise<void> {
    return this.#liveness.hold(() => this.#fetch(name, label, signal));
  }

  async #fetch(name: string, label: string, signal?: AbortSignal): Promise<void> {
    this.#running('fetchRemoteMD');
    checkAgentName(name, 'fetchRemoteMD');
    checkLabel(label, 'fetchRemoteMD');
    signal?.throwIfAborted();
    const key = keyOf(this.config.namespace, name, label);
    const waiting = this.#waitFor(key, signal);
    let value: Uint8Array | undefined;
    try {
      const res = await this.#client!.kv.range({ key: Buffer.from(key) }).catch((err) => {
        throw etcdError(err, `reading ${key}`, this.config, 'fetchRemoteMD');
      });
      value = res.kvs[0]?.value ?? (await waiting.promise);
    } finally {
      waiting.cancel();
    }
    const err =
      label === METADATA_LABEL
        ? this.#view!.putMetadata(name, value)
        : this.#view!.putLabel(name, label, value);
    if (err) throw err;
  }

  // ------------------------------------------------------------ internals

  #running(op: string): Publisher {
    if (!this.#publisher || this.#stopping) {
      throw new NotAllowedError('the etcd plugin is not running', { op });
    }
    return this.#publisher;
  }

  /**
   * Reads the whole namespace at one revision, loads it, and watches from the
   * next revision on (replacing any previous watch).
   */
  async #sync(): Promise<void> {
    this.#view!.beginSync();
    const revision = await this.#readAll((agent, v) => this.#view!.apply({ agent, ...v }));
    if (this.#stopping) return;
    this.#view!.endSync();
    await this.#watch(revision + 1n);
  }

  /**
   * Reads the namespace in pages at one revision and hands each agent's
   * `metadata` (with its `update` when one transaction wrote both) to
   * `onAgent` as soon as its keys are read: an agent's keys are contiguous
   * in key order, so no more than one page (bounded by the gRPC message
   * bound) and one agent's values are held at a time, however many keys
   * the namespace holds. Returns the revision read.
   */
  async #readAll(
    onAgent: (agent: string, v: { metadata: Uint8Array; update?: Uint8Array }) => void,
  ): Promise<bigint> {
    const cfg = this.config;
    const kv = this.#client!.kv;
    const end = prefixEnd(Buffer.from(cfg.namespace));
    /** The agent whose keys are being read. */
    let current:
      | {
          agent: string;
          metadata?: { value: Uint8Array; rev: string };
          update?: { value: Uint8Array; rev: string };
        }
      | undefined;
    const flush = () => {
      const c = current;
      current = undefined;
      if (!c?.metadata || this.#stopping) return;
      const update = c.update?.rev === c.metadata.rev ? c.update.value : undefined;
      onAgent(c.agent, { metadata: c.metadata.value, update });
    };
    let from = Buffer.from(cfg.namespace);
    let revision: bigint | undefined;
    let limit = PAGE_KEYS;
    for (;;) {
      const at = revision === undefined ? undefined : String(revision);
      let res;
      try {
        res = await kv.range({ key: from, range_end: end, limit, revision: at });
      } catch (err) {
        if (!isTooLarge(err)) throw etcdError(err, `reading ${cfg.namespace}`, cfg, 'etcd.sync');
        if (limit > 1) {
          limit = pageKeysAfterTooLarge(err, limit, messageBound(cfg));
          continue;
        }
        // One value alone is over the gRPC bound: name it and step over it.
        const k = await kv
          .range({ key: from, range_end: end, limit: 1, keys_only: true, revision: at })
          .catch((e) => {
            throw etcdError(e, `reading ${cfg.namespace}`, cfg, 'etcd.sync');
          });
        const key = k.kvs[0]!.key;
        this.#view!.report(
          new BackendError(
            `etcd: the value of ${key.toString()} is over the gRPC message bound; ignored`,
            { op: 'discovery' },
          ),
        );
        revision ??= BigInt(k.header.revision);
        from = Buffer.concat([key, Buffer.from([0])]);
        continue;
      }
      revision ??= BigInt(res.header.revision);
      limit = nextPageKeys(res.kvs, limit, messageBound(cfg));
      for (const { key, value, mod_revision: rev } of res.kvs) {
        const k = key.toString();
        this.#resolveWaiters(k, value);
        const parsed = parseKey(cfg.namespace, k);
        if (!parsed || parsed.agent === this.#host!.name) continue;
        if (current?.agent !== parsed.agent) {
          flush();
          current = { agent: parsed.agent };
        }
        if (parsed.label === METADATA_LABEL) current.metadata = { value, rev };
        if (parsed.label === UPDATE_LABEL) current.update = { value, rev };
      }
      if (!res.more || res.kvs.length === 0) {
        flush();
        return revision;
      }
      from = Buffer.concat([res.kvs[res.kvs.length - 1]!.key, Buffer.from([0])]);
    }
  }

  /** Watches the namespace from `revision`; resolves once etcd confirmed the watch. */
  async #watch(revision: bigint): Promise<void> {
    const old = this.#watcher;
    this.#watcher = undefined;
    void old?.cancel().catch(() => {});
    // A watch manager (and so a gRPC stream) of its own for each watch: etcd3
    // keeps a stream that was opened with an auth token etcd no longer knows
    // (after a restart) and cancels every watch created on it; a new stream
    // carries the token the unary calls of the recovery obtained again.
    const w = this.#client!.namespace('')
      .watch()
      .prefix(this.config.namespace)
      .startRevision(String(revision))
      .watcher();
    this.#watcher = w;
    w.on('data', (res: IWatchResponse) => {
      if (this.#watcher === w && !this.#stopping) this.#onWatch(res);
    });
    // etcd3 would resume the stream by itself; the plugin re-reads instead,
    // which also renews the lease and steps over a value too large to watch.
    w.on('disconnected', (err: unknown) => {
      if (this.#watcher !== w || this.#stopping) return;
      this.#log?.('etcd watch lost (%s); recovering', (err as Error)?.message ?? err);
      this.#recover(isTooLarge(err) ? 'a watched value is over the gRPC bound' : 'watch lost');
    });
    w.on('error', (err: unknown) => {
      if (this.#watcher !== w || this.#stopping) return;
      this.#log?.('etcd watch canceled (%s); recovering', (err as Error)?.message ?? err);
      this.#recover('watch canceled');
    });
    await new Promise<void>((resolve, reject) => {
      const ok = () => (off(), resolve());
      const fail = (err: unknown) => (off(), reject(err));
      const off = () => {
        w.off('connected', ok);
        w.off('disconnected', fail);
        w.off('error', fail);
      };
      w.on('connected', ok);
      w.on('disconnected', fail);
      w.on('error', fail);
    });
  }

  /** One watch response: each peer's changes grouped by revision (a transaction), in order. */
  #onWatch(res: IWatchResponse): void {
    const ns = this.config.namespace;
    const groups = new Map<string, PeerChange>();
    for (const ev of res.events) {
      const key = ev.kv.key.toString();
      if (ev.type === 'Put') this.#resolveWaiters(key, ev.kv.value);
      const parsed = parseKey(ns, key);
      if (!parsed) continue;
      if (parsed.agent === this.#host!.name) {
        // Our metadata deleted by someone else: put it back (not after unpublish()).
        if (parsed.label === METADATA_LABEL && ev.type === 'Delete') this.#publisher!.restore();
        continue;
      }
      const id = `${ev.kv.mod_revision}/${parsed.agent}`;
      let g = groups.get(id);
      if (!g) groups.set(id, (g = { agent: parsed.agent }));
      if (parsed.label === METADATA_LABEL) {
        if (ev.type === 'Delete') g.deleted = true;
        else g.metadata = ev.kv.value;
      } else if (parsed.label === UPDATE_LABEL && ev.type === 'Put') {
        g.update = ev.kv.value;
      }
    }
    for (const g of groups.values()) {
      if (g.deleted || g.metadata) this.#view!.apply(g);
    }
  }

  /** The lease could not be kept alive: etcd was away longer than its TTL. */
  #lost(err: unknown): void {
    if (this.#stopping) return;
    this.#log?.('etcd lease lost (%s); recovering', (err as Error)?.message ?? err);
    this.#recover('lease lost');
  }

  /**
   * Until it succeeds (or the plugin stops): a new lease with every key
   * re-put under it, then the namespace read again and watched from there.
   * Peers whose values did not change are not reloaded (PeerView), so
   * transfers between agents that know each other are not disturbed.
   */
  #recover(reason: string): void {
    if (this.#recovering) {
      this.#recoverAgain = true;
      return;
    }
    this.#recovering = (async () => {
      let delay = RECOVER_MIN_MS;
      let reported = false;
      for (;;) {
        this.#recoverAgain = false;
        await sleep(delay);
        if (this.#stopping) return;
        try {
          await this.#publisher!.renew();
          await this.#sync();
          if (!this.#recoverAgain) break;
        } catch (err) {
          if (this.#stopping) return;
          if (!reported) {
            reported = true;
            this.#host!.emitError(
              etcdError(err, `reconnecting after: ${reason}`, this.config, 'discovery'),
            );
          }
          delay = Math.min(delay * 2, RECOVER_MAX_MS);
        }
      }
      this.#log?.('etcd recovered (%s)', reason);
    })().finally(() => {
      this.#recovering = undefined;
    });
  }

  /** Reloads peers that the agent dropped by itself (a backend failure) but that are still published. */
  #recheck(): void {
    if (this.#stopping) return;
    for (const agent of this.#view!.dropped()) {
      const key = keyOf(this.config.namespace, agent, METADATA_LABEL);
      void this.#client!.kv.range({ key: Buffer.from(key) }).then(
        (res) => {
          const value = res.kvs[0]?.value;
          if (value && !this.#stopping) {
            this.#view!.report(this.#view!.putMetadata(agent, value));
          }
        },
        (err) => this.#log?.('reloading %s: %s', agent, (err as Error)?.message),
      );
    }
  }

  #waitFor(
    key: string,
    signal?: AbortSignal,
  ): { promise: Promise<Uint8Array>; cancel: () => void } {
    let resolver!: (value: Uint8Array) => void;
    let fail!: (err: Error) => void;
    const promise = new Promise<Uint8Array>((resolve, reject) => {
      resolver = resolve;
      fail = reject;
    });
    promise.catch(() => {});
    const set = this.#waiters.get(key) ?? new Set();
    this.#waiters.set(key, set);
    set.add(resolver);
    this.#cancelWaits.add(fail);
    const onAbort = () => fail(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const cancel = () => {
      set.delete(resolver);
      if (set.size === 0 && this.#waiters.get(key) === set) this.#waiters.delete(key);
      this.#cancelWaits.delete(fail);
      signal?.removeEventListener('abort', onAbort);
    };
    return { promise, cancel };
  }

  #resolveWaiters(key: string, value: Uint8Array): void {
    const set = this.#waiters.get(key);
    if (!set) return;
    this.#waiters.delete(key);
    for (const resolve of set) resolve(value);
  }

  /** Revokes the lease (peers invalidate this agent at once), ends the watch, closes the client. */
  async #shutdown(graceful = true): Promise<void> {
    this.#stopping = true;
    const w = this.#watcher;
    this.#watcher = undefined;
    await this.#publisher?.close(graceful ? undefined : 0);
    await withTimeout(w?.cancel(), graceful ? 1000 : 0);
    this.#client?.close();
  }
}

/**
 * Keys in the next page: as many as half the message bound holds at the
 * last page's average size (so a namespace of large values is read in a few
 * keys a page, and one of small values in full pages), at most twice the
 * last and at most PAGE_KEYS.
 */
function nextPageKeys(
  kvs: readonly { key: Buffer; value: Buffer }[],
  limit: number,
  bound: number,
): number {
  if (kvs.length === 0) return limit;
  let bytes = 0;
  for (const kv of kvs) bytes += kv.key.length + kv.value.length;
  const fit = Math.floor(bound / 2 / Math.max(1, bytes / kvs.length));
  return Math.max(1, Math.min(PAGE_KEYS, limit * 2, fit));
}

/**
 * Keys in the page read again after one over the message bound: scaled by
 * the size gRPC reported (`larger than max (N vs M)`), else an eighth.
 */
function pageKeysAfterTooLarge(err: unknown, limit: number, bound: number): number {
  const m = /\((\d+) vs \d+\)/.exec((err as Error)?.message ?? '');
  const size = m ? Number(m[1]) : 0;
  const scaled = size > 0 ? Math.floor((limit * bound) / 2 / size) : limit >> 3;
  return Math.max(1, Math.min(limit - 1, scaled));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}

/** Waits for `p` at most `ms` (a cancel that etcd never answers must not hold close()). */
async function withTimeout(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!p) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    p.catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
