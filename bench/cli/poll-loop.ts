import { setImmediate as nextTurn } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';

import type { XferRequest } from '../../src/index.js';
import type { LoopPlan } from './loop-types.js';

/** Status reads between two looks at the clock (a clock read costs about what a status read does). */
const ROUNDS_PER_CLOCK = 256;
/** After this long without a completion the loop lets the event loop run once (and again after as long). */
export const YIELD_AFTER_MS = 1;

/**
 * The timed loop as nixlbench runs it: post each depth slot, then read
 * getXferStatus of every slot in flight, round after round, reposting a slot
 * as soon as it reads DONE. No await per transfer: the status comes from a
 * slot the backend's native thread writes (TCP's engine thread, UCX's
 * progress thread; UCX in `progress=event` mode progresses inside the status
 * read), so DONE shows without the event loop turning.
 *
 * Bounded spin: every ROUNDS_PER_CLOCK rounds the loop reads the clock; after
 * YIELD_AFTER_MS without a completion it yields once (setImmediate), so
 * completion batches and engine events (which arrive on the event loop) are
 * taken and a backend that needed the loop would still progress; the yields
 * are counted per cell. Transfers that complete within a millisecond never
 * yield. A post that completes inside postXferReq (DONE) is counted at once.
 */
export async function pollLoop(plan: LoopPlan): Promise<void> {
  const { agent, slots, samples } = plan;
  const depth = slots.length;
  const reqs: (XferRequest | undefined)[] = [...slots];
  const inFlight = new Array<boolean>(depth).fill(false);
  const postStart = new Float64Array(depth);
  const iteration = new Int32Array(depth);
  let started = 0;
  // The loop's latest clock read (after each post, on each completion and
  // every ROUNDS_PER_CLOCK rounds): whether a new post may start is decided
  // on it, so starting costs no clock read of its own. It lags by at most
  // the bookkeeping since a post ended; nixlbench's loop has no such check.
  let lastNow = performance.now();

  const finish = (k: number, now: number): void => {
    inFlight[k] = false;
    if (samples) {
      samples.tx[iteration[k]!] = (now - postStart[k]!) * 1000;
      samples.count++;
    }
    if (plan.recreate) {
      reqs[k]!.release();
      reqs[k] = undefined;
    }
  };
  const post = (k: number): void => {
    if (plan.recreate || !reqs[k]) {
      const t0 = performance.now();
      reqs[k] = plan.prepare(k);
      if (samples) samples.prep.push((performance.now() - t0) * 1000);
    }
    const i = started++;
    iteration[k] = i;
    const t1 = performance.now();
    const state = agent.postXferReq(reqs[k]!);
    const t2 = performance.now();
    lastNow = t2;
    postStart[k] = t1;
    if (samples) samples.post[i] = (t2 - t1) * 1000;
    inFlight[k] = true;
    if (state === 'DONE') finish(k, t2);
  };
  const mayStart = (): boolean =>
    started < plan.iterations && (started === 0 || lastNow < plan.stopStartingAt);

  let rounds = 0;
  let quietSince = performance.now();
  try {
    for (;;) {
      let busy = false;
      for (let k = 0; k < depth; k++) {
        if (!inFlight[k] && mayStart()) {
          post(k);
          busy = true;
        }
        if (!inFlight[k]) continue;
        busy = true;
        // Throws the transfer's error if it failed.
        if (agent.getXferStatus(reqs[k]!) === 'DONE') {
          const now = performance.now();
          lastNow = now;
          finish(k, now);
          quietSince = now;
        }
      }
      if (!busy) break;
      if (++rounds % ROUNDS_PER_CLOCK !== 0) continue;
      const now = performance.now();
      lastNow = now;
      if (now > plan.failAt) throw plan.failure();
      if (now - quietSince >= YIELD_AFTER_MS) {
        await nextTurn();
        if (samples) samples.yields++;
        quietSince = lastNow = performance.now();
      }
    }
  } finally {
    // The caller releases what is left (a failed transfer's request too).
    for (let k = 0; k < depth; k++) slots[k] = reqs[k];
  }
}
