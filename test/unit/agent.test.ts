import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { DescList } from '../../src/descriptors.js';
import {
  CanceledError,
  InvalidParamError,
  MismatchError,
  NoTelemetryError,
  NotAllowedError,
  NotFoundError,
  NotPostedError,
} from '../../src/errors.js';
import { native } from '../../src/native.js';

let agent: Agent;
beforeEach(async () => {
  agent = await Agent.create({ name: 'unit', backends: ['LOCAL'] });
});
afterEach(async () => {
  await agent.close();
});

const MiB = 1024 * 1024;

describe('Agent', () => {
  it('needs a name', async () => {
    await expect(Agent.create({ name: '' })).rejects.toBeInstanceOf(InvalidParamError);
    await expect(Agent.create({} as any)).rejects.toBeInstanceOf(InvalidParamError);
  });

  it('refuses a waitSpinUs that is not a number of µs from 0 to 1 s', async () => {
    for (const bad of [-1, Number.NaN, Infinity, 2_000_000, '5' as any]) {
      await expect(Agent.create({ name: 'x', waitSpinUs: bad })).rejects.toThrow(/waitSpinUs/);
    }
    await (await Agent.create({ name: 'x', waitSpinUs: 0 })).close();
  });

  it('alloc gives zeroed, page-aligned memory', () => {
    const { buffer, desc } = agent.alloc(10_000);
    expect(buffer.length).toBe(10_000);
    expect(desc.addr % BigInt(native().pageSize)).toBe(0n);
    expect(buffer.every((b) => b === 0)).toBe(true);
    expect(() => agent.alloc(-1)).toThrow(InvalidParamError);
  });

  it('refuses bad registrations and registers nothing from a bad list', () => {
    expect(() => agent.registerMem(123 as any)).toThrow(InvalidParamError);
    expect(() => agent.registerMem([])).toThrow(InvalidParamError);
    expect(() => agent.registerMem(new Uint8Array(8), { memType: 'VRAM' })).toThrow(
      InvalidParamError,
    );
    expect(() => agent.registerMem([{ addr: 4096, len: 10 }], { memType: 'VRAM' })).toThrow(
      NotFoundError,
    );
    const buf = agent.alloc(8192).buffer;
    expect(() => agent.registerMem([buf.subarray(0, 4096), buf.subarray(100, 200)])).toThrow(
      NotAllowedError,
    );
    expect(() => agent.registerMem([buf.subarray(0, 4096), buf.subarray(0, 10)])).toThrow(
      NotAllowedError,
    );
    // Nothing of the refused list stayed registered.
    agent.registerMem(buf.subarray(0, 4096)).close();
    agent.registerMem(buf.subarray(100, 200)).close();
    expect(() => agent.registerMem(buf, { backends: ['NOPE'] })).toThrow(NotFoundError);
  });

  it('metadata calls name what is wrong', () => {
    expect(() => agent.getLocalMD()).toThrow(/no remote-capable backend/);
    expect(() => agent.getLocalPartialMD()).toThrow(InvalidParamError);
    expect(() => agent.loadRemoteMD(new Uint8Array([1, 2, 3]))).toThrow(MismatchError);
    expect(() => agent.invalidateRemoteMD('ghost')).toThrow(NotFoundError);
    expect(agent.checkRemoteMD('ghost')).toBe(false);
    expect(() => agent.getRemoteRegions('ghost')).toThrow(NotFoundError);
    expect(() => agent.prepXferDlist('ghost', [{ addr: 0n, len: 1 }])).toThrow(NotFoundError);
    expect(() => agent.genNotif('ghost', 'hi')).toThrow(NotFoundError);
    return expect(agent.makeConnection('ghost')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('transfer calls refuse bad arguments', () => {
    const reg = agent.registerMem(agent.alloc(4096).buffer);
    expect(() => agent.createXferReq('COPY' as any, reg.descs, reg.descs, agent.name)).toThrow(
      InvalidParamError,
    );
    expect(() => agent.createXferReq('WRITE', reg.descs, reg.descs, '')).toThrow(InvalidParamError);
    expect(() => agent.prepXferDlist('', new DescList('DRAM'))).toThrow(InvalidParamError);
    expect(() => agent.prepXferDlist('', [{ addr: 1n, len: 1 }])).toThrow(NotFoundError);
    expect(() => agent.releaseXferReq({} as any)).toThrow(InvalidParamError);
    expect(() => agent.getXferStatus({} as any)).toThrow(InvalidParamError);
  });

  it('queues notifications for getNotifs when nobody listens, grouped by sender, drained once', async () => {
    agent.genNotif(agent.name, 'one');
    agent.genNotif(agent.name, new Uint8Array([2]));
    await new Promise((r) => setImmediate(r));
    const into = new Map([['earlier', [new Uint8Array([0])]]]);
    agent.getNotifs(into);
    expect([...into.keys()]).toEqual(['earlier', 'unit']);
    expect(into.get('unit')!.map((m) => Buffer.from(m).toString('hex'))).toEqual([
      Buffer.from('one').toString('hex'),
      '02',
    ]);
    expect(agent.getNotifs().size).toBe(0);
  });

  it('an aborted signal stops a one-shot transfer', async () => {
    const a = agent.registerMem(agent.alloc(64 * MiB).buffer);
    const b = agent.registerMem(agent.alloc(64 * MiB).buffer);
    const ac = new AbortController();
    ac.abort(new Error('stop now'));
    await expect(agent.write(a.descs, b.descs, agent.name, { signal: ac.signal })).rejects.toThrow(
      'stop now',
    );
    const ac2 = new AbortController();
    const p = agent.write(a.descs, b.descs, agent.name, { signal: ac2.signal });
    ac2.abort(new Error('changed my mind'));
    await expect(p).rejects.toThrow('changed my mind');
  });

  it('release aborts a transfer in flight; deregistration fails one that touches the region', async () => {
    const a = agent.registerMem(agent.alloc(64 * MiB).buffer);
    const b = agent.registerMem(agent.alloc(64 * MiB).buffer);
    const req = agent.createXferReq('WRITE', a.descs, b.descs, agent.name);
    expect(agent.postXferReq(req)).toBe('IN_PROG');
    const done = req.done;
    agent.releaseXferReq(req);
    await expect(done).rejects.toBeInstanceOf(CanceledError);

    const req2 = agent.createXferReq('WRITE', a.descs, b.descs, agent.name);
    agent.postXferReq(req2);
    b.close();
    await expect(req2.done).rejects.toBeInstanceOf(NotFoundError);
    expect(() => agent.getXferStatus(req2)).toThrow(NotFoundError);
  });

  it('does not merge descriptors across a region boundary', () => {
    const buf = agent.alloc(8192).buffer;
    const lo = agent.registerMem(buf.subarray(0, 4096));
    const hi = agent.registerMem(buf.subarray(4096));
    const dst = agent.registerMem(agent.alloc(8192).buffer);
    const local = agent.prepXferDlist('', DescList.from('DRAM', [lo.descs.at(0), hi.descs.at(0)]));
    const d = dst.descs.at(0);
    const remote = agent.prepXferDlist(agent.name, [
      { addr: d.addr, len: 4096 },
      { addr: d.addr + 4096n, len: 4096 },
    ]);
    expect(agent.makeXferReq('WRITE', local, [0, 1], remote, [0, 1]).descCount).toBe(2);
    expect(
      agent.makeXferReq('WRITE', local, [0, 1], remote, [0, 1], { skipDescMerge: true }).descCount,
    ).toBe(2);
  });

  it('close is idempotent and async-disposable', async () => {
    const other = await Agent.create({ name: 'disposable', backends: ['LOCAL'] });
    other.registerMem(new Uint8Array(100));
    await other[Symbol.asyncDispose]();
    expect(other.closed).toBe(true);
    await other.close();
  });
});

describe('telemetry', () => {
  it('is NoTelemetryError when off, timings of the last post when on', async () => {
    const reg = agent.registerMem(agent.alloc(8192).buffer);
    const half = (o: number) => [{ addr: reg.descs.at(0).addr + BigInt(o), len: 4096 }];
    const off = agent.createXferReq('WRITE', half(0), half(4096), agent.name);
    agent.postXferReq(off);
    await off.done;
    expect(() => agent.getXferTelemetry(off)).toThrow(NoTelemetryError);

    const t = await Agent.create({ name: 'tele', backends: ['LOCAL'], captureTelemetry: true });
    try {
      const r = t.registerMem(t.alloc(8192).buffer);
      const at = (o: number) => [{ addr: r.descs.at(0).addr + BigInt(o), len: 4096 }];
      const req = t.createXferReq('WRITE', at(0), at(4096), t.name);
      expect(() => t.getXferTelemetry(req)).toThrow(NotPostedError);
      t.postXferReq(req);
      await req.done;
      const tel = t.getXferTelemetry(req);
      expect(tel.totalBytes).toBe(4096);
      expect(tel.descCount).toBe(1);
      expect(tel.xferDuration).toBeGreaterThanOrEqual(tel.postDuration);
    } finally {
      await t.close();
    }
  });
});
