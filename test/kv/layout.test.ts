import { describe, expect, it } from 'vitest';

import { InvalidParamError, MismatchError, NotFoundError } from '../../src/errors.js';
import {
  BlockPool,
  KV_ARRANGEMENTS,
  KvLayout,
  checkCompatible,
  decodeLayout,
  encodeLayout,
  kvCompatHash,
  parseKvNotif,
  readDoneNotif,
  chunkNotif,
  lastChunkNotif,
  type KvLayoutSpec,
} from '../../src/kv/index.js';
import { closedLayoutLabel } from '../../src/kv/layout.js';

const base: KvLayoutSpec = {
  layers: 3,
  blocks: 5,
  blockBytes: 64,
  elementSize: 2,
  arrangement: 'layer-kv',
};

function published(spec: KvLayoutSpec) {
  const l = new KvLayout(spec);
  const bases = Array.from({ length: l.regionCount }, (_, i) => 0x10000000 + i * 0x100000);
  return decodeLayout(encodeLayout(l, bases, kvCompatHash(l.compatFields())));
}

describe('KvLayout', () => {
  for (const arrangement of KV_ARRANGEMENTS) {
    it(`${arrangement}: slice addresses tile the regions exactly once`, () => {
      const l = new KvLayout({ ...base, arrangement });
      const bases = Array.from({ length: l.regionCount }, (_, i) => 1_000_000 * (i + 1));
      const addrs = l.sliceAddresses(bases);
      expect(addrs.length).toBe(3 * 2 * 5);
      expect(l.regionBytes * l.regionCount).toBe(l.totalBytes);
      const seen = new Set<number>();
      for (let layer = 0; layer < 3; layer++)
        for (let p = 0; p < 2; p++)
          for (let b = 0; b < 5; b++) {
            const { region, offset } = l.locate(layer, p, b);
            const a = addrs[(layer * 2 + p) * 5 + b]!;
            expect(a).toBe(bases[region]! + offset);
            expect(offset % 64).toBe(0);
            expect(offset + 64).toBeLessThanOrEqual(l.regionBytes);
            seen.add(a);
          }
      expect(seen.size).toBe(30);
    });
  }

  it('contiguous: one block holds all its layers and planes back to back', () => {
    const l = new KvLayout({ ...base, arrangement: 'contiguous' });
    expect(l.regionCount).toBe(1);
    expect(l.locate(0, 0, 2).offset).toBe(2 * l.bytesPerBlock);
    expect(l.locate(2, 1, 2).offset).toBe(3 * l.bytesPerBlock - 64);
  });

  it('orders slice indices so that consecutive blocks are adjacent in memory', () => {
    for (const arrangement of KV_ARRANGEMENTS) {
      const l = new KvLayout({ ...base, arrangement });
      const addrs = l.sliceAddresses(Array.from({ length: l.regionCount }, (_, i) => i * 1e6));
      const idx = l.sliceIndices([1, 2, 3], arrangement, new Uint32Array(18));
      let adjacent = 0;
      for (let k = 1; k < idx.length; k++)
        if (addrs[idx[k]!] === addrs[idx[k - 1]!]! + 64) adjacent++;
      // Runs break only between regions: 1 run per region.
      expect(adjacent).toBe(18 - l.regionCount);
    }
  });

  it('refuses bad specs with InvalidParamError naming the field', () => {
    const bad: [Partial<KvLayoutSpec>, RegExp][] = [
      [{ layers: 0 }, /layers/],
      [{ blocks: 1.5 }, /blocks/],
      [{ blockBytes: 63 }, /multiple of elementSize/],
      [{ elementSize: -1 }, /elementSize/],
      [{ planes: 3 as 2 }, /planes/],
      [{ arrangement: 'rows' as 'layer' }, /arrangement/],
      [{ memType: 'HBM' as 'DRAM' }, /memory type/],
    ];
    for (const [patch, msg] of bad) {
      expect(() => new KvLayout({ ...base, ...patch })).toThrow(InvalidParamError);
      expect(() => new KvLayout({ ...base, ...patch })).toThrow(msg);
    }
  });
});

describe('published layout and compatibility', () => {
  it('round-trips through the label encoding', () => {
    const p = published({ ...base, model: 'llama-8b/bf16' });
    expect(p.layout.toSpec()).toEqual(new KvLayout({ ...base, model: 'llama-8b/bf16' }).toSpec());
    expect(p.bases).toHaveLength(6);
  });

  it('refuses malformed labels with MismatchError', () => {
    expect(() => decodeLayout(Buffer.from('{'))).toThrow(MismatchError);
    expect(() => decodeLayout(Buffer.from('{"format":9}'))).toThrow(/format 9/);
    const l = new KvLayout(base);
    const good = JSON.parse(Buffer.from(encodeLayout(l, new Array(6).fill(4096), 'x')).toString());
    expect(() => decodeLayout(Buffer.from(JSON.stringify({ ...good, bases: ['1'] })))).toThrow(
      /region bases/,
    );
    expect(() =>
      decodeLayout(Buffer.from(JSON.stringify({ ...good, bases: new Array(6).fill('-5') }))),
    ).toThrow(/bad region base/);
    expect(() =>
      decodeLayout(Buffer.from(JSON.stringify({ ...good, spec: { ...good.spec, layers: 0 } }))),
    ).toThrow(MismatchError);
    expect(() => decodeLayout(closedLayoutLabel())).toThrow(NotFoundError);
  });

  it('accepts different block counts and arrangements', () => {
    const local = new KvLayout(base);
    expect(() =>
      checkCompatible(local, published({ ...base, blocks: 99, arrangement: 'contiguous' }), 'p'),
    ).not.toThrow();
  });

  it('refuses a layout that differs in layers, block size, element size, planes or model, naming the field', () => {
    const local = new KvLayout(base);
    const cases: [Partial<KvLayoutSpec>, string][] = [
      [{ layers: 4 }, 'layers: local 3'],
      [{ blockBytes: 128 }, 'blockBytes: local 64'],
      [{ elementSize: 4 }, 'elementSize: local 2'],
      [{ planes: 1 }, 'planes: local 2'],
      [{ model: 'other' }, 'model: local ""'],
    ];
    for (const [patch, field] of cases) {
      const remote = published({ ...base, ...patch });
      expect(() => checkCompatible(local, remote, 'peer')).toThrow(MismatchError);
      expect(() => checkCompatible(local, remote, 'peer')).toThrow(field);
    }
  });

  it('refuses a hash that does not match its fields', () => {
    const l = new KvLayout(base);
    const p = decodeLayout(encodeLayout(l, new Array(6).fill(4096), 'f'.repeat(64)));
    expect(() => checkCompatible(l, p, 'peer')).toThrow(/does not match its fields/);
  });
});

describe('BlockPool', () => {
  it('hands out the lowest ids first and takes them back', () => {
    const pool = new BlockPool(8);
    expect(Array.from(pool.allocate(3))).toEqual([0, 1, 2]);
    expect(pool.freeCount).toBe(5);
    pool.free([1]);
    expect(pool.isAllocated(1)).toBe(false);
    expect(pool.freeCount).toBe(6);
  });

  it('refuses double frees, foreign ids and over-allocation without changing anything', () => {
    const pool = new BlockPool(4);
    const ids = pool.allocate(2);
    expect(() => pool.free([ids[0]!, ids[0]!])).toThrow(InvalidParamError);
    expect(() => pool.free([ids[1]!, 3])).toThrow(/block 3/);
    expect(pool.freeCount).toBe(2);
    expect(pool.isAllocated(ids[0]!) && pool.isAllocated(ids[1]!)).toBe(true);
    expect(() => pool.allocate(3)).toThrow(/3 blocks asked, 2 free/);
    expect(pool.freeCount).toBe(2);
  });
});

describe('KV notification names', () => {
  it('formats and parses "<request>:<n>", chunks and the last one', () => {
    expect(readDoneNotif('req-17', 2)).toBe('req-17:2');
    expect(parseKvNotif('req-17:2')).toEqual({ requestId: 'req-17', kind: 'number', n: 2 });
    expect(parseKvNotif(chunkNotif('a:b', 3))).toEqual({ requestId: 'a:b', kind: 'number', n: 3 });
    expect(parseKvNotif(lastChunkNotif('a:b', 4))).toEqual({
      requestId: 'a:b',
      kind: 'last',
      n: 4,
    });
    expect(parseKvNotif('hello')).toBeUndefined();
    expect(parseKvNotif(':3')).toBeUndefined();
    expect(() => readDoneNotif('', 1)).toThrow(InvalidParamError);
  });
});
