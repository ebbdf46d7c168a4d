/**
 * The VRAM checks that need a CUDA device; each skips, saying why, where
 * there is none. scripts/gpu-check.sh runs the same ground (and more: 1 GiB
 * across processes, bandwidth) without vitest on a GPU machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { VramStager } from '../../backends/tcp/vram-stager.js';
import { Agent } from '../../src/agent.js';
import { InvalidParamError } from '../../src/errors.js';
import { native } from '../../src/native.js';
import { cuda, vramSupport, type VramAllocation } from '../../src/vram.js';
import { fillPattern, sha256 } from '../../testing/pattern.js';
import { TcpPeer } from '../integration/tcp-peer-process.js';

const support = vramSupport();
const MiB = 1 << 20;

if (!support.ok) {
  describe('VRAM on a CUDA device', () => {
    it.skip(`skipped: ${support.reason}`, () => {});
  });
} else {
  describe('VRAM on a CUDA device', () => {
    let agent: Agent;
    beforeAll(async () => {
      agent = await Agent.create({ name: 'gpu', backends: ['TCP'] });
    });
    afterAll(async () => {
      await agent?.close();
    });

    it('allocates, validates and refuses what is not device memory', () => {
      const a: VramAllocation = agent.alloc(8 * MiB, { memType: 'VRAM', devId: 0 });
      const c = cuda();
      expect(c.pointerInfo(a.desc.addr, 8 * MiB, 0).size).toBeGreaterThanOrEqual(8 * MiB);
      expect(() => c.pointerInfo(a.desc.addr + 4096n, 8 * MiB, 0)).toThrow(/runs past/);
      const host = Buffer.alloc(4096);
      expect(() => c.pointerInfo(native().addressOf(host), 4096, 0)).toThrow(/not VRAM|not memory/);
      expect(() => agent.alloc(MiB, { memType: 'VRAM', devId: 999 })).toThrow(InvalidParamError);
      // No backend of this agent takes VRAM (TCP moves it with VramStager); the error says so.
      expect(() =>
        agent.registerMem({ addr: a.desc.addr, len: MiB, devId: 0 }, { memType: 'VRAM' }),
      ).toThrow(/no backend supports VRAM memory \(TCP: .*VramStager/);
      a.free();
      a.free();
    });

    it('stages VRAM to a peer and back, verified by hash', async () => {
      const peer = await TcpPeer.start('gpu-peer', 64 * MiB, {});
      try {
        agent.loadRemoteMD(peer.mdBytes);
        await using stager = VramStager.create(agent, { chunkBytes: 4 * MiB, slots: 4 });
        const c = cuda();
        const src = Buffer.alloc(64 * MiB);
        fillPattern(src, 21);
        const a = agent.alloc(64 * MiB, { memType: 'VRAM' });
        c.copySync(a.desc.addr, native().addressOf(src), src.length, 'h2d', 0);
        await stager.write(a.desc, peer.addr, 'gpu-peer', { notif: 'peek:0:x' });
        expect((await peer.send({ cmd: 'hash', off: 0, len: 64 * MiB })).hash).toBe(sha256(src));
        const b = agent.alloc(64 * MiB, { memType: 'VRAM' });
        await stager.read(b.desc, peer.addr, 'gpu-peer');
        const back = Buffer.alloc(64 * MiB);
        c.copySync(native().addressOf(back), b.desc.addr, back.length, 'd2h', 0);
        expect(sha256(back)).toBe(sha256(src));
      } finally {
        await peer.send({ cmd: 'close' }).catch(() => {});
      }
    });
  });
}
