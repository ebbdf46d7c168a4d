/**
 * The process-wide timer grid of the gossip discovery (aligned-timers.ts) and
 * the loop-lag sampler that ticks on it: timers are never early, at most a
 * grid step late (with a generous margin for a loaded machine), share
 * wake-ups, and can be cancelled; the sampler still sees a stall.
 */
import { describe, expect, it } from 'vitest';

import {
  clearAlignedTimeout,
  GRID_MS,
  setAlignedTimeout,
} from '../../plugins/gossip/aligned-timers.js';
import { watchLoopLag } from '../../plugins/gossip/loop-lag.js';

/** A fresh event-loop turn: Node counts a timer from the loop's cached time. */
const nextTurn = () => new Promise<void>((r) => setImmediate(r));

describe('aligned timers', () => {
  it('fire no earlier than asked, shortly after, and many in one wake-up', async () => {
    await nextTurn();
    const count = 200;
    let batches = 0;
    let inBatch = false;
    const lateness: number[] = [];
    const start = Date.now();
    await Promise.all(
      Array.from({ length: count }, (_, i) => {
        const ms = 200 + ((i * 37) % 600);
        return new Promise<void>((resolve) =>
          setAlignedTimeout(() => {
            // Callbacks that run without a microtask checkpoint between them
            // ran in one Node timer callback: one wake-up.
            if (!inBatch) {
              inBatch = true;
              batches++;
              queueMicrotask(() => (inBatch = false));
            }
            lateness.push(Date.now() - start - ms);
            resolve();
          }, ms),
        );
      }),
    );
    expect(lateness.length).toBe(count);
    // Never early (1 ms: Date.now's granularity against the loop's clock).
    expect(Math.min(...lateness)).toBeGreaterThanOrEqual(-1);
    // Late by the grid step at most, plus whatever a loaded machine adds.
    expect(Math.max(...lateness)).toBeLessThan(GRID_MS + 1000);
    // 200 deadlines over 600 ms share at most one wake-up per grid point.
    expect(batches).toBeLessThanOrEqual(600 / GRID_MS + 2);
  });

  it('can be cancelled, alone or with the rest of its grid point', async () => {
    await nextTurn();
    const fired: string[] = [];
    const a = setAlignedTimeout(() => fired.push('a'), 220);
    const b = setAlignedTimeout(() => fired.push('b'), 220);
    const c = setAlignedTimeout(() => fired.push('c'), 420);
    clearAlignedTimeout(a);
    clearAlignedTimeout(c);
    clearAlignedTimeout(c);
    await new Promise((r) => setTimeout(r, 600));
    expect(fired).toEqual(['b']);
    clearAlignedTimeout(b); // after it fired: a no-op
  });

  it('run each callback armed twice for one grid point twice', async () => {
    let runs = 0;
    const fn = () => runs++;
    const h1 = setAlignedTimeout(fn, 200);
    setAlignedTimeout(fn, 200);
    clearAlignedTimeout(h1);
    setAlignedTimeout(fn, 200);
    await new Promise((r) => setTimeout(r, 400));
    expect(runs).toBe(2);
  });
});

describe('loop-lag sampler on the grid', () => {
  it('sees a stall of the event loop, and nothing without one', async () => {
    const lag = watchLoopLag();
    try {
      await new Promise((r) => setTimeout(r, 300));
      const before = Date.now();
      // Quiet loop: ticks come on time (a loaded machine may add some).
      expect(lag.since(before - 200)).toBeLessThan(250);
      const busyUntil = Date.now() + 500;
      while (Date.now() < busyUntil) {
        // a stall of 500 ms
      }
      await new Promise((r) => setTimeout(r, 120));
      expect(lag.since(before)).toBeGreaterThanOrEqual(400);
    } finally {
      lag.stop();
    }
  });
});
