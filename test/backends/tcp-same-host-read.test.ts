// Same-host READ on the TCP engine: the initiator pulls the target's bytes
// with process_vm_readv first and the target validates afterwards (CMA_DONE,
// then ACK; native/tcp/FRAMES.md). A READ of a region the target deregistered
// must still fail, whatever the pull copied. The target is this process, the
// initiator an agent in another; data is checked by hash.
import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { PeerProcess } from '../../testing/peer-harness.js';
import { fillPattern } from '../../testing/pattern.js';

const REGION = 1 << 20;
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('TCP same-host READ: the initiator pulls first, the target validates after', () => {
  it('a READ of a region the target deregistered fails, and one of a live region lands', async () => {
    // The target is this process; the initiator is an agent in a child process.
    const params = { port: '0', same_host: 'auto', timeout_ms: '5000' };
    const target = await Agent.create({ name: 'target', backends: [{ type: 'TCP', params }] });
    const peer = new PeerProcess();
    try {
      const init = await peer.send(
        { cmd: 'init', backend: 'TCP', params, plugins: [], size: REGION, name: 'reader' },
        30_000,
      );
      expect(init.md).toBeDefined();
      const len = 256 << 10; // over the 16 KiB same-host copy threshold
      const live = target.alloc(len);
      const gone = target.alloc(len);
      fillPattern(live.buffer, 5);
      fillPattern(gone.buffer, 6);
      target.registerMem(live.buffer);
      const goneReg = target.registerMem(gone.buffer);
      await peer.send({ cmd: 'load', md: Buffer.from(target.getLocalMD()).toString('base64') });
      target.deregisterMem(goneReg);

      const read = async (addr: bigint, localOff: number) => {
        const posted = await peer.send({
          cmd: 'post',
          op: 'READ',
          peer: 'target',
          localOff,
          remoteAddr: addr.toString(),
          len,
          sentinel: 0,
        });
        return peer.send({ cmd: 'wait', xfer: posted.xfer!, timeoutMs: 10_000 });
      };
      // The initiator's pull of the deregistered range may even succeed (the
      // memory is still mapped here): the target's answer to CMA_DONE fails it.
      await expect(read(gone.desc.addr, 0)).rejects.toThrow(/NotFoundError/);
      await read(live.desc.addr, len);
      const got = await peer.send({ cmd: 'hash', off: len, len });
      expect(got.hash).toBe(sha256(live.buffer));
    } finally {
      await peer.send({ cmd: 'close' }, 10_000).catch(() => {});
      peer.signal('SIGKILL');
      await peer.waitForExit(10_000).catch(() => {});
      await target.close();
    }
  }, 60_000);
});
