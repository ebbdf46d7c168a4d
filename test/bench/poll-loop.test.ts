import { performance } from 'node:perf_hooks';

import { describe, expect, it } from 'vitest';

import { newSamples, type LoopPlan } from '../../bench/cli/loop-types.js';
import { pollLoop } from '../../bench/cli/poll-loop.js';
import type { Agent, XferRequest } from '../../src/index.js';

/** A request of the fake agent: how many posts and status reads it saw. */
interface FakeReq {
  posts: number;
  reads: number;
  released: boolean;
}

/**
 * An agent whose transfers complete as `complete` says: after some status
 * reads, inside the post, only once the event loop turned, or never.
 */
function fakeAgent(complete: (r: FakeReq) => 'post' | boolean) {
  return {
    postXferReq(r: FakeReq) {
      r.posts++;
      r.reads = 0;
      return complete(r) === 'post' ? 'DONE' : 'IN_PROG';
    },
    getXferStatus(r: FakeReq) {
      r.reads++;
      return complete(r) === true ? 'DONE' : 'IN_PROG';
    },
  };
}

function plan(
  agent: ReturnType<typeof fakeAgent>,
  opts: { depth: number; iterations: number; recreate?: boolean; failInMs?: number },
): LoopPlan & { made: FakeReq[] } {
  const made: FakeReq[] = [];
  const prepare = () => {
    const r: FakeReq = { posts: 0, reads: 0, released: false };
    made.push(r);
    // release() as XferRequest has it.
    return Object.assign(r, { release: () => void (r.released = true) });
  };
  const recreate = opts.recreate ?? false;
  return {
    made,
    agent: agent as unknown as Agent,
    slots: Array.from({ length: opts.depth }, () =>
      recreate ? undefined : (prepare() as unknown as XferRequest),
    ),
    prepare: prepare as unknown as (slot: number) => XferRequest,
    recreate,
    iterations: opts.iterations,
    stopStartingAt: performance.now() + 10_000,
    failAt: performance.now() + (opts.failInMs ?? 10_000),
    failure: () => new Error('cell timed out'),
    samples: newSamples(opts.iterations),
  };
}

describe('the poll loop (nixlbench: post, then read getXferStatus until DONE)', () => {
  it('reposts each depth slot as soon as its status reads DONE, recording every iteration', async () => {
    const p = plan(
      fakeAgent((r) => r.reads >= 3),
      { depth: 2, iterations: 10 },
    );
    await pollLoop(p);
    const s = p.samples!;
    expect(s.count).toBe(10);
    expect(p.made.map((r) => r.posts)).toEqual([5, 5]);
    for (let i = 0; i < 10; i++) expect(s.tx[i]).toBeGreaterThanOrEqual(s.post[i]!);
    // Nothing waited a millisecond: no turn of the event loop was needed.
    expect(s.yields).toBe(0);
    expect(s.prep).toHaveLength(0);
    // The requests are handed back for the caller to release.
    expect(p.slots).toEqual(p.made);
  });

  it('counts a post that completes inside postXferReq at once, without reading its status', async () => {
    const p = plan(
      fakeAgent(() => 'post'),
      { depth: 1, iterations: 7 },
    );
    await pollLoop(p);
    expect(p.samples!.count).toBe(7);
    expect(p.made[0]!.posts).toBe(7);
    expect(p.made[0]!.reads).toBe(0);
  });

  it('yields to the event loop after 1 ms without a completion, so a backend that needs it still completes', async () => {
    let turned = false;
    const p = plan(
      fakeAgent(() => turned),
      { depth: 1, iterations: 3 },
    );
    // Completes only once the event loop has run (a callback sets the flag), then resets.
    const agent = p.agent as unknown as ReturnType<typeof fakeAgent>;
    const post = agent.postXferReq;
    agent.postXferReq = (r) => {
      turned = false;
      setImmediate(() => (turned = true));
      return post(r);
    };
    await pollLoop(p);
    expect(p.samples!.count).toBe(3);
    // Each transfer completed only after a yield (no bound on its time: the
    // 1 ms counts from the last completion, and a loaded machine can preempt
    // the loop between that and the next post).
    expect(p.samples!.yields).toBeGreaterThanOrEqual(3);
  });

  it('fails the cell when a transfer never completes, and hands its request back', async () => {
    const p = plan(
      fakeAgent(() => false),
      { depth: 1, iterations: 5, failInMs: 30 },
    );
    await expect(pollLoop(p)).rejects.toThrow('cell timed out');
    expect(p.slots).toEqual(p.made);
  });

  it('passes a failed transfer on (getXferStatus throws its error)', async () => {
    const agent = fakeAgent(() => false);
    agent.getXferStatus = () => {
      throw new Error('RemoteDisconnectError: peer gone');
    };
    const p = plan(agent, { depth: 2, iterations: 5 });
    await expect(pollLoop(p)).rejects.toThrow('peer gone');
    expect(p.slots).toEqual(p.made);
  });

  it('with --recreate prepares a request per post (timed) and releases each once DONE', async () => {
    const p = plan(
      fakeAgent((r) => r.reads >= 1),
      { depth: 2, iterations: 6, recreate: true },
    );
    await pollLoop(p);
    expect(p.samples!.count).toBe(6);
    expect(p.made).toHaveLength(6);
    expect(p.made.every((r) => r.posts === 1 && r.released)).toBe(true);
    expect(p.samples!.prep).toHaveLength(6);
    expect(p.slots).toEqual([undefined, undefined]);
  });

  it('stops starting posts after stopStartingAt, lets those in flight finish, and counts only those', async () => {
    const p = plan(
      fakeAgent((r) => r.reads >= 2),
      { depth: 2, iterations: 1000 },
    );
    p.stopStartingAt = performance.now() - 1;
    await pollLoop(p);
    // The first post always starts; then the clock says stop.
    expect(p.samples!.count).toBe(1);
  });
});
