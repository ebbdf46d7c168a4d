import type { Agent, XferRequest } from '../../src/index.js';

/** Times of one cell's timed loop, in µs, by iteration (prep only with --recreate). */
export interface Samples {
  prep: number[];
  post: Float64Array;
  tx: Float64Array;
  /** Iterations that completed. */
  count: number;
  /** Times the poll loop let the event loop run (see poll-loop.ts); 0 when awaiting. */
  yields: number;
}

export function newSamples(iterations: number): Samples {
  return {
    prep: [],
    post: new Float64Array(iterations),
    tx: new Float64Array(iterations),
    count: 0,
    yields: 0,
  };
}

/** What a timed loop (poll-loop.ts or await-loop.ts) runs: `iterations` posts over depth slots. */
export interface LoopPlan {
  agent: Agent;
  /** One request per depth slot, reposted; empty slots (--recreate) are prepared per post. */
  slots: (XferRequest | undefined)[];
  prepare: (slot: number) => XferRequest;
  /** Prepare a new request for every post and release it once DONE. */
  recreate: boolean;
  iterations: number;
  /** No new post starts after this (performance.now() ms); those in flight finish. */
  stopStartingAt: number;
  /** Past this (performance.now() ms) the cell fails: a transfer hangs. */
  failAt: number;
  failure: () => Error;
  /** Where to record the times; undefined for the warm-up. */
  samples: Samples | undefined;
}
