// After a payload of 64 KiB or more, the TCP engine reads the next frame's
// header alone, so that the next large payload (a WRITE on the target, a
// READ's data on the initiator) is received straight into its destination
// (native/tcp/receiving.cc, headerAlone). Frames of every size, large after
// small and small after large, READ after WRITE and back, on one connection
// to an agent in another process: every DONE is checked by hash.
import { afterEach, describe, expect, it } from 'vitest';

import { fillPattern, sha256 } from '../../testing/pattern.js';
import { pollUntilDone, type TcpPair, TcpPairs, writeAt } from './tcp-pair.js';

const REGION = 8 << 20;
// Below, at and above the 64 KiB threshold, and over the 256 KiB receive buffer.
const SIZES = [4 << 10, 512 << 10, 16 << 10, 64 << 10, 60 << 10, 256 << 10, 1 << 20, 4 << 20, 8];

const pairs = new TcpPairs();
afterEach(() => pairs.closeAll());

function readAt(p: TcpPair, len: number, at: number) {
  return p.agent.createXferReq(
    'READ',
    [{ addr: p.localAddr, len, devId: 0 }],
    [{ addr: p.remoteAddr + BigInt(at), len, devId: 0 }],
    'target',
  );
}

describe('TCP socket payloads received into place', () => {
  for (const wait of ['polled', 'awaited'] as const) {
    it(`READs and WRITEs of 8 bytes to 4 MiB in any order land whole (${wait})`, async () => {
      const p = await pairs.start({
        name: 'direct',
        regionBytes: REGION,
        params: { port: '0', same_host: 'off' },
      });
      const run = async (req: ReturnType<typeof readAt>) => {
        if (wait === 'polled') {
          pollUntilDone(p, req, performance.now() + 30_000);
        } else {
          p.agent.postXferReq(req);
          await req.wait({ signal: AbortSignal.timeout(30_000) });
        }
      };
      for (let round = 0; round < 3; round++) {
        for (const [i, len] of SIZES.entries()) {
          const at = 4096 * (i + 1) + 8 * i + round; // not page-aligned
          const seed = 100 * round + i;
          // WRITE: the target's bytes are the initiator's.
          const w = writeAt(p, len, at);
          fillPattern(p.local.subarray(0, len), seed);
          await run(w);
          const written = (await p.peer.send({ cmd: 'hash', off: at, len })).hash;
          expect(written, `WRITE ${len} bytes, round ${round}`).toBe(
            sha256(p.local.subarray(0, len)),
          );
          w.release();
          // READ of other bytes into the same place.
          await p.peer.send({ cmd: 'fill', off: at, len, seed: seed + 7 });
          p.local.fill(0, 0, len);
          const r = readAt(p, len, at);
          await run(r);
          const read = (await p.peer.send({ cmd: 'hash', off: at, len })).hash;
          expect(sha256(p.local.subarray(0, len)), `READ ${len} bytes, round ${round}`).toBe(read);
          r.release();
        }
      }
    }, 120_000);
  }
});
