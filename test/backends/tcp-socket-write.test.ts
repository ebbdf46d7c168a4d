// Socket WRITEs of 16 KiB to 4 MiB at batch 1, polled as nixl-ts-bench and
// nixlbench poll them, on the paths the engine may take for them: sent by the
// caller's thread inside postXferReq (inline_write_max_bytes), handed to the
// I/O thread, or sent by the polling caller (poll_send_min_bytes, or
// poll_progress with inline sends). Against an agent in another process,
// every DONE is checked by hash, and a target that is killed or frozen in
// the middle of such WRITEs fails them in bounded time.
import { afterEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { InvalidParamError } from '../../src/errors.js';
import { fillPattern, sha256 } from '../../testing/pattern.js';
import {
  expectFailsOnceFrozen,
  expectFailsOnceKilled,
  pollUntilDone,
  type TcpPair,
  TcpPairs,
  writeAt,
} from './tcp-pair.js';

const REGION = 8 << 20;
const SIZES = [16 << 10, 64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20];
const TIMEOUT_MS = 2000;

// The initiator's parameters of each variant; the target runs the defaults.
const VARIANTS: Record<string, Record<string, string>> = {
  defaults: {},
  'handed to the I/O thread': { inline_write_max_bytes: '0', poll_send: 'off' },
  'sent inside postXferReq up to 4 MiB': {
    inline_write_max_bytes: String(4 << 20),
    poll_send: 'off',
  },
  'sent by the polling caller from 16 KiB': {
    poll_send: 'on',
    poll_send_min_bytes: String(16 << 10),
  },
  // What the socket does not take inside postXferReq is sent by the caller's
  // status reads, which also read the ACK (Engine::LeaveToPoller).
  'sent and answered by the polling caller up to 4 MiB (poll_progress, linger_us=0)': {
    poll_progress: 'on',
    linger_us: '0',
    inline_write_max_bytes: String(4 << 20),
    poll_send: 'off',
  },
};

const pairs = new TcpPairs();
afterEach(() => pairs.closeAll());

function pair(initiatorParams: Record<string, string>): Promise<TcpPair> {
  return pairs.start({
    name: 'writer',
    regionBytes: REGION,
    params: { port: '0', same_host: 'off', timeout_ms: String(TIMEOUT_MS) },
    initiatorParams,
  });
}

describe('TCP socket WRITEs of 16 KiB to 4 MiB, polled at batch 1', () => {
  for (const [name, initiatorParams] of Object.entries(VARIANTS)) {
    it(`land whole, every post checked by hash (${name})`, async () => {
      const p = await pair(initiatorParams);
      for (const [i, len] of SIZES.entries()) {
        const at = 4096 * (i + 1) + 8 * i; // a target offset that is not page-aligned
        const req = writeAt(p, len, at);
        // The first post of a request and the later ones take different
        // turns (lingering I/O thread, a caller seen polling): several each.
        for (let round = 0; round < 4; round++) {
          fillPattern(p.local.subarray(0, len), 31 * i + round);
          pollUntilDone(p, req, performance.now() + 30_000);
          const remote = (await p.peer.send({ cmd: 'hash', off: at, len })).hash;
          expect(remote, `${len} bytes, round ${round}`).toBe(sha256(p.local.subarray(0, len)));
        }
        // Awaited instead of polled: the I/O thread finishes what the post left.
        fillPattern(p.local.subarray(0, len), 1000 + i);
        p.agent.postXferReq(req);
        await req.wait({ signal: AbortSignal.timeout(10_000) });
        const remote = (await p.peer.send({ cmd: 'hash', off: at, len })).hash;
        expect(remote, `${len} bytes, awaited`).toBe(sha256(p.local.subarray(0, len)));
        req.release();
      }
    }, 120_000);
  }

  for (const [name, initiatorParams] of Object.entries(VARIANTS)) {
    it(`a frozen target fails a 1 MiB WRITE within the timeout, a killed one at once (${name})`, async () => {
      const p = await pair(initiatorParams);
      const req = writeAt(p, 1 << 20, 0);
      for (let round = 0; round < 5; round++) pollUntilDone(p, req, performance.now() + 30_000);
      // Frozen: its socket still takes bytes, nothing answers; timeout_ms
      // (2 s) fails the transfer, with a generous margin for a loaded machine.
      await expectFailsOnceFrozen(p, req, TIMEOUT_MS);
      req.release();

      // Killed in the middle of 4 MiB WRITEs on a fresh connection.
      const q = await pair(initiatorParams);
      const big = writeAt(q, 4 << 20, 0);
      for (let round = 0; round < 3; round++) pollUntilDone(q, big, performance.now() + 30_000);
      expectFailsOnceKilled(q, big, TIMEOUT_MS);
    }, 60_000);
  }

  it('refuses bad thresholds with a typed error', async () => {
    const bad: Record<string, string>[] = [
      { inline_write_max_bytes: '-1' },
      { inline_write_max_bytes: 'lots' },
      { poll_send_min_bytes: '0' },
    ];
    for (const params of bad) {
      await expect(
        Agent.create({ name: 'bad', backends: [{ type: 'TCP', params }] }),
      ).rejects.toBeInstanceOf(InvalidParamError);
    }
  });
});
