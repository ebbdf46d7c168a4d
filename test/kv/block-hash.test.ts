import { describe, expect, it } from 'vitest';

import { InvalidParamError } from '../../src/errors.js';
import { blockHash, prefixBlockHashes } from '../../src/kv/index.js';

const tokens = Array.from({ length: 50 }, (_, i) => (i * 7919) % 32000);

describe('prefix-chained block hashes', () => {
  it('names only full blocks, each from its parent and its tokens', () => {
    const h = prefixBlockHashes(tokens, 16);
    expect(h).toHaveLength(3); // 50 tokens: 3 full blocks, the partial 4th has no name
    expect(h[0]).toBe(blockHash(null, tokens.slice(0, 16)));
    expect(h[1]).toBe(blockHash(h[0]!, tokens.slice(16, 32)));
    expect(h[2]).toBe(blockHash(h[1]!, tokens.slice(32, 48)));
    for (const x of h) expect(x).toMatch(/^[0-9a-f]{64}$/);
  });

  it('equal blocks after different prefixes get different names; a shared prefix shares names', () => {
    const other = [...tokens];
    other[3] = 31999; // differs in block 0 only
    const a = prefixBlockHashes(tokens, 16);
    const b = prefixBlockHashes(other, 16);
    expect(tokens.slice(16, 48)).toEqual(other.slice(16, 48));
    for (let i = 0; i < 3; i++) expect(a[i]).not.toBe(b[i]);
    const longer = prefixBlockHashes([...tokens, ...tokens], 16);
    expect(longer.slice(0, 3)).toEqual(a);
  });

  it('extra keys (LoRA id, multimodal hashes) and the seed change the names', () => {
    const plain = prefixBlockHashes(tokens, 16);
    const lora = prefixBlockHashes(tokens, 16, { extraKeys: ['lora:7'] });
    const seeded = prefixBlockHashes(tokens, 16, { seed: 'cluster-b' });
    const perBlock = prefixBlockHashes(tokens, 16, {
      extraKeys: (b) => (b === 1 ? ['img:x'] : []),
    });
    expect(lora[0]).not.toBe(plain[0]);
    expect(seeded[0]).not.toBe(plain[0]);
    expect(perBlock[0]).toBe(plain[0]);
    expect(perBlock[1]).not.toBe(plain[1]);
    // Keys are length-prefixed: ['ab'] and ['a', 'b'] differ.
    expect(blockHash(null, [1], { extraKeys: ['ab'] })).not.toBe(
      blockHash(null, [1], { extraKeys: ['a', 'b'] }),
    );
  });

  it('refuses bad input with InvalidParamError', () => {
    expect(() => blockHash(null, [1.5])).toThrow(InvalidParamError);
    expect(() => blockHash(null, [-1])).toThrow(InvalidParamError);
    expect(() => blockHash(null, [2 ** 32])).toThrow(InvalidParamError);
    expect(() => blockHash(null, [])).toThrow(InvalidParamError);
    expect(() => blockHash('nothex', [1])).toThrow(InvalidParamError);
    expect(() => prefixBlockHashes(tokens, 0)).toThrow(InvalidParamError);
  });
});
