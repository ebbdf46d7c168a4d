/**
 * A frame that goes out as one buffer (a READ request's header, an ACK) is
 * sent with send() rather than sendmsg() (native/tcp/connections.cc, Flush).
 * Checked across processes over 127.0.0.1, with default params and with
 * busy_poll_us: READ requests queued behind a WRITE too large for the
 * socket (so headers go out in pieces, in the rounds after it), and small
 * WRITEs whose target answers each with an ACK, all verified by hash.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import type { XferRequest } from '../../src/index.js';
import { fillPattern, seededInts, sha256 } from '../../testing/pattern.js';
import { TcpPeer } from './tcp-peer-process.js';
import { initiatorTargetPairs } from './tcp-initiator-target.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const REGION = 64 * MiB;
const BIG = 32 * MiB;

const MODES: { mode: string; params: Record<string, string> }[] = [
  { mode: 'default params', params: { same_host: 'off', timeout_ms: '10000' } },
  {
    mode: 'busy_poll_us',
    params: { same_host: 'off', busy_poll_us: '400', timeout_ms: '10000' },
  },
];

describe.each(MODES)('TCP one-buffer frames sent with send(), $mode', ({ params }) => {
  const pairs = initiatorTargetPairs('onebuf', REGION, params);
  const setUp = pairs.setUp;

  afterEach(() => pairs.closeAll(), 60_000);

  function xfer(
    a: Agent,
    op: 'READ' | 'WRITE',
    localAddr: bigint,
    remoteAddr: bigint,
    len: number,
    to: string,
  ): XferRequest {
    return a.createXferReq(op, [{ addr: localAddr, len }], [{ addr: remoteAddr, len }], to);
  }

  it('64 READ requests queued behind a 32 MiB WRITE all land with the target bytes', async () => {
    const { a, target, local, localBase } = await setUp('queued');
    // The WRITE takes the region's first half, the READs come from its second.
    await target.send({ cmd: 'fill', off: BIG, len: REGION - BIG, seed: 11 });
    fillPattern(local.subarray(0, BIG), 12);
    const big = xfer(a, 'WRITE', localBase, target.addr, BIG, target.name);
    big.post();
    const rand = seededInts(23);
    const reads: { req: XferRequest; off: number; len: number }[] = [];
    for (let i = 0; i < 64; i++) {
      const len = i % 3 === 0 ? 4 * KiB : 1 + rand(64 * KiB);
      // Disjoint 64 KiB slots in the second half, at a random offset in each.
      const off = BIG + i * 128 * KiB + rand(64 * KiB);
      const req = xfer(
        a,
        'READ',
        localBase + BigInt(off),
        target.addr + BigInt(off),
        len,
        target.name,
      );
      req.post();
      reads.push({ req, off, len });
    }
    await big.done;
    for (const r of reads) await r.req.done;
    big.release();
    const written = await target.send({ cmd: 'hash', off: 0, len: BIG });
    expect(written.hash).toBe(sha256(local.subarray(0, BIG)));
    for (const r of reads) {
      r.req.release();
      const there = await target.send({ cmd: 'hash', off: r.off, len: r.len });
      expect(there.hash, `READ ${r.len} B at ${r.off}`).toBe(
        sha256(local.subarray(r.off, r.off + r.len)),
      );
    }
  }, 120_000);

  it('small WRITEs, each answered by an ACK, between READs, arrive whole', async () => {
    const { a, target, local, localBase } = await setUp('acks');
    await target.send({ cmd: 'fill', off: 0, len: REGION, seed: 31 });
    fillPattern(local, 32);
    const rand = seededInts(41);
    const bound = Date.now() + 60_000;
    for (let i = 0; i < 200 && Date.now() < bound; i++) {
      const op = i % 2 === 0 ? 'WRITE' : 'READ';
      const len = 1 + rand(16 * KiB);
      const off = rand(REGION - len + 1);
      const req = xfer(a, op, localBase + BigInt(off), target.addr + BigInt(off), len, target.name);
      req.post();
      await req.done;
      req.release();
      // Both sides agree on the range just moved.
      const there = await target.send({ cmd: 'hash', off, len });
      expect(there.hash, `${op} ${len} B at ${off}`).toBe(sha256(local.subarray(off, off + len)));
    }
  }, 120_000);
});
