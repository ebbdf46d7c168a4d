import { performance } from 'node:perf_hooks';

import type { LoopPlan } from './loop-types.js';

/**
 * The timed loop with `--wait await`: each depth slot posts, then awaits
 * req.wait() before it reposts: the request polls for up to the agent's
 * waitSpinUs (--wait-spin-us) when its recent posts were that fast, else the
 * completion batch's callback on the event loop resolves it (one event-loop
 * turn per transfer that does not complete inside postXferReq).
 */
export async function awaitLoop(plan: LoopPlan): Promise<void> {
  const { agent, slots, samples } = plan;
  const timeout = new AbortController();
  const timer = setTimeout(
    () => timeout.abort(plan.failure()),
    Math.max(0, plan.failAt - performance.now()),
  );
  let started = 0;
  const slotLoop = async (k: number): Promise<void> => {
    while (
      started < plan.iterations &&
      (started === 0 || performance.now() < plan.stopStartingAt)
    ) {
      const i = started++;
      let req = slots[k];
      if (plan.recreate || !req) {
        const t0 = performance.now();
        req = plan.prepare(k);
        if (samples) samples.prep.push((performance.now() - t0) * 1000);
      }
      slots[k] = req;
      const t1 = performance.now();
      const state = agent.postXferReq(req);
      const t2 = performance.now();
      if (state !== 'DONE') await req.wait({ signal: timeout.signal });
      const t3 = performance.now();
      if (samples) {
        samples.post[i] = (t2 - t1) * 1000;
        samples.tx[i] = (t3 - t1) * 1000;
        samples.count++;
      }
      if (plan.recreate) {
        req.release();
        slots[k] = undefined;
      }
      // A post that completed inside post() (DONE) awaited nothing: yield so
      // the other depth slots post too, or this one would run the whole cell
      // while theirs never move their bytes.
      if (state === 'DONE') await Promise.resolve();
    }
  };
  try {
    await Promise.all(
      Array.from({ length: Math.min(slots.length, Math.max(plan.iterations, 1)) }, (_, k) =>
        slotLoop(k),
      ),
    );
  } finally {
    clearTimeout(timer);
  }
}
