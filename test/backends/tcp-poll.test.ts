// The TCP engine when its caller polls (getXferStatus in a loop, as nixlbench
// does) with poll_progress=on: a poll reads the answer itself (Engine::Progress), and once a
// request's caller has been seen polling, its next small post leaves the
// answer to that caller instead of waking the engine's I/O thread (the
// peer's connections masked, native/tcp/posting.cc). These tests check that
// the data still lands, that a caller who then stops polling still gets its
// completions (wait() hands the peer back to the I/O thread), and that
// a peer killed in either phase fails the transfers in bounded time. The
// target is an agent in another process; data is checked by hash.
import { afterEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { NotFoundError, RemoteDisconnectError } from '../../src/errors.js';
import type { XferRequest } from '../../src/xfer-request.js';
import { fillPattern, sha256 } from '../../testing/pattern.js';
import { blockRequests, pollRounds, type TcpPair, TcpPairs } from './tcp-pair.js';

const REGION = 1 << 20;
const BLOCK = 4096;
const BLOCKS = 64; // the requests cycle over these blocks of the first 256 KiB

const pairs = new TcpPairs();
afterEach(() => pairs.closeAll());

function pair(
  sameHost: 'off' | 'auto',
  waitSpinUs?: number,
  pollProgress: 'on' | 'off' = 'on',
): Promise<TcpPair> {
  return pairs.start({
    name: 'poller',
    regionBytes: REGION,
    params: { port: '0', same_host: sameHost, timeout_ms: '5000' },
    initiatorParams: { poll_progress: pollProgress },
    waitSpinUs,
  });
}

const requests = (p: TcpPair, op: 'READ' | 'WRITE'): XferRequest[] =>
  blockRequests(p, op, BLOCKS, BLOCK);

for (const sameHost of ['off', 'auto'] as const) {
  describe(`TCP, a polling caller (same_host=${sameHost})`, () => {
    it('WRITEs and READs in a poll loop land, and the notification follows the data', async () => {
      const p = await pair(sameHost);
      const area = BLOCKS * BLOCK;
      fillPattern(p.local.subarray(0, area), 17);
      const writes = requests(p, 'WRITE');
      pollRounds(p, writes, 20, performance.now() + 60_000);
      // The last one carries a notification: the target hashes its region when it arrives.
      const last = writes[BLOCKS - 1]!;
      p.agent.postXferReq(last, { notif: 'polled-done' });
      while (p.agent.getXferStatus(last) !== 'DONE');
      const notif = await p.peer.send({ cmd: 'notif', msg: 'polled-done', timeoutMs: 10_000 });
      const expectWhole = sha256(
        Buffer.concat([p.local.subarray(0, area), Buffer.alloc(REGION - area)]),
      );
      expect(notif.hashAtArrival).toBe(expectWhole);

      await p.peer.send({ cmd: 'fill', off: 0, len: area, seed: 29 });
      const want = (await p.peer.send({ cmd: 'hash', off: 0, len: area })).hash;
      p.local.fill(0, 0, area);
      pollRounds(p, requests(p, 'READ'), 20, performance.now() + 60_000);
      expect(sha256(p.local.subarray(0, area))).toBe(want);
    }, 120_000);

    it('a caller that stops polling and awaits still gets every completion, promptly', async () => {
      const p = await pair(sameHost);
      const area = BLOCKS * BLOCK;
      for (const op of ['WRITE', 'READ'] as const) {
        const reqs = requests(p, op);
        pollRounds(p, reqs, 10, performance.now() + 60_000);
        if (op === 'WRITE') fillPattern(p.local.subarray(0, area), 41);
        else p.local.fill(0, 0, area);
        // Now awaited: each post's answer was left to a poller that no longer polls.
        let slowest = 0;
        for (const req of reqs) {
          const t0 = performance.now();
          p.agent.postXferReq(req);
          await req.wait({ signal: AbortSignal.timeout(5_000) });
          slowest = Math.max(slowest, performance.now() - t0);
        }
        // wait() hands the answer back (stopPolling) once its spin of
        // waitSpinUs (100 µs) is over; 1 s is a generous bound.
        expect(slowest).toBeLessThan(1_000);
        const remote = (await p.peer.send({ cmd: 'hash', off: 0, len: area })).hash;
        expect(sha256(p.local.subarray(0, area))).toBe(remote);
      }
    }, 120_000);

    it('wait() polls a fast request itself (waitSpinUs): awaited transfers land', async () => {
      // A spin budget far above any transfer here: every wait() after the
      // first post finds its answer by polling, so its promise is settled
      // when it is returned, with no completion event in between.
      const p = await pair(sameHost, 1_000_000);
      const area = BLOCKS * BLOCK;
      for (const op of ['WRITE', 'READ'] as const) {
        if (op === 'WRITE') fillPattern(p.local.subarray(0, area), 53);
        else p.local.fill(0, 0, area);
        const reqs = requests(p, op);
        let settledAtOnce = 0;
        for (let round = 0; round < 3; round++) {
          for (const req of reqs) {
            p.agent.postXferReq(req);
            let settled = false;
            const done = req.wait().then(() => {
              settled = true;
            });
            await Promise.resolve();
            if (settled && round > 0) settledAtOnce++;
            await done;
          }
        }
        expect(settledAtOnce).toBe(2 * BLOCKS);
        const remote = (await p.peer.send({ cmd: 'hash', off: 0, len: area })).hash;
        expect(sha256(p.local.subarray(0, area))).toBe(remote);
      }
    }, 120_000);

    it('a peer killed while the caller polls fails the transfer in bounded time', async () => {
      const p = await pair(sameHost);
      const reqs = requests(p, 'WRITE');
      pollRounds(p, reqs, 5, performance.now() + 60_000);
      p.peer.signal('SIGKILL');
      const t0 = performance.now();
      let error: unknown;
      try {
        // Until the engine notices: posts to a dead peer fail or never finish.
        pollRounds(p, reqs, 1_000_000, t0 + 15_000);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(RemoteDisconnectError);
      expect(performance.now() - t0).toBeLessThan(10_000);
    }, 60_000);

    it('a peer killed after a poll loop fails an awaited transfer in bounded time', async () => {
      const p = await pair(sameHost);
      const reqs = requests(p, 'READ');
      pollRounds(p, reqs, 5, performance.now() + 60_000);
      // The next post's answer is left to a poller; this caller awaits instead,
      // and the peer dies meanwhile.
      const t0 = performance.now();
      const outcome = await (async () => {
        try {
          p.agent.postXferReq(reqs[0]!);
          p.peer.signal('SIGKILL');
          for (;;) {
            await reqs[0]!.wait({ signal: AbortSignal.timeout(15_000) });
            p.agent.postXferReq(reqs[0]!);
          }
        } catch (err) {
          return err;
        }
      })();
      // Awaited: RemoteDisconnectError; a post after the agent dropped the
      // peer is refused with NotFoundError (no such peer any more).
      expect(outcome instanceof RemoteDisconnectError || outcome instanceof NotFoundError).toBe(
        true,
      );
      expect(performance.now() - t0).toBeLessThan(10_000);
    }, 60_000);
  });
}

describe('TCP, poll_progress=off', () => {
  it('a poll loop and awaited posts complete from the I/O thread alone; data lands', async () => {
    const p = await pair('off', undefined, 'off');
    const area = BLOCKS * BLOCK;
    fillPattern(p.local.subarray(0, area), 71);
    pollRounds(p, requests(p, 'WRITE'), 5, performance.now() + 60_000);
    const remote = (await p.peer.send({ cmd: 'hash', off: 0, len: area })).hash;
    expect(remote).toBe(sha256(p.local.subarray(0, area)));
    p.local.fill(0, 0, area);
    for (const req of requests(p, 'READ')) {
      p.agent.postXferReq(req);
      await req.wait({ signal: AbortSignal.timeout(5_000) });
    }
    expect(sha256(p.local.subarray(0, area))).toBe(remote);
    await expect(
      Agent.create({ name: 'bad', backends: [{ type: 'TCP', params: { poll_progress: 'x' } }] }),
    ).rejects.toThrow(/poll_progress/);
  }, 120_000);
});
