/**
 * Keeps a lease alive with one keep-alive every TTL/3 (what etcd's Go client
 * does), on a timer that does not hold the process open: etcd3's own
 * keep-alive runs on a ref'd interval, which would keep a script that
 * forgot close() alive forever. Each keep-alive has a deadline; when none
 * has succeeded for a whole TTL (etcd away that long, or it answered that
 * the lease is gone) the lease is lost, reported once.
 */
import type { Lease } from 'etcd3';

export class LeaseKeeper {
  readonly #lease: Lease;
  readonly #ttlMs: number;
  readonly #deadlineMs: number;
  readonly #onLost: (err: unknown) => void;
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastOk = performance.now();
  #inFlight = false;
  #lost = false;

  constructor(
    lease: Lease,
    ttlSeconds: number,
    deadlineMs: number,
    onLost: (err: unknown) => void,
  ) {
    this.#lease = lease;
    this.#ttlMs = ttlSeconds * 1000;
    this.#deadlineMs = deadlineMs;
    this.#onLost = onLost;
    // etcd3 reports a lease that etcd says has expired (from keepaliveOnce).
    lease.on('lost', (err) => this.#lose(err));
  }

  /** From now (the lease was just granted or renewed). */
  start(): void {
    this.#lastOk = performance.now();
    this.#timer = setInterval(() => this.#beat(), this.#ttlMs / 3);
    this.#timer.unref?.();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #beat(): void {
    if (this.#inFlight || this.#lost) return;
    if (performance.now() - this.#lastOk > this.#ttlMs) {
      this.#lose(new Error(`no keep-alive of the lease succeeded for its TTL (${this.#ttlMs} ms)`));
      return;
    }
    this.#inFlight = true;
    // One at a time, each until the lease would have expired without it (a
    // slow answer on a loaded machine still counts), at most the request timeout.
    const left = this.#ttlMs - (performance.now() - this.#lastOk);
    const deadline = Date.now() + Math.max(this.#ttlMs / 3, Math.min(this.#deadlineMs, left));
    this.#lease.keepaliveOnce({ deadline }).then(
      () => {
        this.#inFlight = false;
        this.#lastOk = performance.now();
      },
      () => {
        this.#inFlight = false;
      },
    );
  }

  #lose(err: unknown): void {
    if (this.#lost || this.#timer === undefined) return;
    this.#lost = true;
    this.stop();
    this.#onLost(err);
  }
}
