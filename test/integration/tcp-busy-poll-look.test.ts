/**
 * busy_poll_us on a target: while its I/O thread spins after serving, it
 * looks at the connection it served last with a recv (no epoll_wait first),
 * and at everything else every 20 µs. Checked across processes over
 * 127.0.0.1: a second initiator is served while the first keeps the target
 * spinning on its own connection, and answers too large for one send (which
 * wait for EPOLLOUT) complete, all verified by hash.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

import { afterEach, describe, expect, it } from 'vitest';

import type { XferRequest } from '../../src/index.js';
import { fillPattern, seededInts, sha256 } from '../../testing/pattern.js';
import { TcpPeer } from './tcp-peer-process.js';
import { initiatorTargetPairs } from './tcp-initiator-target.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const REGION = 16 * MiB;
const PARAMS = { same_host: 'off', busy_poll_us: '400', timeout_ms: '5000' };

/** Posts and reads the status until DONE, in bursts that let the event loop run between them. */
async function postAndSpin(req: XferRequest, boundMs: number): Promise<string> {
  const until = Date.now() + boundMs;
  let s = req.post();
  while (s === 'IN_PROG' && Date.now() < until) {
    const burstEnd = Date.now() + 2;
    while (s === 'IN_PROG' && Date.now() < burstEnd) s = req.status();
    if (s === 'IN_PROG') await nextTurn();
  }
  return s;
}

describe('TCP busy_poll_us: the spinning target looks at the connection it served last', () => {
  const pairs = initiatorTargetPairs('look', REGION, PARAMS);
  const setUp = pairs.setUp;

  afterEach(() => pairs.closeAll(), 60_000);

  it('a second initiator is served while the first keeps the target busy', async () => {
    // The target spins for 100 ms after serving: however long this process's
    // pauses between posts (event loop turns, GC), it stays on its look at
    // this connection, and the other initiator's requests are read only by
    // the look at everything else.
    const { a, target, local, localBase } = await setUp('two', {
      ...PARAMS,
      busy_poll_us: '100000',
    });
    const other = await TcpPeer.start(`look-other-${process.pid}`, REGION, PARAMS);
    pairs.track(other);
    await other.send({ cmd: 'load', md: target.md });
    // This process works in the target's first half, the other initiator in its second.
    const half = REGION / 2;
    await other.send({ cmd: 'fill', off: 0, len: REGION, seed: 5 });
    await target.send({ cmd: 'fill', off: half, len: half, seed: 6 });
    fillPattern(local, 3);
    const req = a.createXferReq(
      'WRITE',
      [{ addr: localBase, len: 4 * KiB }],
      [{ addr: target.addr, len: 4 * KiB }],
      target.name,
    );
    let othersDone = 0;
    let stop = false;
    const others = (async () => {
      for (let i = 0; i < 20; i++) {
        const off = half + i * 64 * KiB;
        const descs = [[off, (target.addr + BigInt(off)).toString(), 64 * KiB]];
        await other.send({ cmd: i % 2 === 0 ? 'write' : 'read', to: target.name, descs });
        othersDone++;
      }
    })().finally(() => (stop = true));
    // Back to back, bounded in count and time, with a turn of the event loop
    // every 64 posts. The other's 20 transfers must end meanwhile.
    let mine = 0;
    const until = Date.now() + 30_000;
    while (!stop && mine < 1_000_000 && Date.now() < until) {
      expect(await postAndSpin(req, 10_000)).toBe('DONE');
      if (++mine % 64 === 0) await nextTurn();
    }
    expect(stop, 'the other initiator finished while this one kept posting').toBe(true);
    await others;
    expect(othersDone).toBe(20);
    expect(mine).toBeGreaterThan(0);
    req.release();
    const mineHash = await target.send({ cmd: 'hash', off: 0, len: 4 * KiB });
    expect(mineHash.hash).toBe(sha256(local.subarray(0, 4 * KiB)));
    // WRITEs put the other's bytes there, READs read them back: both sides agree.
    const theirs = await other.send({ cmd: 'hash', off: half, len: 20 * 64 * KiB });
    const there = await target.send({ cmd: 'hash', off: half, len: 20 * 64 * KiB });
    expect(there.hash).toBe(theirs.hash);
  }, 120_000);

  it('answers too large for one send, between small ones, arrive whole', async () => {
    const { a, target, local, localBase } = await setUp('large');
    await target.send({ cmd: 'fill', off: 0, len: REGION, seed: 9 });
    fillPattern(local, 4);
    const rand = seededInts(17);
    for (let i = 0; i < 40; i++) {
      const size = i % 4 === 3 ? 8 * MiB - 3 : i % 4 === 1 ? 1 * MiB : 4 * KiB;
      const op = i % 8 < 4 ? 'READ' : 'WRITE';
      const loff = rand(REGION - size + 1);
      const roff = rand(REGION - size + 1);
      const req = a.createXferReq(
        op,
        [{ addr: localBase + BigInt(loff), len: size }],
        [{ addr: target.addr + BigInt(roff), len: size }],
        target.name,
      );
      expect(await postAndSpin(req, 30_000)).toBe('DONE');
      req.release();
      const remote = await target.send({ cmd: 'hash', off: roff, len: size });
      expect(remote.hash, `${op} ${size} B at ${loff} -> ${roff}`).toBe(
        sha256(local.subarray(loff, loff + size)),
      );
    }
  }, 120_000);
});
