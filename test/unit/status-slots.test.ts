/**
 * The JavaScript half of the status slots (backends/common/status-slots.ts)
 * against a stand-in engine: a slot goes to a new transfer only once the
 * engine wrote SLOT_FREE into it; the table grows by the engine's chunks up to
 * its cap, and at the cap the engine's queued releases run.
 */
import { describe, expect, it } from 'vitest';

import { SLOT_FREE, StatusSlots, type Slot } from '../../backends/common/status-slots.js';
import { Status } from '../../src/status.js';

/** Chunks of `chunk` slots up to `cap`; releases queue until run. */
function fakeEngine(chunk: number, cap: number) {
  const views: Int32Array[] = [];
  let size = 0;
  const queued: Slot[] = [];
  const engine = {
    grown: 0,
    releasesRun: 0,
    growSlots(): Int32Array | undefined {
      if (size >= cap) return undefined;
      const view = new Int32Array(Math.min(chunk, cap - size)).fill(SLOT_FREE);
      size += view.length;
      views.push(view);
      engine.grown++;
      return view;
    },
    runQueuedReleases(): void {
      engine.releasesRun++;
      for (const s of queued.splice(0)) s.view[s.at] = SLOT_FREE;
    },
    /** The engine let go of the slot at once (UCX), or later (TCP: queue it). */
    release(s: Slot, now: boolean): void {
      if (now) s.view[s.at] = SLOT_FREE;
      else queued.push(s);
    },
  };
  return engine;
}

describe('status slots', () => {
  it('numbers slots across chunks, claims them NOT_POSTED, and grows only when none is free', () => {
    const engine = fakeEngine(4, 100);
    const slots = new StatusSlots(engine);
    const taken = Array.from({ length: 6 }, () => slots.take()!);
    expect(taken.map((s) => s.index).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(engine.grown).toBe(2);
    for (const s of taken) {
      expect(s.view[s.at]).toBe(SLOT_FREE);
      slots.claim(s);
      expect(s.view[s.at]).toBe(Status.ERR_NOT_POSTED);
    }
    // Released and freed by the engine: reused before any new chunk.
    engine.release(taken[0]!, true);
    slots.free(taken[0]!);
    expect(slots.take()).toBe(taken[0]);
    expect(engine.grown).toBe(2);
  });

  it('never hands out a slot the engine has not freed yet', () => {
    const engine = fakeEngine(2, 100);
    const slots = new StatusSlots(engine);
    const a = slots.take()!;
    const b = slots.take()!;
    slots.claim(a);
    slots.claim(b);
    a.view[a.at] = Status.IN_PROG; // released in flight: its release is still queued
    engine.release(a, false);
    slots.free(a);
    const c = slots.take()!;
    expect(c).not.toBe(a);
    expect(c).not.toBe(b);
    // Once the engine ran the release, the slot set aside comes back (after
    // the rest of the new chunk).
    engine.runQueuedReleases();
    expect(slots.take()!.index).toBe(3);
    expect(slots.take()).toBe(a);
  });

  it('at the cap, runs the queued releases; undefined when every slot is held', () => {
    const engine = fakeEngine(1024, 3);
    const slots = new StatusSlots(engine);
    const all = [slots.take()!, slots.take()!, slots.take()!];
    for (const s of all) slots.claim(s);
    expect(slots.take()).toBeUndefined();
    expect(engine.releasesRun).toBe(0); // nothing released: nothing to run
    engine.release(all[1]!, false);
    slots.free(all[1]!);
    expect(slots.take()).toBe(all[1]);
    expect(engine.releasesRun).toBe(1);
    expect(engine.grown).toBe(1);
  });
});
