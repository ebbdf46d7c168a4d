// The TCP engine's poll_send: a socket WRITE of 4 MiB or more (poll_send_min_bytes) is sent by the
// caller's own thread (postXferReq sends a bounded share, each getXferStatus
// the next share and reads the ACK: Engine::Progress), and once the caller
// was seen polling, the peer's connections are masked for the I/O thread
// until the transfer is done. These tests check, against an agent in another
// process and by hash, that the data lands at every size the path touches
// (one share, several shares, striped over two streams), that a caller who
// stops polling still gets its transfers done by the I/O thread, and that a
// peer killed in the middle of a polled WRITE fails it in bounded time.
import { afterEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { NotFoundError, RemoteDisconnectError } from '../../src/errors.js';
import { fillPattern, sha256 } from '../../testing/pattern.js';
import { pollUntilDone, type TcpPair, TcpPairs, writeAt } from './tcp-pair.js';

const REGION = 24 << 20;
// Below the threshold (the I/O thread sends), at it (one share, striped over
// two streams: stripe_min_bytes is 4 MiB too), several shares (kPollSendChunk
// is 4 MiB).
const SIZES = [16 << 10, 1 << 20, 2 << 20, 4 << 20, 6 << 20, 11 << 20];

const pairs = new TcpPairs();
afterEach(() => pairs.closeAll());

function pair(pollSend: 'on' | 'off'): Promise<TcpPair> {
  return pairs.start({
    name: 'sender',
    regionBytes: REGION,
    params: { port: '0', same_host: 'off', timeout_ms: '5000' },
    initiatorParams: { poll_send: pollSend },
  });
}

describe('TCP poll_send: WRITEs sent by the polling caller', () => {
  for (const pollSend of ['on', 'off'] as const) {
    it(`polled WRITEs of 16 KiB to 11 MiB land whole (poll_send=${pollSend})`, async () => {
      const p = await pair(pollSend);
      for (const [i, len] of SIZES.entries()) {
        const req = writeAt(p, len, 4096 * i); // an unaligned target offset for each size
        // Several posts of the same request: the first goes the usual way,
        // the later ones are left to this caller (masked connections).
        for (let round = 0; round < 4; round++) {
          fillPattern(p.local.subarray(0, len), 100 * i + round);
          pollUntilDone(p, req, performance.now() + 30_000);
          const remote = (await p.peer.send({ cmd: 'hash', off: 4096 * i, len })).hash;
          expect(remote, `${len} bytes, round ${round}`).toBe(sha256(p.local.subarray(0, len)));
        }
        req.release();
      }
      // A READ right after the polled WRITEs (the peer may still be masked
      // for the I/O thread): it is awaited, so the I/O thread reads its answer.
      const len = 2 << 20;
      await p.peer.send({ cmd: 'fill', off: 0, len, seed: 5 });
      const want = (await p.peer.send({ cmd: 'hash', off: 0, len })).hash;
      p.local.fill(0, 0, len);
      const read = p.agent.createXferReq(
        'READ',
        [{ addr: p.localAddr, len, devId: 0 }],
        [{ addr: p.remoteAddr, len, devId: 0 }],
        'target',
      );
      p.agent.postXferReq(read);
      await read.wait({ signal: AbortSignal.timeout(10_000) });
      expect(sha256(p.local.subarray(0, len))).toBe(want);
    }, 120_000);
  }

  it('a caller that stops polling still gets its WRITEs done (the I/O thread takes over)', async () => {
    const p = await pair('on');
    for (const [i, len] of SIZES.entries()) {
      const req = writeAt(p, len, 8192 * i);
      for (let round = 0; round < 3; round++) {
        fillPattern(p.local.subarray(0, len), 7 * i + round);
        pollUntilDone(p, req, performance.now() + 30_000);
      }
      // Now awaited: the post sends a share and leaves the rest to a poller
      // that no longer polls; the watch timer hands it to the I/O thread.
      fillPattern(p.local.subarray(0, len), 1000 + i);
      p.agent.postXferReq(req);
      await req.wait({ signal: AbortSignal.timeout(10_000) });
      const remote = (await p.peer.send({ cmd: 'hash', off: 8192 * i, len })).hash;
      expect(remote, `${len} bytes awaited`).toBe(sha256(p.local.subarray(0, len)));
      req.release();
    }
  }, 120_000);

  it('a peer killed during polled large WRITEs fails them in bounded time', async () => {
    const p = await pair('on');
    const req = writeAt(p, 11 << 20, 0);
    for (let round = 0; round < 3; round++) pollUntilDone(p, req, performance.now() + 30_000);
    p.peer.signal('SIGKILL');
    const t0 = performance.now();
    let error: unknown;
    try {
      // Until the engine notices: posts to a dead peer fail or never finish.
      for (;;) pollUntilDone(p, req, t0 + 15_000);
    } catch (err) {
      error = err;
    }
    // RemoteDisconnectError; a post after the agent dropped the peer is
    // refused with NotFoundError (no such peer any more).
    expect(error instanceof RemoteDisconnectError || error instanceof NotFoundError).toBe(true);
    expect(performance.now() - t0).toBeLessThan(10_000);
  }, 60_000);

  it('refuses a bad poll_send value', async () => {
    await expect(
      Agent.create({ name: 'bad', backends: [{ type: 'TCP', params: { poll_send: 'x' } }] }),
    ).rejects.toThrow(/poll_send/);
  });
});
