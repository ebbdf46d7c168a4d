/**
 * The JavaScript half of an engine's completion batches
 * (native/common/completion_batch.h): the backend's transfer handles by
 * status slot, the generation of each post, and what a batch does to them. A
 * settled post ends its hold on the event loop and calls the agent's
 * onSettled; notifications go to the agent in one call per batch; peer events
 * go to the backend.
 */
import type { BackendComponents, BackendXfer } from '../../src/backend.js';
import { CanceledError, statusToError, type NixlError } from '../../src/errors.js';
import { Status, type PostStatus, type StatusCode } from '../../src/status.js';
import type { LoopHold } from './loop-hold.js';
import type { NotifLinger } from './notif-linger.js';
import type { Slot } from './status-slots.js';

/** Peer event kinds in a batch (CompletionBatch::EventKind). */
export const PeerEvent = { CONNECTED: 1, CONNECT_FAILED: 2, DISCONNECTED: 3 } as const;

/** A batch as the engine's callback receives it (BatchToJs in completion_batch.h). */
export type CompletionBatch = [
  /** (slot, gen) pairs: every post that settled. */
  settled: Int32Array | undefined,
  /** [slot, gen, status, message, ...]: the posts among them that failed. */
  failures: (number | string)[] | undefined,
  /** [agent, message, ...]. */
  notifs: (string | Uint8Array)[] | undefined,
  /** [kind, id, status, message, ...]. */
  events: (number | string)[] | undefined,
];

export type BatchCallback = (...batch: CompletionBatch) => void;

/** A transfer handle of a native-backed backend: what settling it needs. */
export interface NativeXfer extends BackendXfer {
  readonly slot: Slot;
  readonly agent: string;
  /** The current post: a batch entry of an earlier post (or slot holder) is stale. */
  gen: number;
  /** Posted and not settled yet: it holds the event loop. */
  inFlight: boolean;
  /** The current post carries a notification. */
  notif: boolean;
  released: boolean;
  error?: NixlError;
}

export interface SettleDispatchOptions {
  readonly backend: string;
  readonly components: BackendComponents;
  readonly hold: LoopHold;
  readonly linger: NotifLinger;
  /** The batch pending now (the engine's takeBatch), for a failure read before its batch came. */
  takeBatch(): CompletionBatch | undefined;
  onEvent(kind: number, id: number, status: number, message: string): void;
}

export class SettleDispatch<H extends NativeXfer> {
  readonly #o: SettleDispatchOptions;
  readonly #handles: (H | undefined)[] = [];
  #nextGen = 1;
  #closed = false;

  constructor(opts: SettleDispatchOptions) {
    this.#o = opts;
  }

  /** prepXfer: the engine prepared `h` in its slot. */
  add(h: H): void {
    this.#handles[h.slot.index] = h;
  }

  /** postXfer, before the engine's post: the slot reads IN_PROG. Returns the post's generation. */
  begin(h: H, notif: boolean): number {
    h.error = undefined;
    h.notif = notif;
    h.gen = this.#nextGen;
    this.#nextGen = (this.#nextGen + 1) >>> 0 || 1;
    h.slot.view[h.slot.at] = Status.IN_PROG;
    return h.gen;
  }

  /**
   * postXfer, after the engine's post returned. SUCCESS in the slot is this
   * post's own (it was IN_PROG above and belongs to this handle alone): the
   * post settled inside the call, and a batch entry for it, if any, finds it
   * settled. Otherwise it is in flight and holds the event loop until it settles.
   */
  posted(h: H): PostStatus {
    if (h.slot.view[h.slot.at] === Status.SUCCESS) {
      // inFlight here: an earlier post whose batch has not come (it was read DONE).
      if (h.inFlight) this.#settle(h);
      else if (h.notif) this.#o.linger.extend();
      return Status.SUCCESS;
    }
    if (!h.inFlight) {
      h.inFlight = true;
      this.#o.hold.up();
    }
    return Status.IN_PROG;
  }

  /**
   * A poll's native progress call completed the current post successfully
   * (its slot reads SUCCESS) and queued no batch entry for it: it settles here.
   */
  settledInCall(h: H): void {
    if (h.inFlight) this.#settle(h);
  }

  /** postXfer, the engine's post threw: nothing is in flight. */
  abort(h: H): void {
    h.slot.view[h.slot.at] = Status.ERR_NOT_POSTED;
    if (h.inFlight) {
      h.inFlight = false;
      this.#o.hold.down();
    }
  }

  /** checkXfer: the slot, read without a native call; a failure brings its error. */
  status(h: H): StatusCode {
    if (h.released) return (h.error?.status ?? Status.ERR_CANCELED) as StatusCode;
    const s = h.slot.view[h.slot.at]! as StatusCode;
    // Read DONE before its batch came: it settles now (the batch entry finds
    // it settled), so a notification it carried keeps the event loop alive a
    // little (NotifLinger) even when its caller releases it at once, as
    // agent.write() does: the target's batch, published before this DONE,
    // may still be on its way to an agent of this process.
    if (s === Status.SUCCESS && h.inFlight) this.#settle(h);
    if (s >= 0 || s === Status.ERR_NOT_POSTED || h.error) return s;
    // Failed, and its batch (with the engine's message) has not come: take it now.
    const b = this.#closed ? undefined : this.#o.takeBatch();
    if (b) this.onBatch(b[0], b[1], b[2], b[3]);
    h.error ??= statusToError(s, 'transfer failed', this.#ctx(h));
    return s;
  }

  /** releaseXfer: false if released already. A post in flight ends canceled. */
  remove(h: H): boolean {
    if (h.released) return false;
    h.released = true;
    if (h.inFlight) {
      h.inFlight = false;
      h.error = new CanceledError('released while in flight', { backend: this.#o.backend });
      this.#o.hold.down();
    }
    this.#handles[h.slot.index] = undefined;
    return true;
  }

  /** Posts in flight whose slot still reads IN_PROG. */
  inProgress(): boolean {
    for (const h of this.#handles) {
      if (h?.inFlight && h.slot.view[h.slot.at] === Status.IN_PROG) return true;
    }
    return false;
  }

  /**
   * close(), once the engine is closed (nothing writes the slots any more):
   * every post in flight settles with what its slot says, ERR_CANCELED where
   * it was still in progress.
   */
  close(message: string): void {
    this.#closed = true;
    this.#o.hold.close();
    this.#o.linger.stop();
    for (const h of this.#handles) {
      if (!h?.inFlight) continue;
      h.inFlight = false;
      const { view, at } = h.slot;
      if (view[at] === Status.IN_PROG) view[at] = Status.ERR_CANCELED;
      const s = view[at]!;
      if (s < 0) h.error ??= statusToError(s, message, this.#ctx(h));
      h.onSettled?.();
    }
  }

  /** The engine's batch (the four parts of a CompletionBatch). */
  onBatch(
    settled: CompletionBatch[0],
    failures: CompletionBatch[1],
    notifs: CompletionBatch[2],
    events: CompletionBatch[3],
  ): void {
    if (this.#closed) return;
    if (failures) {
      for (let i = 0; i < failures.length; i += 4) {
        const h = this.#handles[failures[i] as number];
        if (h && h.gen === failures[i + 1]) {
          h.error = statusToError(
            failures[i + 2] as number,
            failures[i + 3] as string,
            this.#ctx(h),
          );
        }
      }
    }
    if (settled) {
      for (let i = 0; i < settled.length; i += 2) {
        const h = this.#handles[settled[i]!];
        if (!h || !h.inFlight || h.gen !== settled[i + 1]! >>> 0) continue;
        this.#settle(h);
        h.onSettled?.();
      }
    }
    if (notifs) {
      const batch: { agent: string; msg: Uint8Array }[] = [];
      for (let i = 0; i < notifs.length; i += 2) {
        batch.push({ agent: notifs[i] as string, msg: notifs[i + 1] as Uint8Array });
      }
      this.#o.components.onNotifs(batch);
    }
    if (events) {
      for (let i = 0; i < events.length; i += 4) {
        this.#o.onEvent(
          events[i] as number,
          events[i + 1] as number,
          events[i + 2] as number,
          events[i + 3] as string,
        );
      }
    }
  }

  #settle(h: H): void {
    h.inFlight = false;
    this.#o.hold.down();
    if (h.notif) this.#o.linger.extend();
  }

  #ctx(h: H): { backend: string; agent: string } {
    return { backend: this.#o.backend, agent: h.agent };
  }
}
