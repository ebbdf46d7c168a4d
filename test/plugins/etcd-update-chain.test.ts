/**
 * The `update` value's chain (plugins/etcd/update.ts): what a reader decodes
 * from what a writer encodes, the older single-link form, and the bounds.
 */
import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  decodeUpdate,
  encodeUpdate,
  extendChain,
  metadataDigest,
  UPDATE_CHAIN_LINKS,
  UPDATE_CHAIN_MAX_BYTES,
  type UpdateLink,
} from '../../plugins/etcd/update.js';

const digest = (s: string) => createHash('sha256').update(s).digest('hex');
const link = (base: string, bytes: number, fill = 1): UpdateLink => ({
  base: digest(base),
  partial: new Uint8Array(bytes).fill(fill),
});

/** The chain a writer keeps after registrations on top of metadata m0, m1, …, m(n-1). */
function chainOf(n: number, bytes = 100): UpdateLink[] {
  let links: UpdateLink[] = [];
  for (let i = 0; i < n; i++) links = extendChain(links, digest(`m${i}`), link(`m${i}`, bytes, i));
  return links;
}

describe('etcd update chain', () => {
  it('decodes what it encodes, oldest first', () => {
    const links = chainOf(3);
    const back = decodeUpdate(encodeUpdate(links))!;
    expect(back.map((l) => l.base)).toEqual([digest('m0'), digest('m1'), digest('m2')]);
    expect(back.map((l) => Buffer.from(l.partial))).toEqual(
      links.map((l) => Buffer.from(l.partial)),
    );
  });

  it('reads the single-link form an older writer puts (base, then partial metadata)', () => {
    const partial = Buffer.from('partial metadata');
    const old = Buffer.concat([Buffer.from(metadataDigest(Buffer.from('m0')), 'hex'), partial]);
    expect(decodeUpdate(old)).toEqual([{ base: metadataDigest(Buffer.from('m0')), partial }]);
    expect(decodeUpdate(new Uint8Array(32))).toBeUndefined();
  });

  it(`keeps the last ${UPDATE_CHAIN_LINKS} links, and the newest alone past the byte bound`, () => {
    const long = chainOf(UPDATE_CHAIN_LINKS + 3);
    expect(long.map((l) => l.base)).toEqual(
      Array.from({ length: UPDATE_CHAIN_LINKS }, (_, i) => digest(`m${i + 3}`)),
    );
    const big = chainOf(3, UPDATE_CHAIN_MAX_BYTES / 2);
    expect(big.map((l) => l.base)).toEqual([digest('m2')]);
  });

  it('starts again at a link that does not follow the last one (a deregistration between)', () => {
    const links = extendChain(chainOf(3), digest('after-dereg'), link('m3', 10));
    expect(links.map((l) => l.base)).toEqual([digest('m3')]);
  });

  it('a truncated chain is not read as one', () => {
    const v = encodeUpdate(chainOf(2));
    expect(decodeUpdate(v.subarray(0, v.byteLength - 1))?.length ?? 0).toBeLessThanOrEqual(1);
  });
});
