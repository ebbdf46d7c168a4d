// The TCP engine's I/O thread lingering after a completion (param linger_us,
// Engine::Linger in native/tcp/engine.cc): a caller that polls a transfer to
// DONE and posts the next one at once has that post sent by the I/O thread,
// which waited for it. These tests check that transfers sent this way land
// (by hash, on the process that owns the memory), that the counters say the
// posts went that way, that a caller who posts slowly costs the I/O thread a
// bounded number of lingers (the back-off), and that linger_us=0 and
// busy_poll_us turn it off. The target is an agent in another process.
import { setTimeout as sleep } from 'node:timers/promises';

import { afterEach, describe, expect, it } from 'vitest';

import type { LingerCounters, TcpBackend } from '../../backends/tcp/index.js';
import type { XferRequest } from '../../src/xfer-request.js';
import { fillPattern, sha256 } from '../../testing/pattern.js';
import { blockRequests, pollRounds, type TcpPair, TcpPairs } from './tcp-pair.js';

const REGION = 1 << 20;
const BLOCK = 4096;
const BLOCKS = 64;
const AREA = BLOCK * BLOCKS;

const pairs = new TcpPairs();
afterEach(() => pairs.closeAll());

/** This process initiates with `mine` as its TCP params; the target is a child process. */
function pair(mine: Record<string, string>): Promise<TcpPair> {
  return pairs.start({
    name: 'initiator',
    regionBytes: REGION,
    params: { port: '0', same_host: 'off', timeout_ms: '5000' },
    initiatorParams: mine,
  });
}

const counters = (p: TcpPair): LingerCounters =>
  (p.agent.backends.find((b) => b.type === 'TCP') as TcpBackend).lingerCounters();

const requests = (p: TcpPair, op: 'READ' | 'WRITE'): XferRequest[] =>
  blockRequests(p, op, BLOCKS, BLOCK);

/**
 * Polls rounds of `reqs` until the lingering I/O thread took one of their
 * posts (hits grew): at least 100 rounds, and on for up to 20 s. A loaded
 * machine can starve the poller past a linger now and then (the whole suite
 * on 2 cores once went 100 rounds of 64 posts without a hit), not for 20 s.
 */
function roundsUntilHit(p: TcpPair, reqs: XferRequest[]): number {
  const before = counters(p).hits;
  const until = performance.now() + 20_000;
  for (let r = 0; r < 100 || performance.now() < until; r++) {
    pollRounds(p, reqs, 1, performance.now() + 60_000);
    if (counters(p).hits > before) return counters(p).hits;
  }
  return counters(p).hits;
}

describe('TCP, the I/O thread lingering for the next post (linger_us)', () => {
  it('posts that follow a polled completion are sent by the I/O thread, and land', async () => {
    // A window far above a poll loop's reaction time: these posts are taken.
    // poll_progress=off: under auto a polled WRITE of 64 KiB or less is its
    // caller's (Engine::CallerPollsAnswer), and no linger follows it.
    const p = await pair({ linger_us: '1000', poll_progress: 'off' });
    fillPattern(p.local.subarray(0, AREA), 7);
    const afterWrites = roundsUntilHit(p, requests(p, 'WRITE'));
    expect(afterWrites).toBeGreaterThan(0);
    const remote = (await p.peer.send({ cmd: 'hash', off: 0, len: AREA })).hash;
    expect(remote).toBe(sha256(p.local.subarray(0, AREA)));

    await p.peer.send({ cmd: 'fill', off: 0, len: AREA, seed: 11 });
    const want = (await p.peer.send({ cmd: 'hash', off: 0, len: AREA })).hash;
    p.local.fill(0, 0, AREA);
    expect(roundsUntilHit(p, requests(p, 'READ'))).toBeGreaterThan(afterWrites);
    expect(sha256(p.local.subarray(0, AREA))).toBe(want);
  }, 120_000);

  it('a caller that posts slowly costs a bounded number of lingers (back-off)', async () => {
    const p = await pair({ linger_us: '1000' });
    const [req] = requests(p, 'READ');
    // Each post comes 5 ms after the last completion, so no linger can take
    // it; 100 completions linger at most 8 times (skipping 1, 2, 4 ... 64).
    for (let i = 0; i < 100; i++) {
      p.agent.postXferReq(req!);
      await req!.wait({ signal: AbortSignal.timeout(10_000) });
      await sleep(5);
    }
    const c = counters(p);
    expect(c.hits).toBe(0);
    expect(c.misses).toBeGreaterThan(0);
    expect(c.misses).toBeLessThanOrEqual(8);
  }, 120_000);

  const offs: Record<string, string>[] = [{ linger_us: '0' }, { busy_poll_us: '50' }];
  for (const off of offs) {
    it(`${JSON.stringify(off)}: no lingering; polled transfers land`, async () => {
      const p = await pair(off);
      fillPattern(p.local.subarray(0, AREA), 3);
      pollRounds(p, requests(p, 'WRITE'), 5, performance.now() + 60_000);
      const remote = (await p.peer.send({ cmd: 'hash', off: 0, len: AREA })).hash;
      expect(remote).toBe(sha256(p.local.subarray(0, AREA)));
      expect(counters(p)).toEqual({ hits: 0, misses: 0 });
    }, 120_000);
  }
});
