/**
 * nixlbench's etcd runtime (`--etcd_endpoints`), for nixl-ts-bench: both
 * processes run the same command; each claims a rank in etcd, rank 0 is the
 * initiator and rank 1 the target (nixlbench's pairwise roles), both wait at
 * a start barrier for the other, and then the same request/reply commands
 * the control socket carries go through etcd keys instead. Payload never
 * goes through etcd: the transfers run over the backend as in every run.
 *
 * Keys, under `/nixl-ts-bench/<group>/` (`--benchmark-group`, default
 * `default` as in nixlbench):
 * - `rank/<n>`: a process's claim, created only if absent (one transaction),
 *   holding its address (where its backend and baseline servers listen).
 * - `req/<id>`: the initiator's requests; `rep/<id>`: the target's replies.
 * Every key lives under its writer's lease (30 s, kept alive, as nixlbench's
 * rank key): a process that dies leaves nothing behind after the TTL, and its
 * peer sees its rank key go and fails with an error instead of waiting.
 *
 * Credentials and TLS come from the same settings as the etcd plugin
 * (NIXL_ETCD_USERNAME/PASSWORD, NIXL_ETCD_CA_FILE/CERT_FILE/KEY_FILE).
 */
import type { Etcd3, IWatchResponse, Lease, Watcher } from 'etcd3';

import { createClient, etcdError, prefixEnd } from '../../plugins/etcd/client.js';
import { describe, resolveConfig, type EtcdConfig } from '../../plugins/etcd/config.js';
import { ControlError, type Control, type ControlReply, type ControlRequest } from './control.js';

/** nixlbench's rank-key lease. */
const LEASE_TTL_S = 30;
/** How long the first process waits for the second (nixlbench's start barrier is about 60 s). */
export const BARRIER_TIMEOUT_MS = 60_000;
/** The largest request or reply this channel accepts (metadata of one backend fits easily). */
const MAX_MESSAGE_BYTES = 1024 * 1024;
const RANKS = 2;

export type Role = 'initiator' | 'target';

export interface EtcdRank {
  rank: number;
  role: Role;
  /** The other rank's address (its backend and baseline servers listen there). */
  peerAddress: string;
}

/** One process's membership in a benchmark group: its rank, lease and watch. */
export class EtcdRuntime {
  readonly #client: Etcd3;
  readonly #cfg: EtcdConfig;
  readonly #prefix: string;
  readonly #lease: Lease;
  #leaseId = '';
  #watcher: Watcher | undefined;
  #rank = -1;
  #closed = false;
  /** The plugin's gRPC sessions hold nothing open (plugins/etcd/client.ts): a run does, until close(). */
  readonly #alive = setInterval(() => {}, 2 ** 30);
  /** Called for each put under req/ or rep/ (by key suffix), and when the peer's rank key goes. */
  onMessage: (kind: 'req' | 'rep', id: number, value: Buffer) => void = () => {};
  onPeerGone: (why: string) => void = () => {};
  readonly #ranks = new Map<number, string>();
  #rankWaiter: (() => void) | undefined;

  private constructor(client: Etcd3, cfg: EtcdConfig, group: string) {
    this.#client = client;
    this.#cfg = cfg;
    this.#prefix = `/nixl-ts-bench/${group}/`;
    this.#lease = client.lease(LEASE_TTL_S, { autoKeepAlive: true });
    this.#lease.on('lost', (err) => {
      if (!this.#closed) this.onPeerGone(`this process's etcd lease was lost: ${err.message}`);
    });
  }

  /**
   * Connects, claims the first free rank of `group` and waits (at most
   * `barrierMs`) until every rank is claimed. `address`: this process's own.
   */
  static async join(opts: {
    endpoints: string[];
    group: string;
    address: string;
    barrierMs?: number;
  }): Promise<{ runtime: EtcdRuntime; rank: EtcdRank }> {
    const cfg = resolveConfig({ endpoints: opts.endpoints });
    const rt = new EtcdRuntime(await createClient(cfg), cfg, opts.group);
    try {
      const rank = await rt.#join(opts.address, opts.barrierMs ?? BARRIER_TIMEOUT_MS);
      return { runtime: rt, rank };
    } catch (err) {
      await rt.close();
      throw err;
    }
  }

  get rank(): number {
    return this.#rank;
  }

  async #join(address: string, barrierMs: number): Promise<EtcdRank> {
    const kv = this.#client.kv;
    this.#leaseId = await this.#lease.grant().catch((err) => {
      throw etcdError(err, 'granting the benchmark lease', this.#cfg, 'bench.etcd');
    });
    let revision = '';
    for (let n = 0; n < RANKS && this.#rank < 0; n++) {
      const key = Buffer.from(`${this.#prefix}rank/${n}`);
      const res = await kv
        .txn({
          compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
          success: [{ request_put: { key, value: Buffer.from(address), lease: this.#leaseId } }],
        })
        .catch((err) => {
          throw etcdError(err, `claiming rank ${n}`, this.#cfg, 'bench.etcd');
        });
      if (res.succeeded) {
        this.#rank = n;
        revision = res.header.revision;
      }
    }
    if (this.#rank < 0) {
      throw new Error(
        `benchmark group '${this.#prefix}' already has ${RANKS} ranks (nixl-ts-bench runs pairwise: one initiator, one target); use another --benchmark-group or wait ${LEASE_TTL_S} s for a dead run's ranks to expire`,
      );
    }
    // Everything after this process's claim: the other rank, and later the messages.
    const barrier = new Promise<void>((resolve) => (this.#rankWaiter = resolve));
    await this.#watchFrom(BigInt(revision) + 1n);
    const existing = await kv.range({
      key: Buffer.from(`${this.#prefix}rank/`),
      range_end: prefixEnd(Buffer.from(`${this.#prefix}rank/`)),
    });
    for (const { key, value } of existing.kvs) this.#onRank(key.toString(), value.toString());
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        barrier,
        new Promise((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Error(
                  `rank ${this.#rank}: the other process of benchmark group '${this.#prefix}' did not join within ${barrierMs / 1000} s (run the same command on the other host)`,
                ),
              ),
            barrierMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    const peer = this.#rank === 0 ? 1 : 0;
    return {
      rank: this.#rank,
      role: this.#rank === 0 ? 'initiator' : 'target',
      peerAddress: this.#ranks.get(peer)!,
    };
  }

  async #watchFrom(revision: bigint): Promise<void> {
    const w = this.#client.watch().prefix(this.#prefix).startRevision(String(revision)).watcher();
    this.#watcher = w;
    w.on('data', (res: IWatchResponse) => {
      for (const ev of res.events) {
        const key = ev.kv.key.toString();
        const rest = key.slice(this.#prefix.length);
        if (rest.startsWith('rank/')) {
          if (ev.type === 'Put') this.#onRank(key, ev.kv.value.toString());
          else if (Number(rest.slice(5)) !== this.#rank) {
            this.onPeerGone(`the other process left etcd (its rank key ${key} is gone)`);
          }
          continue;
        }
        const m = /^(req|rep)\/(\d+)$/.exec(rest);
        if (!m || ev.type !== 'Put') continue;
        if (ev.kv.value.length > MAX_MESSAGE_BYTES) {
          this.onPeerGone(`a ${ev.kv.value.length}-byte message under ${key}: over the bound`);
          continue;
        }
        this.onMessage(m[1] as 'req' | 'rep', Number(m[2]), ev.kv.value);
      }
    });
    w.on('error', (err: Error) => {
      if (!this.#closed) this.onPeerGone(`the etcd watch failed: ${err.message}`);
    });
    await new Promise<void>((resolve, reject) => {
      w.once('connected', () => resolve());
      w.once('error', reject);
    });
  }

  #onRank(key: string, address: string): void {
    const n = Number(key.slice(`${this.#prefix}rank/`.length));
    if (!Number.isSafeInteger(n)) return;
    this.#ranks.set(n, address);
    if (this.#ranks.size >= RANKS) this.#rankWaiter?.();
  }

  /** Puts one message under this process's lease. */
  async send(kind: 'req' | 'rep', id: number, body: object): Promise<void> {
    const value = Buffer.from(JSON.stringify(body));
    if (value.length > MAX_MESSAGE_BYTES) {
      throw new ControlError(`a ${value.length}-byte ${kind} is over the etcd channel's bound`);
    }
    await this.#client.kv
      .txn({
        success: [
          {
            request_put: {
              key: Buffer.from(`${this.#prefix}${kind}/${id}`),
              value,
              lease: this.#leaseId,
            },
          },
        ],
      })
      .catch((err) => {
        throw new ControlError(etcdError(err, `sending ${kind} ${id}`, this.#cfg).message);
      });
  }

  /** Deletes a message this process has read (the channel keeps etcd small). */
  forget(kind: 'req' | 'rep', id: number): void {
    void this.#client.kv
      .deleteRange({ key: Buffer.from(`${this.#prefix}${kind}/${id}`) })
      .catch(() => {});
  }

  describe(): string {
    return `${describe(this.#cfg)}, group ${this.#prefix}`;
  }

  /** Revokes the lease (this process's keys go at once) and closes the client. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#alive);
    const w = this.#watcher;
    this.#watcher = undefined;
    await w?.cancel().catch(() => {});
    if (this.#leaseId) {
      await this.#lease.revoke({ deadline: Date.now() + 5000 }).catch(() => {});
    }
    this.#client.close();
  }
}

/** The initiator's control channel over etcd: the same request/reply as the socket's. */
export class EtcdControlClient implements Control {
  readonly #rt: EtcdRuntime;
  #nextId = 1;
  readonly #pending = new Map<
    number,
    { resolve: (r: ControlReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  #failed: Error | undefined;

  constructor(rt: EtcdRuntime) {
    this.#rt = rt;
    rt.onMessage = (kind, id, value) => {
      if (kind !== 'rep') return;
      const p = this.#pending.get(id);
      if (!p) return;
      this.#pending.delete(id);
      clearTimeout(p.timer);
      rt.forget('rep', id);
      let reply: ControlReply;
      try {
        reply = JSON.parse(value.toString());
      } catch {
        p.reject(new ControlError(`target sent a malformed reply to request ${id}`));
        return;
      }
      if (reply.ok) p.resolve(reply);
      else p.reject(new ControlError(`target: ${reply.error ?? 'failed'}`));
    };
    rt.onPeerGone = (why) => this.#fail(new ControlError(`target lost: ${why}`));
  }

  #fail(err: Error): void {
    this.#failed ??= err;
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      this.#pending.delete(id);
      p.reject(err);
    }
  }

  async request<T extends object = Record<string, unknown>>(
    cmd: string,
    args: Record<string, unknown> = {},
    timeoutMs = 60_000,
  ): Promise<ControlReply & T> {
    if (this.#failed) throw this.#failed;
    const id = this.#nextId++;
    const reply = new Promise<ControlReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new ControlError(`target did not answer '${cmd}' within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
    });
    reply.catch(() => {});
    try {
      await this.#rt.send('req', id, { ...args, cmd, id });
    } catch (err) {
      const p = this.#pending.get(id);
      this.#pending.delete(id);
      if (p) clearTimeout(p.timer);
      throw err;
    }
    return reply as Promise<ControlReply & T>;
  }

  close(): void {
    this.#fail(new ControlError('control channel closed'));
  }
}

/**
 * The target's end: handles the initiator's requests in order (by id, as
 * etcd delivers them) and puts each reply; resolves after `bye`, or rejects
 * when the initiator goes away.
 */
export function serveEtcdControl(
  rt: EtcdRuntime,
  handler: (req: ControlRequest) => Promise<Record<string, unknown>>,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let chain = Promise.resolve();
    let done = false;
    rt.onPeerGone = (why) => {
      if (!done) ((done = true), reject(new Error(`initiator lost: ${why}`)));
    };
    rt.onMessage = (kind, id, value) => {
      if (kind !== 'req' || done) return;
      chain = chain.then(async () => {
        if (done) return;
        rt.forget('req', id);
        let req: ControlRequest;
        try {
          req = JSON.parse(value.toString());
        } catch {
          done = true;
          reject(new Error(`malformed request ${id} from the initiator`));
          return;
        }
        let reply: ControlReply;
        try {
          reply = { ...(await handler(req)), id, ok: true };
        } catch (err) {
          reply = { id, ok: false, error: (err as Error)?.message ?? String(err) };
        }
        try {
          await rt.send('rep', id, reply);
        } catch (err) {
          done = true;
          reject(err);
          return;
        }
        if (req.cmd === 'bye') {
          done = true;
          resolve();
        }
      });
    };
  });
}
