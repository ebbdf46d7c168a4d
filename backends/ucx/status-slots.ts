/**
 * Status slots shared with the native engine: one Int32 per prepared transfer
 * in SharedArrayBuffer chunks. Native code stores the status (1 in progress,
 * 0 done, negative error) with release order; JavaScript reads it with
 * Atomics.load, so polling a transfer costs no call into native code.
 */
const CHUNK = 1024;

export interface Slot {
  readonly chunk: number;
  readonly index: number;
  readonly view: Int32Array;
}

export class StatusSlots {
  readonly #chunks: Int32Array[] = [];
  readonly #free: Slot[] = [];
  readonly #register: (chunk: Int32Array) => number;

  constructor(register: (chunk: Int32Array) => number) {
    this.#register = register;
  }

  alloc(): Slot {
    let s = this.#free.pop();
    if (!s) {
      const view = new Int32Array(new SharedArrayBuffer(CHUNK * 4));
      const chunk = this.#register(view);
      this.#chunks[chunk] = view;
      for (let i = CHUNK - 1; i > 0; i--) this.#free.push({ chunk, index: i, view });
      s = { chunk, index: 0, view };
    }
    return s;
  }

  free(s: Slot): void {
    this.#free.push(s);
  }
}
