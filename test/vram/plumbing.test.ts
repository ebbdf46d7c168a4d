/**
 * VRAM without a GPU: the memory type travels through alloc and registerMem,
 * every VRAM operation is refused with a typed error that says why, nothing
 * is left registered, and DRAM works as before. The GPU half of each check
 * runs where a device exists (test/vram/device.test.ts, scripts/gpu-check.sh).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { InvalidParamError, NotSupportedError } from '../../src/errors.js';
import { vramSupport, type VramSupport } from '../../src/vram.js';
import { UCX_AVAILABLE } from '../backends/ucx-gate.js';

const PROBE = fileURLToPath(new URL('./fixtures/support-probe.ts', import.meta.url));
const HAS_DEVICE = vramSupport().ok;

function probeWith(library: string | undefined): VramSupport {
  const env = { ...process.env };
  if (library === undefined) delete env['NIXL_CUDA_LIBRARY'];
  else env['NIXL_CUDA_LIBRARY'] = library;
  const out = execFileSync(process.execPath, ['--import', 'tsx', PROBE], {
    env,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return JSON.parse(out) as VramSupport;
}

describe('vramSupport without a usable driver', () => {
  it.skipIf(HAS_DEVICE)('says libcuda.so.1 is missing (no NVIDIA driver here)', () => {
    const s = probeWith(undefined);
    expect(s.ok).toBe(false);
    expect(s.library).toBe('libcuda.so.1');
    expect(s.reason).toMatch(/libcuda\.so\.1 not found/);
    expect(s.devices).toEqual([]);
  });

  it('names a library that is not a CUDA driver and the symbol it lacks', () => {
    const s = probeWith('libc.so.6');
    expect(s).toMatchObject({ ok: false, library: 'libc.so.6' });
    expect(s.reason).toMatch(/libc\.so\.6 lacks cuInit/);
  });

  it('names a library that does not exist', () => {
    const s = probeWith('/nonexistent/libcuda.so.1');
    expect(s.ok).toBe(false);
    expect(s.reason).toMatch(/\/nonexistent\/libcuda\.so\.1 not found/);
  });
});

describe('VRAM through the agent', () => {
  let agent: Agent;
  beforeEach(async () => {
    agent = await Agent.create({ name: 'vram-plumbing', backends: ['TCP'] });
  });
  afterEach(async () => {
    await agent.close();
  });

  it('alloc checks its options before it asks the driver', () => {
    expect(() => agent.alloc(4096, { memType: 'FILE' as 'VRAM' })).toThrow(InvalidParamError);
    expect(() => agent.alloc(-1, { memType: 'VRAM' })).toThrow(InvalidParamError);
    expect(() => agent.alloc(4096, { memType: 'VRAM', backend: 'TCP' } as never)).toThrow(
      /not from a backend/,
    );
  });

  it.skipIf(HAS_DEVICE)('alloc of VRAM is refused with the reason, DRAM still works', () => {
    const err = (() => {
      try {
        agent.alloc(1 << 20, { memType: 'VRAM', devId: 0 });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(NotSupportedError);
    expect((err as Error).message).toMatch(/VRAM is not supported here: .*libcuda\.so\.1/);
    const { buffer } = agent.alloc(4096);
    expect(buffer.length).toBe(4096);
  });

  it.skipIf(HAS_DEVICE)(
    'registerMem of a raw VRAM pointer is refused and registers nothing',
    () => {
      const before = Buffer.from(agent.getLocalMD());
      // No backend here takes VRAM; the error says why, the driver's reason included.
      expect(() =>
        agent.registerMem({ addr: 0x7f0000000000n, len: 1 << 20, devId: 0 }, { memType: 'VRAM' }),
      ).toThrow(/no backend supports VRAM memory \(TCP: .*VramStager.*libcuda\.so\.1/);
      expect(Buffer.from(agent.getLocalMD())).toEqual(before);
      // The DRAM path is untouched.
      const reg = agent.registerMem(Buffer.alloc(4096));
      expect(reg.descs.length).toBe(1);
    },
  );

  it('a JavaScript buffer is never VRAM', () => {
    expect(() => agent.registerMem(Buffer.alloc(16), { memType: 'VRAM' })).toThrow(
      /a JavaScript buffer is DRAM, not VRAM/,
    );
  });

  it('the TCP backend says how VRAM moves over TCP instead of registration', () => {
    const tcp = agent.backends.find((b) => b.type === 'TCP')!;
    expect(tcp.capabilities.mems).toEqual(['DRAM']);
    expect(tcp.unsupportedMemReason?.('VRAM')).toMatch(/VramStager/);
    expect(tcp.unsupportedMemReason?.('DRAM')).toBeUndefined();
  });
});

describe.skipIf(!UCX_AVAILABLE)('UCX and VRAM', () => {
  it('refuses VRAM, naming the missing CUDA transports, where UCX has none', async () => {
    const { ucxCudaSupport } = await import('../../backends/ucx/cuda-transports.js');
    await using agent = await Agent.create({ name: 'vram-ucx', backends: ['UCX'] });
    const ucx = agent.backends[0]!;
    const cudaTl = ucxCudaSupport();
    expect(cudaTl.moduleDir).not.toBe('');
    if (cudaTl.ok && HAS_DEVICE) {
      expect(ucx.capabilities.mems).toContain('VRAM');
      return;
    }
    expect(ucx.capabilities.mems).toEqual(['DRAM']);
    const reason = ucx.unsupportedMemReason?.('VRAM');
    expect(reason).toBeDefined();
    if (!cudaTl.ok) expect(reason).toMatch(/no CUDA transport \(libuct_cuda\.so/);
  });
});
