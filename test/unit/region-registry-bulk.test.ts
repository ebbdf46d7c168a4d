/**
 * RegionRegistry's bulk paths: insertMany (sort, check, one merge),
 * insertSorted (one merge of checked, sorted regions), removeMany, and
 * sortedOrder (the (devId, addr) order of columns; radix sort when large).
 */
import { describe, expect, it } from 'vitest';

import { NotAllowedError } from '../../src/errors.js';
import { RegionRegistry, sortedOrder } from '../../src/region-registry.js';

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

function shuffle<T>(xs: T[], rand: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

const key = (r: R) => [r.devId, r.addr, r.len];

describe('RegionRegistry bulk paths', () => {
  it('insertMany of unsorted regions gives the registry that inserts one by one give', () => {
    const rand = rng(5);
    const regions: R[] = [];
    for (let i = 0; i < 5000; i++) {
      regions.push({ addr: 2 ** 40 + i * 100, len: 1 + Math.floor(rand() * 99), devId: i % 3 });
    }
    const one = new RegionRegistry<R>();
    for (const r of regions) one.insert(r);
    const bulk = new RegionRegistry<R>();
    bulk.insertMany(shuffle(regions.slice(0, 2500), rand));
    bulk.insertMany(shuffle(regions.slice(2500), rand));
    expect(bulk.values().map(key)).toEqual(one.values().map(key));
    expect(bulk.findCovering(2 ** 40 + 4000 * 100, 1, 4000 % 3)).toBe(regions[4000]);
  });

  it('insertMany refuses overlaps, among the new regions or with present ones, adding nothing', () => {
    const reg = new RegionRegistry<R>();
    reg.insertMany([
      { addr: 1000, len: 100, devId: 0 },
      { addr: 1000, len: 100, devId: 1 },
    ]);
    const cases: R[][] = [
      [
        { addr: 5000, len: 10, devId: 0 },
        { addr: 5005, len: 10, devId: 0 },
      ],
      [
        { addr: 6000, len: 0, devId: 0 },
        { addr: 6000, len: 10, devId: 0 },
      ],
      [
        { addr: 3000, len: 10, devId: 0 },
        { addr: 1050, len: 10, devId: 0 },
      ],
      [{ addr: 990, len: 11, devId: 1 }],
      [{ addr: 1000, len: 100, devId: 0 }],
    ];
    for (const c of cases) {
      expect(() => reg.insertMany(c)).toThrow(NotAllowedError);
      expect(reg.size).toBe(2);
    }
    reg.insertMany([
      { addr: 990, len: 10, devId: 1 },
      { addr: 1100, len: 0, devId: 0 },
    ]);
    expect(reg.values().map(key)).toEqual([
      [0, 1000, 100],
      [0, 1100, 0],
      [1, 990, 10],
      [1, 1000, 100],
    ]);
  });

  it('insertSorted merges, and removeMany drops, in one pass', () => {
    const reg = new RegionRegistry<R>();
    const even = Array.from({ length: 1000 }, (_, i) => ({ addr: i * 20, len: 10, devId: 0 }));
    const odd = Array.from({ length: 1000 }, (_, i) => ({ addr: i * 20 + 10, len: 10, devId: 0 }));
    reg.insertSorted(even);
    reg.insertSorted(odd);
    expect(reg.values().map((r) => r.addr)).toEqual(Array.from({ length: 2000 }, (_, i) => i * 10));
    expect(reg.removeMany(odd.filter((_, i) => i % 2 === 0))).toBe(500);
    expect(reg.size).toBe(1500);
    expect(reg.findExact(10, 10, 0)).toBeUndefined();
    expect(reg.findExact(30, 10, 0)).toBe(odd[1]);
  });

  it('sortedOrder: undefined when sorted, else a stable (devId, addr) permutation', () => {
    for (const n of [0, 1, 10, 1000, 100_000]) {
      const rand = rng(n + 1);
      const devIds = new Float64Array(n);
      const addrs = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        devIds[i] = i % 7 === 0 ? 2 ** 33 + (i % 3) : i % 2;
        addrs[i] = Math.floor(rand() * 2 ** 53);
        if (i % 11 === 0 && i > 0) addrs[i] = addrs[i - 1]!; // ties keep their order
      }
      const order = sortedOrder(devIds, addrs, n);
      if (n < 2) {
        expect(order).toBeUndefined();
        continue;
      }
      expect(order).toBeDefined();
      expect(new Set(order).size).toBe(n);
      for (let k = 1; k < n; k++) {
        const a = order![k - 1]!;
        const b = order![k]!;
        const inOrder =
          devIds[a]! < devIds[b]! ||
          (devIds[a] === devIds[b] && (addrs[a]! < addrs[b]! || (addrs[a] === addrs[b] && a < b)));
        expect(inOrder).toBe(true);
      }
      const sortedDev = Float64Array.from(order!, (i) => devIds[i]!);
      const sortedAddr = Float64Array.from(order!, (i) => addrs[i]!);
      expect(sortedOrder(sortedDev, sortedAddr, n)).toBeUndefined();
    }
  });
});
