/**
 * Metadata behaviour between agents over a real remote backend (TCP on
 * 127.0.0.1): full and partial loads, generations, restarts, invalidation,
 * labels, and 10,000 mutated blobs loaded into a live agent.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { DescList } from '../../src/descriptors.js';
import { BackendError, InvalidParamError, MismatchError, NotFoundError } from '../../src/errors.js';
import { decodeMetadata, encodeMetadata } from '../../src/metadata.js';
import { fillPattern, sha256 } from '../../testing/pattern.js';

const TCP = [{ type: 'TCP', params: { bind_addr: '127.0.0.1', port: '0' } }];
let a: Agent;
let b: Agent;

beforeEach(async () => {
  a = await Agent.create({ name: 'md-a', backends: TCP });
  b = await Agent.create({ name: 'md-b', backends: TCP });
  a.loadRemoteMD(b.getLocalMD()); // connection info only: nothing registered yet
});
afterEach(async () => {
  await a.close();
  await b.close();
});

describe('metadata between agents', () => {
  it('refuses an agent its own metadata and a closed backend set', () => {
    expect(() => a.loadRemoteMD(a.getLocalMD())).toThrow(InvalidParamError);
  });

  it('partial metadata adds regions without a new generation', async () => {
    const local = a.registerMem(a.alloc(8192).buffer);
    const r1 = b.registerMem(b.alloc(4096).buffer);
    expect(a.checkRemoteMD('md-b', r1.descs)).toBe(false);
    a.loadRemoteMD(b.getLocalPartialMD(r1));
    expect(a.checkRemoteMD('md-b', r1.descs)).toBe(true);
    const req = a.createXferReq(
      'WRITE',
      [local.descs.at(0)].map((d) => ({ ...d, len: 4096 })),
      r1.descs,
      'md-b',
    );
    await (a.postXferReq(req), req.done);

    const r2 = b.registerMem(b.alloc(4096).buffer);
    a.loadRemoteMD(b.getLocalPartialMD(r2, { includeConnInfo: true }));
    expect(a.checkRemoteMD('md-b', r2.descs)).toBe(true);
    a.postXferReq(req); // same generation: the old request still works
    await req.done;
    expect(() => b.getLocalPartialMD(DescList.from('DRAM', [{ addr: 1n, len: 1 }]))).toThrow(
      NotFoundError,
    );
    expect(() => b.getLocalPartialMD(null, { labels: ['none'] })).toThrow(NotFoundError);
  });

  it('full metadata starts a new generation: older requests and lists fail with NotFoundError', async () => {
    const local = a.registerMem(a.alloc(4096).buffer);
    const remote = b.registerMem(b.alloc(4096).buffer);
    a.loadRemoteMD(b.getLocalMD());
    const req = a.createXferReq('WRITE', local.descs, remote.descs, 'md-b');
    const lh = a.prepXferDlist('', local.descs);
    const rh = a.prepXferDlist('md-b', remote.descs);
    a.postXferReq(req);
    await req.done;
    a.loadRemoteMD(b.getLocalMD());
    expect(() => a.postXferReq(req)).toThrow(/reloaded/);
    expect(() => a.makeXferReq('WRITE', lh, [0], rh, [0])).toThrow(NotFoundError);
    const fresh = a.createXferReq('WRITE', local.descs, remote.descs, 'md-b');
    a.postXferReq(fresh);
    await fresh.done;
  });

  it('a restarted peer (new agent id) replaces the old one; invalidation forgets it', async () => {
    const local = a.registerMem(a.alloc(4096).buffer);
    await b.close();
    b = await Agent.create({ name: 'md-b', backends: TCP });
    const remote = b.registerMem(b.alloc(4096).buffer);
    a.loadRemoteMD(b.getLocalMD());
    await a.write(local.descs, remote.descs, 'md-b');
    a.invalidateRemoteMD('md-b');
    expect(a.checkRemoteMD('md-b')).toBe(false);
    expect(() => a.createXferReq('WRITE', local.descs, remote.descs, 'md-b')).toThrow(
      NotFoundError,
    );
    a.loadRemoteMD(b.getLocalMD());
    await a.write(local.descs, remote.descs, 'md-b');
  });

  it('regions loaded in batches, in any order, are each reached by one request (verified by hash)', async () => {
    const n = 7;
    const remoteBufs = Array.from({ length: n }, () => b.alloc(4096).buffer);
    const remote = remoteBufs.map((buf) => b.registerMem(buf));
    // Partial loads out of address order merge into the middle of the peer's table.
    for (const i of [3, 0, 6, 1]) a.loadRemoteMD(b.getLocalPartialMD(remote[i]!));
    a.loadRemoteMD(
      b.getLocalPartialMD(
        DescList.from(
          'DRAM',
          remote.map((r) => r.descs.at(0)),
        ),
      ),
    );
    expect(a.getRemoteRegions('md-b').length).toBe(n);
    const src = a.alloc(4096 * n).buffer;
    fillPattern(src, 17);
    const local = a.registerMem(src);
    const order = [5, 2, 6, 0, 3, 1, 4];
    const localDescs = order.map((i) => ({
      ...local.descs.at(0),
      addr: local.descs.at(0).addr + BigInt(4096 * i),
      len: 4096,
    }));
    const remoteDescs = order.map((i) => remote[i]!.descs.at(0));
    const req = a.createXferReq('WRITE', localDescs, remoteDescs, 'md-b');
    a.postXferReq(req);
    await req.done;
    for (let i = 0; i < n; i++) {
      expect(sha256(remoteBufs[i]!)).toBe(sha256(src.subarray(4096 * i, 4096 * (i + 1))));
    }
  });

  it('TCP public data of the wrong size is refused and loads nothing', () => {
    b.registerMem(b.alloc(4096).buffer);
    b.registerMem(b.alloc(4096).buffer);
    a.invalidateRemoteMD('md-b');
    const md = decodeMetadata(b.getLocalMD());
    const regions = md.sections[0]!.regions;
    regions[1] = { ...regions[1]!, publicData: regions[1]!.publicData.subarray(0, 11) };
    expect(() => a.loadRemoteMD(encodeMetadata(md))).toThrow(/11 bytes, expected 12/);
    expect(a.remoteAgents).toEqual([]);
  });

  it('partial metadata without descriptors carries connection info only', () => {
    const r = b.registerMem(b.alloc(4096).buffer);
    a.invalidateRemoteMD('md-b');
    a.loadRemoteMD(b.getLocalPartialMD(null));
    expect(a.checkRemoteMD('md-b')).toBe(true);
    expect(a.checkRemoteMD('md-b', r.descs)).toBe(false);
    expect(a.getRemoteRegions('md-b').length).toBe(0);
  });

  it('labels travel with full and partial metadata', () => {
    b.setLabel('kv-layout', 'L32xB800');
    a.loadRemoteMD(b.getLocalPartialMD(null, { labels: ['kv-layout'] }));
    expect(Buffer.from(a.getRemoteLabel('md-b', 'kv-layout')!).toString()).toBe('L32xB800');
    expect(b.deleteLabel('kv-layout')).toBe(true);
    expect(() => b.getLocalPartialMD(null, { labels: ['kv-layout'] })).toThrow(NotFoundError);
  });

  it('10,000 mutated blobs: each refused with a typed error that loads nothing, or loaded intact', () => {
    for (let i = 0; i < 4; i++) b.registerMem(b.alloc(4096).buffer);
    b.setLabel('l', 'v');
    a.invalidateRemoteMD('md-b');
    const base = b.getLocalMD();
    let seed = 99;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    const counts = { mismatch: 0, noCommonBackend: 0, ownName: 0, loaded: 0 };
    for (let i = 0; i < 10_000; i++) {
      let blob = Uint8Array.from(base);
      const edits = 1 + rand(3);
      for (let e = 0; e < edits; e++) {
        const at = rand(blob.length);
        if (rand(4) === 0) blob = blob.subarray(0, at);
        else blob[at] = rand(256);
      }
      const before = a.remoteAgents.length;
      try {
        const name = a.loadRemoteMD(blob);
        const md = decodeMetadata(blob);
        expect(name).toBe(md.name);
        for (const s of md.sections.filter((x) => x.backend === 'TCP')) {
          const descs = DescList.from(
            s.memType,
            s.regions.map((r) => ({ addr: BigInt(r.addr), len: r.len, devId: r.devId })),
          );
          expect(a.checkRemoteMD(name, descs)).toBe(true);
        }
        a.invalidateRemoteMD(name);
        counts.loaded++;
      } catch (err) {
        if (err instanceof MismatchError) counts.mismatch++;
        else if (err instanceof BackendError && /no backend in common/.test((err as Error).message))
          counts.noCommonBackend++;
        else if (err instanceof InvalidParamError && /own/.test((err as Error).message))
          counts.ownName++;
        else throw err;
      }
      expect(a.remoteAgents.length).toBe(before);
    }
    expect(counts.mismatch).toBeGreaterThan(1000);
    expect(counts.loaded).toBeGreaterThan(0);
  }, 120_000);
});
