/**
 * A connection's frames to send and the READs awaiting their answers are
 * kept in rings that grow (native/tcp/ring.h) instead of std::deque: a
 * request of many descriptors queues far more frames on one stream than the
 * ring's first capacity, so the ring grows, moving the queued frames, while
 * the frames already sent from its front left it. Checked across processes
 * over 127.0.0.1, with default params and with busy_poll_us: every byte lands
 * where it should (by hash on both sides), the answers match their READs in
 * order, and a striped WRITE's notification, which waits for the ACK of each
 * stream's last frame (found by its position in the ring), arrives.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { fillPattern, seededInts, sha256 } from '../../testing/pattern.js';
import { initiatorTargetPairs } from './tcp-initiator-target.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const REGION = 64 * MiB;

const MODES: { mode: string; params: Record<string, string> }[] = [
  {
    mode: 'default params',
    params: { same_host: 'off', streams: '4', timeout_ms: '10000' },
  },
  {
    mode: 'busy_poll_us',
    params: { same_host: 'off', streams: '4', busy_poll_us: '400', timeout_ms: '10000' },
  },
];

/** n disjoint ranges in [0, limit), each 1 B to maxLen, in random order of size. */
function ranges(seed: number, n: number, maxLen: number, limit: number) {
  const rand = seededInts(seed);
  const slot = Math.floor(limit / n);
  const out: { off: number; len: number }[] = [];
  for (let i = 0; i < n; i++) {
    const len = 1 + rand(Math.min(maxLen, slot));
    out.push({ off: i * slot + rand(slot - len + 1), len });
  }
  return out;
}

describe.each(MODES)('TCP queues that grow, $mode', ({ params }) => {
  const pairs = initiatorTargetPairs('ring', REGION, params);
  afterEach(() => pairs.closeAll(), 60_000);

  it('READs of 100, 300 and 700 descriptors land whole, each answer in its place', async () => {
    const { a, target, local, localBase } = await pairs.setUp('reads');
    await target.send({ cmd: 'fill', off: 0, len: REGION, seed: 51 });
    // Each round starts where the last one left the ring's front, so the
    // next grows while its items wrap around the end of the buffer.
    const sizes = [100, 300, 700];
    for (let round = 0; round < sizes.length; round++) {
      const rs = ranges(60 + round, sizes[round]!, 8 * KiB, REGION);
      const req = a.createXferReq(
        'READ',
        rs.map((r) => ({ addr: localBase + BigInt(r.off), len: r.len })),
        rs.map((r) => ({ addr: target.addr + BigInt(r.off), len: r.len })),
        target.name,
      );
      req.post();
      await req.done;
      req.release();
      for (const r of rs) {
        const there = await target.send({ cmd: 'hash', off: r.off, len: r.len });
        expect(there.hash, `round ${round}: READ ${r.len} B at ${r.off}`).toBe(
          sha256(local.subarray(r.off, r.off + r.len)),
        );
      }
    }
  }, 120_000);

  it('a WRITE of 200 small descriptors and one striped 24 MiB one, with a notification, lands whole and notifies', async () => {
    const { a, target, local, localBase } = await pairs.setUp('writes');
    fillPattern(local, 71);
    // The small ones in the first 16 MiB (one stream: each is smaller than a
    // striped piece), the large one after them (in pieces over all streams).
    const rs = ranges(72, 200, 16 * KiB, 16 * MiB);
    rs.push({ off: 24 * MiB, len: 24 * MiB });
    for (let round = 0; round < 2; round++) {
      const tag = `ring-notif-${round}`;
      const req = a.createXferReq(
        'WRITE',
        rs.map((r) => ({ addr: localBase + BigInt(r.off), len: r.len })),
        rs.map((r) => ({ addr: target.addr + BigInt(r.off), len: r.len })),
        target.name,
        { notif: tag },
      );
      req.post();
      await req.done;
      req.release();
      for (const r of rs) {
        const there = await target.send({ cmd: 'hash', off: r.off, len: r.len });
        expect(there.hash, `round ${round}: WRITE ${r.len} B at ${r.off}`).toBe(
          sha256(local.subarray(r.off, r.off + r.len)),
        );
      }
      const seen: string[] = [];
      const deadline = Date.now() + 20_000;
      while (!seen.includes(tag) && Date.now() < deadline) {
        for (const [, text] of (await target.send({ cmd: 'notifs' })).list) seen.push(text);
        if (!seen.includes(tag)) await new Promise((r) => setTimeout(r, 20));
      }
      expect(seen).toContain(tag);
      // The next round overwrites the same ranges with other bytes.
      fillPattern(local, 73 + round);
    }
  }, 120_000);
});
