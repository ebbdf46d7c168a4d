import { checkNotifSize, maxNotifBytes } from './backend.js';
import type { Backend, BackendXfer, XferOp } from './backend.js';
import { BackendError, CanceledError, NotPostedError, NixlError, statusToError } from './errors.js';
import { describeStatus, isStatusCode, Status, type PostStatus, type XferState } from './status.js';
import {
  xferDoneChannel,
  xferErrorChannel,
  xferEvent,
  xferPostChannel,
  type XferObserver,
} from './xfer-observer.js';

/** The agent-side hooks a request needs; implemented by Agent. */
export interface XferOwner {
  readonly agentName: string;
  /** The agent's metrics, told of every completion; undefined when off. */
  readonly observer: XferObserver | undefined;
  /** Throws if the request can't be posted now (agent closed, peer gone or reloaded). */
  checkPostable(req: XferRequest): void;
  /** Called once when a post ends in an error (e.g. to drop a disconnected peer). */
  onXferError(req: XferRequest, err: NixlError): void;
  /** Called by release so the agent forgets the request. */
  forget(req: XferRequest): void;
  /** AgentOptions.waitSpinUs: how long wait() may poll before it awaits the completion event. */
  readonly waitSpinUs: number;
}

/** Per-request timings (NIXL's getXferTelemetry), in microseconds. */
export interface XferTelemetry {
  /** When the last post started, on the performance.now() clock (µs). */
  startTime: number;
  /** Time spent inside postXferReq. */
  postDuration: number;
  /** From the start of the post to completion. */
  xferDuration: number;
  totalBytes: number;
  descCount: number;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * A transfer request (NIXL's xfer handle): created once, posted any number of
 * times (one post active at a time), released when no longer needed.
 */
export class XferRequest {
  readonly op: XferOp;
  /** The target agent (this agent's own name for loopback). */
  readonly remoteAgent: string;
  readonly backend: Backend;
  /** The remote section generation this request was made against. */
  readonly generation: number;
  readonly descCount: number;
  readonly totalBytes: number;
  readonly #handle: BackendXfer;
  readonly #owner: XferOwner;
  #state: XferState | 'ERROR' = 'NOT_POSTED';
  #error: NixlError | undefined;
  #notif: Uint8Array | undefined;
  #released = false;
  #waiters: Waiter[] = [];
  /** Set when the agent captures telemetry: [start, end of post, completion] in ms. */
  #times: Float64Array | undefined;
  /** When the current post started (performance.now(), ms). */
  #postStart = 0;
  /** How long recent posts took until seen DONE (ms, moving average); Infinity before the first. */
  #recentMs = Infinity;

  constructor(
    owner: XferOwner,
    op: XferOp,
    remoteAgent: string,
    backend: Backend,
    handle: BackendXfer,
    generation: number,
    descCount: number,
    totalBytes: number,
    notif: Uint8Array | undefined,
  ) {
    this.#owner = owner;
    this.op = op;
    this.remoteAgent = remoteAgent;
    this.backend = backend;
    this.#handle = handle;
    this.generation = generation;
    this.descCount = descCount;
    this.totalBytes = totalBytes;
    this.#notif = notif;
    handle.onSettled = () => this.#refresh();
  }

  /** Turns on timing capture for this request (the agent's captureTelemetry). */
  captureTelemetry(): void {
    this.#times ??= new Float64Array(3);
  }

  /** Timings of the last completed post, or undefined when not captured or not complete. */
  telemetry(): XferTelemetry | undefined {
    const t = this.#times;
    if (!t || this.#state !== 'DONE' || t[2] === 0) return undefined;
    return {
      startTime: t[0]! * 1000,
      postDuration: (t[1]! - t[0]!) * 1000,
      xferDuration: (t[2]! - t[0]!) * 1000,
      totalBytes: this.totalBytes,
      descCount: this.descCount,
    };
  }

  get released(): boolean {
    return this.#released;
  }

  get notif(): Uint8Array | undefined {
    return this.#notif;
  }

  /**
   * Replaces (or with null clears) the notification sent by the next post.
   * One over the backend's maxNotifBytes is refused (InvalidParamError) and
   * the request keeps its notification.
   */
  setNotif(notif: Uint8Array | null | undefined): void {
    if (notif)
      checkNotifSize(notif, maxNotifBytes(this.backend), {
        op: 'setNotif',
        backend: this.backend.type,
      });
    if (notif !== undefined) this.#notif = notif ?? undefined;
  }

  /** Starts the transfer; see Agent.postXferReq. */
  post(): XferState {
    this.#owner.checkPostable(this);
    this.#error = undefined;
    this.#state = 'IN_PROG';
    const start = performance.now();
    this.#postStart = start;
    // Timings are taken when telemetry, metrics or a tracer wants them.
    if (this.#owner.observer !== undefined || xferDoneChannel.hasSubscribers)
      this.#times ??= new Float64Array(3);
    const t = this.#times;
    if (t) {
      t[0] = start;
      t[1] = t[2] = 0;
    }
    if (xferPostChannel.hasSubscribers)
      xferPostChannel.publish(xferEvent(this.#owner.agentName, this));
    let s: PostStatus;
    try {
      s = this.backend.postXfer(this.#handle, this.#notif);
    } catch (err) {
      this.#state = 'NOT_POSTED';
      // A peer found gone at post time is dropped, as for a transfer that failed.
      if (err instanceof NixlError) {
        this.#owner.onXferError(this, err);
        this.#report(err);
      }
      throw err;
    }
    if (t && t[1] === 0) t[1] = performance.now();
    if (s === Status.SUCCESS) this.#finish(undefined);
    else if (s !== Status.IN_PROG) {
      this.#finish(
        this.#invalid('postXfer', s, 'SUCCESS (0) or IN_PROG (1); a post that cannot start throws'),
      );
    }
    const state = this.#state as XferState | 'ERROR';
    return state === 'ERROR' ? this.#throw() : state;
  }

  /** The current state; a failed post throws its error. Cheap: no native call. */
  status(): XferState {
    if (this.#state === 'IN_PROG') this.#refresh();
    if (this.#state === 'ERROR') return this.#throw();
    return this.#state as XferState;
  }

  /** True while a post is in flight. */
  get active(): boolean {
    if (this.#state === 'IN_PROG') this.#refresh();
    return this.#state === 'IN_PROG';
  }

  /** Resolves when the current post is DONE; rejects with its error. */
  get done(): Promise<void> {
    return this.wait();
  }

  wait(opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#state === 'IN_PROG') this.#refresh();
    if (this.#state === 'DONE') return Promise.resolve();
    if (this.#state === 'ERROR') return Promise.reject(this.#error);
    if (this.#released)
      return Promise.reject(new CanceledError('the request was released', { op: 'wait' }));
    if (this.#state === 'NOT_POSTED') {
      return Promise.reject(
        new NotPostedError('the request has not been posted', {
          op: 'wait',
          backend: this.backend.type,
        }),
      );
    }
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#spinUntilDone()) {
      const state = this.#state as XferState | 'ERROR'; // the polls may have finished it
      if (state === 'DONE') return Promise.resolve();
      if (state === 'ERROR') return Promise.reject(this.#error);
    } else {
      // Not polling: an answer the backend left to its poller (TCP's
      // busy_poll_us) goes back to the backend's own thread now.
      this.backend.stopPolling?.(this.#handle);
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      if (signal) {
        const onAbort = () => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiter.resolve = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        waiter.reject = (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        };
      }
      this.#waiters.push(waiter);
    });
  }

  /** Frees the request, aborting a post in flight. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.backend.releaseXfer(this.#handle);
    if (this.#state === 'IN_PROG')
      this.#finish(
        new CanceledError('the request was released while in flight', { op: 'releaseXferReq' }),
      );
    this.#owner.forget(this);
  }

  [Symbol.dispose](): void {
    this.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }

  /**
   * A request whose recent posts finished within waitSpinUs polls its status
   * here until waitSpinUs after the post before wait() falls back to the
   * completion event: the answer of a small transfer is then read by this
   * thread (as nixlbench's loop reads it) instead of waking the backend's
   * thread and then this one, which costs about as much as the transfer.
   * Giving up tells the backend (stopPolling), so the answer is not left to
   * a poller that has gone. True when it polled.
   */
  #spinUntilDone(): boolean {
    const capMs = this.#owner.waitSpinUs / 1000;
    if (capMs === 0 || !(this.#recentMs <= capMs)) return false;
    const until = this.#postStart + capMs;
    while (this.#state === 'IN_PROG' && !this.#released) {
      this.#refresh();
      if (performance.now() > until) {
        if (this.#state === 'IN_PROG' && !this.#released) this.backend.stopPolling?.(this.#handle);
        break;
      }
    }
    return true;
  }

  #refresh(): void {
    if (this.#state !== 'IN_PROG' || this.#released) return;
    const s = this.backend.checkXfer(this.#handle);
    // The poll may have settled this request itself (a batch it delivered).
    if (s === Status.IN_PROG || this.#state !== 'IN_PROG') return;
    if (s === Status.SUCCESS) this.#finish(undefined);
    else if (isStatusCode(s)) {
      this.#finish(
        this.#handle.error ??
          statusToError(s, `the transfer failed with status ${describeStatus(s)}`, {
            op: 'getXferStatus',
            backend: this.backend.type,
          }),
      );
    } else this.#finish(this.#invalid('checkXfer', s, 'a status code'));
  }

  /** A plugin broke the contract: the value it returned is not what the method may return. */
  #invalid(method: 'postXfer' | 'checkXfer', value: unknown, want: string): NixlError {
    return new BackendError(`${method} returned ${describeStatus(value)}, not ${want}`, {
      op: method === 'postXfer' ? 'postXferReq' : 'getXferStatus',
      backend: this.backend.type,
      cause: this.#handle.error,
    });
  }

  #finish(err: NixlError | undefined): void {
    this.#state = err ? 'ERROR' : 'DONE';
    const end = performance.now();
    if (!err) {
      // Clamped: one stall (a preempted thread) must not stop the polls for
      // the many posts after it, while a request that is slow every time
      // still climbs over the limit within a few posts.
      const took = Math.min(end - this.#postStart, (2 * this.#owner.waitSpinUs) / 1000);
      this.#recentMs = this.#recentMs === Infinity ? took : 0.75 * this.#recentMs + 0.25 * took;
    }
    const t = this.#times;
    if (t) {
      t[2] = end;
      // Completed inside postXfer: the post ended at completion.
      if (t[1] === 0) t[1] = t[2];
    }
    this.#error = err;
    this.#report(err);
    // A fresh array only when someone waited: most completions have no
    // waiter, and the hot path allocates nothing (DESIGN.md rule 2).
    const waiters = this.#waiters;
    if (waiters.length > 0) this.#waiters = [];
    if (err) {
      if (!this.#released) this.#owner.onXferError(this, err);
      for (const w of waiters) w.reject(err);
    } else {
      for (const w of waiters) w.resolve();
    }
  }

  /** Tells the observer (metrics) and tracers how the post ended. */
  #report(err: NixlError | undefined): void {
    const obs = this.#owner.observer;
    if (err) {
      obs?.xferError(this, err);
      if (xferErrorChannel.hasSubscribers)
        xferErrorChannel.publish({ ...xferEvent(this.#owner.agentName, this), error: err });
      return;
    }
    const t = this.#times;
    if (!t || (obs === undefined && !xferDoneChannel.hasSubscribers)) return;
    const postUs = (t[1]! - t[0]!) * 1000;
    const xferUs = (t[2]! - t[0]!) * 1000;
    obs?.xferDone(this, postUs, xferUs);
    if (xferDoneChannel.hasSubscribers)
      xferDoneChannel.publish({
        ...xferEvent(this.#owner.agentName, this),
        postTime: postUs,
        xferTime: xferUs,
      });
  }

  #throw(): never {
    throw this.#error;
  }
}
