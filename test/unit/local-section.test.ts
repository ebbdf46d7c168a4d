/**
 * The local memory section alone: registration with LOCAL and a fake
 * backend, the checks made before any backend is touched, the rollback of a
 * registration that fails part way, and large registrations in bulk.
 */
import { describe, expect, it } from 'vitest';

import { RegDescList } from '../../src/descriptors.js';
import {
  BackendError,
  InvalidParamError,
  NotAllowedError,
  NotFoundError,
} from '../../src/errors.js';
import { LocalSection } from '../../src/local-section.js';
import { toRegDescList } from '../../src/memory-input.js';
import { fakeRemote, ledger, localBackend } from './section-fixtures.js';

const ctx = { op: 'test', agent: 'a' };

/** n raw DRAM regions of 64 bytes, 128 apart from `base`, in the order of `order`. */
function raw(n: number, base = 0x10_0000, order?: number[]): RegDescList {
  const list = new RegDescList('DRAM', n);
  for (const i of order ?? [...Array(n).keys()]) list.addRegion(base + i * 128, 64, 0);
  return list;
}

describe('LocalSection', () => {
  it('registers buffers with LOCAL, with a loopback handle, and deregisters them', async () => {
    const local = await localBackend('a');
    const section = new LocalSection();
    const list = toRegDescList([Buffer.alloc(100), Buffer.alloc(200)]);
    const regions = section.register(list, [local], ctx);
    expect(regions.map((r) => r.len)).toEqual([100, 200]);
    expect(regions.every((r) => r.mds.has(local) && r.loopback.has(local))).toBe(true);
    expect(section.exact(list, ctx)).toEqual(regions);
    expect(section.deregister(list, undefined, ctx)).toEqual(regions);
    expect(section.regions('DRAM')).toHaveLength(0);
    expect(regions[0]!.mds.size).toBe(0);
    await local.close();
  });

  it('refuses overlaps and repeats before touching a backend', () => {
    const l = ledger();
    const section = new LocalSection();
    const fake = fakeRemote('FAKE', l);
    section.register(raw(1), [fake], ctx);
    const overlapsList = new RegDescList('DRAM', 2);
    overlapsList.addRegion(0x20_0000, 100, 0);
    overlapsList.addRegion(0x20_0010, 100, 0);
    expect(() => section.register(overlapsList, [fake], ctx)).toThrow(
      /descriptors 0 and 1 of the list overlap/,
    );
    const sameStart = new RegDescList('DRAM', 2);
    sameStart.addRegion(0x30_0000, 0, 0);
    sameStart.addRegion(0x30_0000, 8, 0);
    expect(() => section.register(sameStart, [fake], ctx)).toThrow(/start at the same address/);
    expect(() => section.register(raw(1, 0x10_0020), [fake], ctx)).toThrow(NotAllowedError);
    expect(() => section.register(raw(1), [fake], ctx)).toThrow(InvalidParamError);
    expect(l.live.size).toBe(1); // only the first registration's handle
  });

  it('adds backends to a registered region', () => {
    const l = ledger();
    const section = new LocalSection();
    const a = fakeRemote('A', l);
    const b = fakeRemote('B', l);
    const [first] = section.register(raw(1), [a], ctx);
    const [again] = section.register(raw(1), [a, b], ctx);
    expect(again).toBe(first);
    expect([...first!.mds.keys()]).toEqual([a, b]);
    section.deregister(raw(1), new Set([a]), ctx);
    expect(section.regions('DRAM')).toEqual([first]); // B still holds it
    section.deregister(raw(1), undefined, ctx);
    expect(section.regions('DRAM')).toHaveLength(0);
    expect(l.live.size).toBe(0);
  });

  it('rolls back a registration that fails part way', () => {
    const l = ledger();
    const section = new LocalSection();
    // The third descriptor is refused by the only backend.
    const fake = fakeRemote('FAKE', l, { failRegister: 3 });
    expect(() => section.register(raw(4), [fake], ctx)).toThrow(BackendError);
    expect(l.live.size).toBe(0);
    expect(section.regions('DRAM')).toHaveLength(0);
  });

  it('deregistration naming a region twice or an unknown one changes nothing', () => {
    const l = ledger();
    const section = new LocalSection();
    const fake = fakeRemote('FAKE', l);
    section.register(raw(2), [fake], ctx);
    const twice = new RegDescList('DRAM', 2);
    twice.addRegion(0x10_0000, 64, 0);
    twice.addRegion(0x10_0000, 64, 0);
    expect(() => section.deregister(twice, undefined, ctx)).toThrow(NotFoundError);
    expect(() => section.deregister(raw(1, 0x99_0000), undefined, ctx)).toThrow(NotFoundError);
    expect(section.regions('DRAM')).toHaveLength(2);
    expect(l.live.size).toBe(2);
  });

  it('registers and deregisters 100,000 regions in any order, in bulk', () => {
    const n = 100_000;
    const l = ledger();
    const section = new LocalSection();
    const fake = fakeRemote('FAKE', l);
    const order = [...Array(n).keys()].reverse();
    const t0 = performance.now();
    const regions = section.register(raw(n, 0x10_0000, order), [fake], ctx);
    expect(regions[0]!.addr).toBe(0x10_0000 + (n - 1) * 128); // list order kept
    const sorted = section.regions('DRAM');
    expect(sorted).toHaveLength(n);
    let ordered = true;
    for (let i = 1; i < n; i++) ordered &&= sorted[i]!.addr > sorted[i - 1]!.addr;
    expect(ordered).toBe(true);
    section.deregister(raw(n), undefined, ctx);
    expect(section.regions('DRAM')).toHaveLength(0);
    // Quadratic insertion or lookup would take minutes here.
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});
