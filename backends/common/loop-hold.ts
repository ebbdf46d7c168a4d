/**
 * Whether a native-backed backend holds the event loop (native/LIFETIME.md §3
 * and §5): while it has work in flight (transfers, connects) its engine's
 * thread-safe function is ref'd, so the process waits for the completion
 * batch, and the backend stays reachable from a module-level set, so a
 * request's promise never outlives the objects that settle it. Idle, it holds
 * nothing.
 */
const busy = new Set<object>();

export interface RefCounted {
  ref(): void;
  unref(): void;
}

export class LoopHold {
  readonly #owner: object;
  readonly #engine: RefCounted;
  #count = 0;
  #closed = false;

  /** `owner`: what must stay reachable while work is in flight (the backend). */
  constructor(owner: object, engine: RefCounted) {
    this.#owner = owner;
    this.#engine = engine;
  }

  /** One more piece of work in flight. */
  up(): void {
    if (this.#count++ === 0) {
      if (!this.#closed) this.#engine.ref();
      busy.add(this.#owner);
    }
  }

  /** One piece of work settled. */
  down(): void {
    if (this.#count === 0) return; // closed meanwhile
    if (--this.#count === 0) {
      busy.delete(this.#owner);
      if (!this.#closed) this.#engine.unref();
    }
  }

  /** The engine is closed: nothing holds the loop any more. */
  close(): void {
    this.#closed = true;
    this.#count = 0;
    busy.delete(this.#owner);
  }
}
