/**
 * This agent's side in etcd: its keys, all under one lease kept alive by
 * lease-keeper.ts (a crashed agent's keys expire after the TTL; a closed one revokes
 * the lease, which deletes them at once).
 *
 * The key scheme (keys.ts): `metadata` always holds the full, current
 * metadata. A registration is published as one transaction that puts its
 * partial metadata under `update` and the new full metadata under `metadata`
 * (peers that know this agent load the partial one; newcomers read the full
 * one). `update` holds the last few registrations as a chain (update.ts), so
 * a peer that missed some of them (its watch was down) still adds the
 * regions. A later put of that same metadata (a lease renewal, a retry, a
 * restore) carries the same `update` again, so a peer that reads the pair
 * only then still adds them. A deregistration puts `metadata` alone (peers
 * reload it whole, as NIXL's full metadata replaces what they held) and
 * ends the chain. Labels from sendLocalPartialMD are put under
 * their own keys.
 *
 * Writes run one at a time, in order; registrations made while one is in
 * flight go out together in the next (a burst costs a few transactions, not
 * one each). A write that fails is retried every second until it lands,
 * with the registrations it carried still partial (see #putSnapshot).
 */
import type { Etcd3, IRequestOp, Lease } from 'etcd3';

import type { DiscoveryHost, RegistrationChange } from '../../src/discovery.js';
import { RegDescList } from '../../src/descriptors.js';
import type { NixlError } from '../../src/errors.js';
import type { EtcdConfig } from './config.js';
import { etcdError, prefixEnd } from './client.js';
import { LeaseKeeper } from './lease-keeper.js';
import { agentPrefix, keyOf, METADATA_LABEL, UPDATE_LABEL } from './keys.js';
import { encodeUpdate, extendChain, metadataDigest, type UpdateLink } from './update.js';

const RETRY_MS = 1000;

export class Publisher {
  readonly #client: Etcd3;
  readonly #host: DiscoveryHost;
  readonly #cfg: EtcdConfig;
  readonly #onLost: (err: unknown) => void;
  #lease: Lease | undefined;
  #keeper: LeaseKeeper | undefined;
  #leaseId: string | undefined;
  /** False after unpublish() until publish(): registrations are not published meanwhile. */
  #published = true;
  readonly #labels = new Map<string, Buffer>();
  #pending: RegistrationChange[] = [];
  /** Digest of the last `metadata` value put: the base of the next partial update. */
  #putDigest: string | undefined;
  /**
   * The chain of the last `update` put, its encoded value, and the digest
   * of the `metadata` put with it: the next registration extends it, and a
   * later put of that same metadata (a lease renewal, a retry) puts the
   * same value again (see #put).
   */
  #lastUpdate: { links: UpdateLink[]; value: Uint8Array; result: string } | undefined;
  #chain: Promise<void> = Promise.resolve();
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** `onLost`: the lease is gone (etcd3 could not keep it alive); the owner renews it. */
  constructor(client: Etcd3, host: DiscoveryHost, cfg: EtcdConfig, onLost: (err: unknown) => void) {
    this.#client = client;
    this.#host = host;
    this.#cfg = cfg;
    this.#onLost = onLost;
  }

  /**
   * Grants a new lease and puts every key this agent publishes under it, in
   * one transaction; then revokes the old lease (which holds no key by then).
   * At start, and after etcd was lost and is back.
   */
  renew(): Promise<void> {
    return this.#serial(async () => {
      // A lease that expired before the first put (this process starved for
      // longer than the TTL) is granted again, a few times.
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.#renewOnce();
        } catch (err) {
          if (attempt === 3 || this.#closed || !isLeaseGone(err)) throw err;
        }
      }
    });
  }

  async #renewOnce(): Promise<void> {
    const old = this.#lease;
    const oldKeeper = this.#keeper;
    const lease = this.#client.lease(this.#cfg.ttlSeconds, { autoKeepAlive: false });
    const keeper = new LeaseKeeper(
      lease,
      this.#cfg.ttlSeconds,
      this.#cfg.requestTimeoutMs,
      (err) => {
        if (this.#lease === lease && !this.#closed) this.#onLost(err);
      },
    );
    let id: string;
    try {
      id = await lease.grant();
      keeper.start();
      if (this.#closed) throw new Error('closed');
      await this.#putSnapshot(true, id);
    } catch (err) {
      keeper.stop();
      void lease.revoke().catch(() => {});
      throw err;
    }
    this.#lease = lease;
    this.#keeper = keeper;
    this.#leaseId = id;
    // The old lease holds no key any more.
    oldKeeper?.stop();
    void old?.revoke().catch(() => {});
  }

  /** Publishes the full metadata again (sendLocalMD), and registrations from then on. */
  publish(): Promise<void> {
    return this.#serial(async () => {
      this.#published = true;
      this.#pending = [];
      await this.#put([[METADATA_LABEL, this.#host.getLocalMD()]]);
    });
  }

  /** Publishes partial metadata under a label (sendLocalPartialMD); kept across lease renewals. */
  publishPartial(label: string, metadata: Uint8Array): Promise<void> {
    return this.#serial(async () => {
      const value = Buffer.from(metadata);
      await this.#put([[label, value]]);
      this.#labels.set(label, value);
    });
  }

  /** Deletes every key of this agent (invalidateLocalMD); peers invalidate it. */
  unpublish(): Promise<void> {
    return this.#serial(async () => {
      this.#published = false;
      this.#pending = [];
      this.#labels.clear();
      this.#putDigest = undefined;
      this.#lastUpdate = undefined;
      const key = Buffer.from(agentPrefix(this.#cfg.namespace, this.#host.name));
      await this.#call('withdrawing the metadata', () =>
        this.#client.kv.deleteRange({ key, range_end: prefixEnd(key) }),
      );
    });
  }

  /** Puts every key again if this agent is published (its `metadata` was deleted by another client). */
  restore(): void {
    if (this.#closed || !this.#published) return;
    void this.#serial(async () => {
      if (!this.#published || this.#closed) return;
      this.#pending = [];
      await this.#putSnapshot(true);
    }).catch((err) => {
      this.#host.emitError(err as NixlError);
      this.#retrySoon();
    });
  }

  /** A local registration change: published soon (see the file comment). */
  onChange(change: RegistrationChange): void {
    if (this.#closed || !this.#published) return;
    this.#pending.push(change);
    if (this.#pending.length === 1) void this.#serial(() => this.#flush()).catch(() => {});
  }

  /**
   * Stops, and revokes the lease (bounded by the request timeout): peers
   * invalidate this agent at once. Waits at most `waitMs` for a write in
   * flight (none after a failed start: etcd is not answering).
   */
  async close(waitMs = this.#cfg.requestTimeoutMs): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#chain, new Promise((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
    const lease = this.#lease;
    this.#lease = undefined;
    this.#keeper?.stop();
    if (!lease) return;
    try {
      // One deadline for every attempt: a retry after a timeout fails at once.
      await lease.revoke({ deadline: Date.now() + this.#cfg.requestTimeoutMs });
    } catch (err) {
      this.#host.log('lease not revoked (keys expire after %d s): %s', this.#cfg.ttlSeconds, err);
    }
  }

  async #flush(): Promise<void> {
    if (this.#pending.length === 0 || !this.#published) return;
    try {
      await this.#putSnapshot(false);
    } catch (err) {
      this.#host.emitError(err as NixlError);
      this.#retrySoon();
    }
  }

  /**
   * Puts the current metadata (and with `withLabels`, every label), with the
   * registrations not yet published as partial metadata in the same
   * transaction: peers that know this agent add the regions instead of
   * reloading it, even after a write failed or etcd was away. If the put
   * fails, those registrations stay pending.
   */
  async #putSnapshot(withLabels: boolean, leaseId = this.#leaseId): Promise<void> {
    const taken = this.#pending.splice(0);
    const entries: [string, Uint8Array][] = withLabels ? [...this.#labels] : [];
    let link: UpdateLink | undefined;
    if (this.#published) {
      const base = this.#putDigest;
      const partial = taken.length > 0 && base ? this.#partialOf(taken) : undefined;
      if (partial) link = { base: base!, partial };
      entries.push([METADATA_LABEL, this.#host.getLocalMD()]);
    }
    try {
      await this.#put(entries, leaseId, link);
    } catch (err) {
      this.#pending.unshift(...taken);
      throw err;
    }
  }

  /**
   * The partial metadata of a batch of registrations of one memory type, or
   * undefined (a deregistration, mixed types, or regions already gone): then
   * only the full metadata is put.
   */
  #partialOf(changes: RegistrationChange[]): Uint8Array | undefined {
    const memType = changes[0]!.descs.memType;
    if (changes.some((c) => c.kind !== 'register' || c.descs.memType !== memType)) return undefined;
    const all = new RegDescList(memType);
    for (const c of changes) {
      for (let i = 0; i < c.descs.length; i++) {
        all.addRegion(c.descs.addrs[i]!, c.descs.lens[i]!, c.descs.devIds[i]!);
      }
    }
    try {
      return this.#host.getLocalPartialMD(all);
    } catch {
      return undefined;
    }
  }

  /** After a failed write: put everything every second until it lands. */
  #retrySoon(): void {
    if (this.#retryTimer || this.#closed) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#serial(async () => {
        if (this.#published) await this.#putSnapshot(true);
      }).catch(() => this.#retrySoon());
    }, RETRY_MS);
    this.#retryTimer.unref?.();
  }

  /**
   * Puts label → value pairs under the lease, in one transaction; with
   * `link` (a registration, on top of the last `metadata` put), the chain
   * it extends goes under `update` in it. A
   * `metadata` value equal to the one the last `update` was put with takes
   * that update along again: readers pair the two only when one transaction
   * wrote both (and a renewal revokes the lease the old update lived
   * under), so without it a peer that reads this agent after a re-put (its
   * watch was down when the update went by) would reload it in full, and
   * the requests it prepared would fail, though the metadata only grew.
   */
  async #put(
    entries: [string, Uint8Array][],
    leaseId = this.#leaseId,
    link?: UpdateLink,
  ): Promise<void> {
    if (entries.length === 0) return;
    const md = entries.find(([label]) => label === METADATA_LABEL);
    const mdDigest = md && metadataDigest(md[1]);
    const last = this.#lastUpdate;
    let update: { links: UpdateLink[]; value: Uint8Array } | undefined;
    if (md && link) {
      const links = extendChain(last?.links ?? [], last?.result, link);
      update = { links, value: encodeUpdate(links) };
    } else if (md && last && last.result === mdDigest) update = last;
    if (update) entries = [...entries, [UPDATE_LABEL, update.value]];
    const success: IRequestOp[] = entries.map(([label, value]) => ({
      request_put: {
        key: Buffer.from(keyOf(this.#cfg.namespace, this.#host.name, label)),
        value: Buffer.from(value.buffer, value.byteOffset, value.byteLength),
        lease: leaseId,
      },
    }));
    try {
      await this.#client.kv.txn({ success });
      if (mdDigest !== undefined) {
        this.#putDigest = mdDigest;
        // Metadata that changed without a registration (a deregistration) ends the chain.
        this.#lastUpdate = update ? { ...update, result: mdDigest } : undefined;
      }
    } catch (err) {
      // etcd dropped the lease (it expired while this agent was away): renew it.
      if (leaseId === this.#leaseId && isLeaseGone(err)) this.#onLost(err);
      throw etcdError(err, 'publishing the metadata', this.#cfg, 'etcd.publish');
    }
  }

  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw etcdError(err, what, this.#cfg, 'etcd.publish');
    }
  }

  /** Runs writes one at a time, in order; a failed one does not stop the next. */
  #serial(fn: () => Promise<void>): Promise<void> {
    const run = this.#chain.then(fn);
    this.#chain = run.catch(() => {});
    return run;
  }
}

/** etcd's answer to a put under a lease it no longer has. */
function isLeaseGone(err: unknown): boolean {
  return /requested lease not found/.test(
    (err as Error)?.message + String((err as { cause?: Error })?.cause?.message),
  );
}
