/**
 * waitForPeer ends with a NixlError that names the peer and how long it
 * waited: NotFoundError when the signal timed out (AbortSignal.timeout),
 * CanceledError on any other abort; the abort reason is the error's cause.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { CanceledError, NixlError, NotFoundError } from '../../src/errors.js';

let agent: Agent;
beforeEach(async () => {
  agent = await Agent.create({ name: 'waiter', backends: ['LOCAL'] });
});
afterEach(async () => {
  await agent.close();
});

async function rejection(p: Promise<unknown>): Promise<NixlError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NixlError);
  return err as NixlError;
}

function waitedMs(err: Error): number {
  const m = /after (\d+) ms|within (\d+) ms/.exec(err.message);
  expect(m).not.toBeNull();
  return Number(m![1] ?? m![2]);
}

describe('waitForPeer', () => {
  it('a timed-out signal ends in NotFoundError naming the peer and the time waited', async () => {
    const signal = AbortSignal.timeout(50);
    const err = await rejection(agent.waitForPeer('prefill-0', { signal }));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.code).toBe('NIXL_ERR_NOT_FOUND');
    expect(err.op).toBe('waitForPeer');
    expect(err.message).toContain("peer 'prefill-0'");
    expect(err.message).toMatch(/timed out/);
    expect(waitedMs(err)).toBeGreaterThanOrEqual(40);
    expect(err.cause).toBe(signal.reason);
    expect((err.cause as DOMException).name).toBe('TimeoutError');
  });

  it('an abort ends in CanceledError with the reason as cause', async () => {
    const ac = new AbortController();
    const p = agent.waitForPeer('decode-1', { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 20));
    const reason = new Error('shutting down');
    ac.abort(reason);
    const err = await rejection(p);
    expect(err).toBeInstanceOf(CanceledError);
    expect(err.code).toBe('NIXL_ERR_CANCELED');
    expect(err.cause).toBe(reason);
    expect(err.message).toContain("peer 'decode-1'");
    expect(waitedMs(err)).toBeGreaterThanOrEqual(10);

    // abort() without a reason: the cause is the AbortError DOMException.
    const ac2 = new AbortController();
    const p2 = agent.waitForPeer('decode-2', { signal: ac2.signal });
    ac2.abort();
    const err2 = await rejection(p2);
    expect(err2).toBeInstanceOf(CanceledError);
    expect(err2.cause).toBe(ac2.signal.reason);
    expect((err2.cause as DOMException).name).toBe('AbortError');
  });

  it('an already aborted signal rejects at once, after 0 ms', async () => {
    const reason = new Error('too late');
    const err = await rejection(agent.waitForPeer('ghost', { signal: AbortSignal.abort(reason) }));
    expect(err).toBeInstanceOf(CanceledError);
    expect(err.cause).toBe(reason);
    expect(err.message).toContain("peer 'ghost'");
    expect(waitedMs(err)).toBe(0);
  });

  it('AbortSignal.any with a timeout still counts as a timeout', async () => {
    const ac = new AbortController();
    const signal = AbortSignal.any([ac.signal, AbortSignal.timeout(20)]);
    const err = await rejection(agent.waitForPeer('slow', { signal }));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toContain("peer 'slow'");
  });
});
