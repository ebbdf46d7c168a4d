import { describe, expect, it } from 'vitest';

import { NotAllowedError } from '../../src/errors.js';
import { RegionRegistry } from '../../src/region-registry.js';

interface R {
  addr: number;
  len: number;
  devId: number;
}

function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) >>> 0;
    return x / 2 ** 32;
  };
}

describe('RegionRegistry', () => {
  it('keeps regions sorted by (devId, addr) whatever the insertion order', () => {
    const reg = new RegionRegistry<R>();
    const regions: R[] = [
      { addr: 500, len: 10, devId: 0 },
      { addr: 100, len: 10, devId: 1 },
      { addr: 100, len: 10, devId: 0 },
      { addr: 300, len: 50, devId: 0 },
    ];
    for (const r of regions) reg.insert(r);
    expect(reg.values().map((r) => [r.devId, r.addr])).toEqual([
      [0, 100],
      [0, 300],
      [0, 500],
      [1, 100],
    ]);
  });

  it('finds the covering region, respecting edges and devices', () => {
    const reg = new RegionRegistry<R>();
    const a = { addr: 1000, len: 100, devId: 0 };
    const b = { addr: 1100, len: 100, devId: 0 };
    const c = { addr: 1000, len: 100, devId: 2 };
    [b, c, a].forEach((r) => reg.insert(r));
    expect(reg.findCovering(1000, 100, 0)).toBe(a);
    expect(reg.findCovering(1050, 50, 0)).toBe(a);
    expect(reg.findCovering(1099, 2, 0)).toBeUndefined(); // spans two regions
    expect(reg.findCovering(1100, 0, 0)).toBe(b);
    expect(reg.findCovering(1199, 1, 0)).toBe(b);
    expect(reg.findCovering(1200, 1, 0)).toBeUndefined();
    expect(reg.findCovering(999, 1, 0)).toBeUndefined();
    expect(reg.findCovering(1000, 10, 1)).toBeUndefined();
    expect(reg.findCovering(1000, 10, 2)).toBe(c);
  });

  it('refuses overlaps, allows neighbours, and finds exact matches', () => {
    const reg = new RegionRegistry<R>();
    reg.insert({ addr: 100, len: 100, devId: 0 });
    expect(() => reg.insert({ addr: 150, len: 10, devId: 0 })).toThrow(NotAllowedError);
    expect(() => reg.insert({ addr: 50, len: 51, devId: 0 })).toThrow(NotAllowedError);
    expect(() => reg.insert({ addr: 100, len: 100, devId: 0 })).toThrow(NotAllowedError);
    reg.insert({ addr: 200, len: 5, devId: 0 });
    reg.insert({ addr: 50, len: 50, devId: 0 });
    reg.insert({ addr: 150, len: 10, devId: 1 });
    expect(reg.findExact(100, 100, 0)?.addr).toBe(100);
    expect(reg.findExact(100, 99, 0)).toBeUndefined();
    expect(reg.size).toBe(4);
  });

  it('zero-length regions cover only zero-length descriptors at their address', () => {
    const reg = new RegionRegistry<R>();
    const z = { addr: 10, len: 0, devId: 0 };
    reg.insert(z);
    expect(reg.findCovering(10, 0, 0)).toBe(z);
    expect(reg.findCovering(10, 1, 0)).toBeUndefined();
  });

  it('agrees with a linear scan on random regions and queries', () => {
    const next = rng(7);
    const reg = new RegionRegistry<R>();
    const all: R[] = [];
    for (let i = 0; i < 400; i++) {
      const r = {
        addr: Math.floor(next() * 100_000),
        len: 1 + Math.floor(next() * 300),
        devId: Math.floor(next() * 3),
      };
      const overlaps = all.some(
        (o) => o.devId === r.devId && o.addr < r.addr + r.len && r.addr < o.addr + o.len,
      );
      if (overlaps) expect(() => reg.insert(r)).toThrow(NotAllowedError);
      else {
        reg.insert(r);
        all.push(r);
      }
    }
    for (let q = 0; q < 5000; q++) {
      const addr = Math.floor(next() * 100_500);
      const len = Math.floor(next() * 200);
      const devId = Math.floor(next() * 3);
      const expected = all.find(
        (o) => o.devId === devId && addr >= o.addr && addr + len <= o.addr + o.len,
      );
      expect(reg.findCovering(addr, len, devId)).toBe(expected);
    }
    for (const r of all.slice(0, 100)) expect(reg.remove(r)).toBe(true);
    expect(reg.size).toBe(all.length - 100);
  });
});
