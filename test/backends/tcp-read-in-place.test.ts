// A READ's answer of 64 KiB or more is received with one scattered recvmsg:
// header, payload straight into the destination, trailer
// (native/tcp/read_in_place.cc), with and without busy_poll_us. READs of every size, with WRITEs (and their
// ACKs) between them on the same connection, land whole (checked by hash);
// a READ the target refuses leaves its destination as it was.
import { createHash } from 'node:crypto';

import { afterEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { PeerProcess } from '../../testing/peer-harness.js';
import { fillPattern } from '../../testing/pattern.js';
import { pollRoundTripsByHash, TcpPairs } from './tcp-pair.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const base = { port: '0', same_host: 'off', timeout_ms: '5000' };

const pairs = new TcpPairs();
afterEach(() => pairs.closeAll());

describe.each([
  ['busy_poll_us=400', { ...base, busy_poll_us: '400' }],
  ['default params', base],
])('TCP READ answers received in place (%s)', (_, params) => {
  it('READs of 1 byte to 1 MiB land whole, with WRITEs between them', async () => {
    const p = await pairs.start({ name: 'in-place', regionBytes: 4 << 20, params });
    // Below the 64 KiB threshold, at and above it, around the 256 KiB receive
    // buffer's limit (an answer must fit it), and over it.
    const sizes = [1, 5, 4 << 10, (16 << 10) + 3, 64 << 10, (64 << 10) + 3, (256 << 10) - 52];
    await pollRoundTripsByHash(p, [...sizes, (256 << 10) - 51, 1 << 20]);
  }, 120_000);

  it('a READ the target refuses leaves the destination as it was', async () => {
    // The target is this process (it deregisters a region); the initiator,
    // where the answer is received, an agent in a child process.
    const target = await Agent.create({ name: 'target', backends: [{ type: 'TCP', params }] });
    const peer = new PeerProcess();
    try {
      await peer.send(
        { cmd: 'init', backend: 'TCP', params, plugins: [], size: 1 << 20, name: 'reader' },
        30_000,
      );
      const live = target.alloc(64 << 10);
      const gone = target.alloc(64 << 10);
      fillPattern(live.buffer, 5);
      target.registerMem(live.buffer);
      const goneReg = target.registerMem(gone.buffer);
      await peer.send({ cmd: 'load', md: Buffer.from(target.getLocalMD()).toString('base64') });
      target.deregisterMem(goneReg);

      const read = async (addr: bigint, localOff: number, len: number, sentinel: number) => {
        const posted = await peer.send({
          cmd: 'post',
          op: 'READ',
          peer: 'target',
          localOff,
          remoteAddr: addr.toString(),
          len,
          sentinel,
        });
        return peer.send({ cmd: 'wait', xfer: posted.xfer!, timeoutMs: 10_000 });
      };
      for (const len of [5, 4 << 10, 64 << 10]) {
        // Twice each, a READ that lands between: the answers of both kinds
        // follow each other on the connection.
        for (let round = 0; round < 2; round++) {
          await expect(read(gone.desc.addr, 0, len, 0xab)).rejects.toThrow(/NotFoundError/);
          const kept = await peer.send({ cmd: 'hash', off: 0, len });
          expect(kept.hash, `refused READ of ${len} bytes`).toBe(sha256(Buffer.alloc(len, 0xab)));

          await read(live.desc.addr, 128 << 10, len, 0);
          const got = await peer.send({ cmd: 'hash', off: 128 << 10, len });
          expect(got.hash, `READ of ${len} bytes`).toBe(sha256(live.buffer.subarray(0, len)));
        }
      }
    } finally {
      await peer.send({ cmd: 'close' }, 10_000).catch(() => {});
      peer.signal('SIGKILL');
      await peer.waitForExit(10_000).catch(() => {});
      await target.close();
    }
  }, 60_000);
});
