/**
 * The JavaScript half of an engine's status slots (native/common/status_slots.h):
 * one Int32 per prepared transfer, written by the engine's threads and read
 * here with plain loads, so that polling a transfer costs no native call.
 *
 * A slot goes to a new transfer only once it reads SLOT_FREE: the engine
 * writes that after it let go of the transfer released from it, so a released
 * transfer never settles into the slot of the one after it.
 */
import { Status } from '../../src/status.js';

/** No transfer holds the slot (kSlotFree in native/common/status_slots.h). */
export const SLOT_FREE = -1000;

/** One slot: its number (what the engine knows it by) and where it is read. */
export interface Slot {
  readonly index: number;
  readonly view: Int32Array;
  readonly at: number;
}

/** What the table needs of its engine. */
export interface SlotEngine {
  /** The next chunk of slots, all free, or undefined at the engine's cap. */
  growSlots(): Int32Array | undefined;
  /** Runs releases the engine still has queued (may wait for its current round). */
  runQueuedReleases(): void;
}

export class StatusSlots {
  readonly #engine: SlotEngine;
  /** Released slots, most recent last; those not free yet are set aside. */
  #free: Slot[] = [];
  #releasing: Slot[] = [];
  #size = 0;

  constructor(engine: SlotEngine) {
    this.#engine = engine;
  }

  /**
   * A free slot, or undefined when every slot the engine allows is held.
   * Released slots come first, then a new chunk; at the cap, the engine runs
   * its queued releases and the released slots are looked at once more.
   */
  take(): Slot | undefined {
    return this.#pop() ?? this.#popReleased() ?? this.#popGrown() ?? this.#popAfterReleases();
  }

  /**
   * The transfer the engine prepared in this slot is the slot's now: it reads
   * NOT_POSTED until the first post.
   */
  claim(s: Slot): void {
    s.view[s.at] = Status.ERR_NOT_POSTED;
  }

  /**
   * The slot's transfer was released (or its prep failed): the slot is
   * reused once it reads SLOT_FREE.
   */
  free(s: Slot): void {
    this.#free.push(s);
  }

  #pop(): Slot | undefined {
    for (let s = this.#free.pop(); s !== undefined; s = this.#free.pop()) {
      if (s.view[s.at] === SLOT_FREE) return s;
      this.#releasing.push(s);
    }
    return undefined;
  }

  /**
   * The slots set aside, looked at again (the engine has usually freed them
   * by now), the longest released first.
   */
  #popReleased(): Slot | undefined {
    if (this.#releasing.length === 0) return undefined;
    this.#free = this.#releasing;
    this.#releasing = [];
    return this.#pop();
  }

  #popGrown(): Slot | undefined {
    const view = this.#engine.growSlots();
    if (!view) return undefined;
    const base = this.#size;
    this.#size += view.length;
    for (let at = view.length - 1; at >= 0; at--) this.#free.push({ index: base + at, view, at });
    return this.#pop();
  }

  #popAfterReleases(): Slot | undefined {
    if (this.#releasing.length === 0) return undefined;
    this.#engine.runQueuedReleases();
    return this.#popReleased();
  }
}
