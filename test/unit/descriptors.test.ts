import { describe, expect, it } from 'vitest';

import { DescList, RegDescList } from '../../src/descriptors.js';
import { InvalidParamError } from '../../src/errors.js';

describe('DescList', () => {
  it('packs descriptors and reads them back as bigints', () => {
    const l = DescList.from('DRAM', [
      { addr: 0x1000n, len: 10 },
      { addr: 0x2000, len: 20, devId: 3 },
    ]);
    expect(l.length).toBe(2);
    expect(l.at(0)).toEqual({ addr: 0x1000n, len: 10, devId: 0 });
    expect(l.at(1)).toEqual({ addr: 0x2000n, len: 20, devId: 3 });
    expect([...l].map((d) => d.len)).toEqual([10, 20]);
    expect(l.totalBytes()).toBe(30);
  });

  it('grows past its initial capacity', () => {
    const l = new DescList('DRAM', 1);
    for (let i = 0; i < 1000; i++) l.add(i * 16, 16);
    expect(l.length).toBe(1000);
    expect(l.at(999).addr).toBe(999n * 16n);
  });

  it('builds from parallel arrays and checks their lengths', () => {
    const l = DescList.fromArrays('VRAM', [1, 2], [3, 4], [0, 1]);
    expect(l.memType).toBe('VRAM');
    expect(l.at(1)).toEqual({ addr: 2n, len: 4, devId: 1 });
    expect(() => DescList.fromArrays('DRAM', [1], [1, 2])).toThrow(InvalidParamError);
  });

  it('rejects bad values with InvalidParamError and stays unchanged', () => {
    const l = new DescList('DRAM');
    expect(() => l.add(-1, 1)).toThrow(InvalidParamError);
    expect(() => l.add(1.5, 1)).toThrow(InvalidParamError);
    expect(() => l.add(1, -4)).toThrow(InvalidParamError);
    expect(() => l.add(2n ** 60n, 1)).toThrow(/outside/);
    expect(() => l.add(Number.MAX_SAFE_INTEGER, 2)).toThrow(/overflows/);
    expect(() => l.add(0, 1, -1)).toThrow(InvalidParamError);
    expect(l.length).toBe(0);
    expect(() => l.at(0)).toThrow(InvalidParamError);
    expect(() => new DescList('GPU' as any)).toThrow(/unknown memory type/);
  });

  it('registration lists carry metaInfo per descriptor', () => {
    const r = RegDescList.from('FILE', [
      { addr: 0, len: 0, devId: 7, metaInfo: new Uint8Array([1, 2]) },
    ]);
    expect(r.metaInfo[0]).toEqual(new Uint8Array([1, 2]));
    expect(r.at(0).devId).toBe(7);
  });
});
