/**
 * Timers of every discovery in a process, aligned to one shared grid so that
 * they fire together. Each agent's membership keeps timers of its own (a
 * probe a second, mesh upkeep, anti-entropy, probe and suspicion timeouts),
 * jittered on purpose; with dozens of agents in a process (a benchmark, a
 * node running many workers) each one woke the idle event loop at its own
 * moment, and waking an idle process costs about 150 µs of CPU on a small
 * VM, more than most of the callbacks themselves. Here a timer's deadline is
 * rounded up to the next multiple of GRID_MS (of wall time), and all timers
 * due at the same grid point share one Node timer, hence one wake-up. The
 * loop-lag sampler ticks on the same grid, so an aligned timer adds no
 * wake-up of its own at all.
 *
 * A timer fires at most GRID_MS later than asked (never earlier than a plain
 * setTimeout would), and each callback stays its owner's: nothing is shared
 * but the moment. Timers here never keep the process alive.
 */

/** Grid step (ms): the most an aligned timer fires late by design. */
export const GRID_MS = 50;

interface Slot {
  due: number;
  callbacks: Set<() => void>;
  timer: ReturnType<typeof setTimeout>;
}

/** Handle for clearAlignedTimeout. */
export class AlignedTimer {
  constructor(
    readonly slot: Slot,
    readonly fn: () => void,
  ) {}
}

const slots = new Map<number, Slot>();

function fire(slot: Slot): void {
  slots.delete(slot.due);
  let failure: unknown;
  for (const fn of slot.callbacks) {
    try {
      fn();
    } catch (err) {
      // As a plain timer's would, the error escapes, but only after the other
      // owners' callbacks of this slot have run.
      failure ??= err;
    }
  }
  if (failure !== undefined) throw failure;
}

/** Runs `fn` at the first grid point at least `ms` from now (unref'd). */
export function setAlignedTimeout(fn: () => void, ms: number): AlignedTimer {
  const now = Date.now();
  const due = Math.ceil((now + Math.max(0, ms)) / GRID_MS) * GRID_MS;
  let slot = slots.get(due);
  if (!slot) {
    const created: Slot = {
      due,
      callbacks: new Set(),
      timer: setTimeout(() => fire(created), due - now),
    };
    created.timer.unref();
    slots.set(due, created);
    slot = created;
  }
  // A callback may be armed twice for one slot: wrap it so each handle is its own.
  const own = () => fn();
  slot.callbacks.add(own);
  return new AlignedTimer(slot, own);
}

/** Cancels an aligned timer (a no-op once it has fired). */
export function clearAlignedTimeout(handle: AlignedTimer | undefined): void {
  if (!handle) return;
  const { slot, fn } = handle;
  slot.callbacks.delete(fn);
  if (slot.callbacks.size === 0 && slots.get(slot.due) === slot) {
    clearTimeout(slot.timer);
    slots.delete(slot.due);
  }
}
