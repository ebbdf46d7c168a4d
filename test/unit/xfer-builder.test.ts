/**
 * Request building alone, with LOCAL: prepared lists for the local side and
 * a loopback target, requests made and posted, the owner's checks (closed
 * agent, released request) and its bookkeeping of live requests.
 */
import { describe, expect, it } from 'vitest';

import type { Backend } from '../../src/backend.js';
import { InvalidParamError, NotAllowedError, NotFoundError } from '../../src/errors.js';
import { LocalSection } from '../../src/local-section.js';
import { createLogger } from '../../src/logger.js';
import { toRegDescList } from '../../src/memory-input.js';
import { native } from '../../src/native.js';
import { RemoteSections } from '../../src/remote-sections.js';
import { XferBuilder } from '../../src/xfer-builder.js';
import { localBackend } from './section-fixtures.js';

async function builder() {
  const backends: Backend[] = [await localBackend('me')];
  const local = new LocalSection();
  const remote = new RemoteSections({
    agentName: 'me',
    backends,
    maxRegions: 10,
    log: createLogger('test'),
  });
  let closed = false;
  const xfers = new XferBuilder({
    agentName: 'me',
    backends,
    local,
    remote,
    telemetry: false,
    waitSpinUs: 0,
    isClosed: () => closed,
    selectBackends: (names) => (names ? backends.filter((b) => names.includes(b.type)) : backends),
    onPeerDropped: () => {},
  });
  const src = Buffer.alloc(4096, 7);
  const dst = Buffer.alloc(4096);
  local.register(toRegDescList([src, dst]), backends, { op: 'registerMem' });
  const desc = (b: Buffer, off = 0, len = b.length - off) => ({
    addr: native().addressOf(b) + BigInt(off),
    len,
    devId: 0,
  });
  return { xfers, backends, src, dst, desc, close: () => (closed = true) };
}

describe('XferBuilder', () => {
  it('builds a loopback WRITE from prepared lists, merging neighbours', async () => {
    const { xfers, src, dst, desc } = await builder();
    const l = xfers.prepDlist('', [desc(src, 0, 1024), desc(src, 1024, 1024)]);
    const r = xfers.prepDlist('me', [desc(dst, 0, 1024), desc(dst, 1024, 1024)]);
    expect(l.side).toBe('local');
    expect(r.side).toBe('loopback');
    const req = xfers.make('WRITE', l, [0, 1], r, [0, 1], {}, 'makeXferReq');
    expect(req.descCount).toBe(1); // contiguous on both sides: one descriptor
    expect(req.totalBytes).toBe(2048);
    expect(xfers.size).toBe(1);
    if (req.post() !== 'DONE') await req.done;
    expect(dst.subarray(0, 2048).every((b) => b === 7)).toBe(true);
    expect(dst[2048]).toBe(0);
    req.release();
    expect(xfers.size).toBe(0);
  });

  it('createXferReq checks the lists and refuses unknown peers and memory', async () => {
    const { xfers, src, dst, desc } = await builder();
    expect(() => xfers.create('READ', [desc(src)], [desc(dst)], '', {}, 'c')).toThrow(
      InvalidParamError,
    );
    expect(() =>
      xfers.create('READ', [desc(src, 0, 8)], [desc(dst, 0, 16)], 'me', {}, 'c'),
    ).toThrow(/local length 8 != remote length 16/);
    expect(() => xfers.create('READ', [desc(src)], [desc(dst)], 'peer', {}, 'c')).toThrow(
      NotFoundError,
    );
    expect(() => xfers.prepDlist('', [{ addr: 0x1000n, len: 8, devId: 0 }])).toThrow(
      /not inside any DRAM region registered locally/,
    );
    const req = xfers.create('READ', [desc(dst)], [desc(src)], 'me', {}, 'createXferReq');
    expect(req.descCount).toBe(1);
    req.release();
  });

  it('refuses to post once the agent is closed, and releases every live request', async () => {
    const { xfers, src, dst, desc, close } = await builder();
    const a = xfers.create('WRITE', [desc(src)], [desc(dst)], 'me', {}, 'c');
    const b = xfers.create('WRITE', [desc(src)], [desc(dst)], 'me', {}, 'c');
    close();
    expect(() => a.post()).toThrow(NotAllowedError);
    xfers.releaseAll();
    expect(a.released && b.released).toBe(true);
    expect(xfers.size).toBe(0);
  });
});
