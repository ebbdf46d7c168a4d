/**
 * How busy this thread's event loop has been lately: the share of the last
 * half second to second it spent running callbacks rather than waiting for
 * I/O (`performance.eventLoopUtilization()`). Timer lag (loop-lag.ts) misses a
 * loop saturated by many short tasks, such as a cluster start with dozens of
 * agents in one process, where every tick runs a little late but none stalls;
 * utilisation sees it. The membership widens its gossip batches while it is
 * high (membership.ts, scheduleFlush).
 *
 * Sampled on demand, never by a timer of its own: a reading keeps two
 * snapshots and rotates them once the newer is WINDOW_MS old, so the share
 * covers between WINDOW_MS and about twice that while readings come often,
 * and the whole quiet spell since the last reading when they do not (a loop
 * that idled reads as idle); the first readings cover the time since this
 * module was loaded. One per thread, shared by every discovery on it.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** The shortest span a reading covers (ms). */
const WINDOW_MS = 500;

let older: EventLoopUtilization = performance.eventLoopUtilization();
let newer = older;
let newerAt = performance.now();

/** The share (0..1) of the last WINDOW_MS to ~2 × WINDOW_MS this thread's event loop was busy. */
export function loopUtilisation(): number {
  const now = performance.now();
  const current = performance.eventLoopUtilization();
  if (now - newerAt >= WINDOW_MS) {
    older = newer;
    newer = current;
    newerAt = now;
  }
  return performance.eventLoopUtilization(current, older).utilization;
}
