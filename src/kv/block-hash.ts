import { createHash } from 'node:crypto';

import { InvalidParamError } from '../errors.js';

/**
 * Prefix-chained block names, as vLLM's automatic prefix caching names KV
 * blocks: a full block of `blockTokens` tokens is named by
 * hash(parent block's hash, this block's token ids, extra keys), so equal
 * names mean equal prefixes (not just equal blocks), and a partial last block
 * has no name (only full blocks are cached). vLLM hashes the tuple
 * (parent_block_hash, token ids, extra_keys) with sha256 (or Python's hash)
 * and starts the chain at a root value (NONE_HASH); Dynamo's KV block manager
 * chains the same way (a sequence hash from the parent's sequence hash and the
 * block's token hash). Here: SHA-256 over a fixed binary encoding, and the
 * root is a seed that every process must share for names to agree across
 * processes (a router, a peer tier).
 */

/** A block name: 64 lowercase hex digits (SHA-256). */
export type BlockHash = string;

export interface BlockHashOptions {
  /** Starts the chain (vLLM's NONE_HASH); every process that shares blocks uses the same. */
  seed?: string;
  /**
   * What else makes the KV differ for equal tokens (vLLM's extra keys: LoRA
   * id, multimodal input hashes, cache salt): one list for every block, or
   * one list per block.
   */
  extraKeys?: readonly string[] | ((blockIndex: number) => readonly string[]);
}

export const DEFAULT_BLOCK_HASH_SEED = 'nixl-ts/kv/block-hash/v1';

const rootCache = new Map<string, Buffer>();

function root(seed: string): Buffer {
  let r = rootCache.get(seed);
  if (!r) {
    r = createHash('sha256').update('root\0').update(seed).digest();
    if (rootCache.size < 16) rootCache.set(seed, r);
  }
  return r;
}

function checkHash(h: string, what: string): void {
  if (typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h))
    throw new InvalidParamError(`${what}: not a block hash (64 hex digits): ${String(h)}`);
}

/**
 * The name of one full block: its parent's name (null for the first block)
 * and its token ids (unsigned 32-bit integers).
 */
export function blockHash(
  parent: BlockHash | null,
  tokens: ArrayLike<number>,
  opts: { seed?: string; extraKeys?: readonly string[] } = {},
): BlockHash {
  if (parent !== null) checkHash(parent, 'blockHash parent');
  if (tokens.length === 0) throw new InvalidParamError('blockHash: a block has at least one token');
  const words = new Uint32Array(tokens.length + 1);
  words[0] = tokens.length;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (!Number.isInteger(t) || t < 0 || t > 0xffff_ffff)
      throw new InvalidParamError(`blockHash: token ${i} is ${String(t)}, not a u32 token id`);
    words[i + 1] = t;
  }
  const h = createHash('sha256');
  h.update(
    parent === null ? root(opts.seed ?? DEFAULT_BLOCK_HASH_SEED) : Buffer.from(parent, 'hex'),
  );
  // Little-endian on every platform Node runs on; the length prefix keeps fields apart.
  h.update(new Uint8Array(words.buffer));
  for (const k of opts.extraKeys ?? []) {
    const b = Buffer.from(String(k), 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    h.update(len).update(b);
  }
  return h.digest('hex');
}

/**
 * The names of every full block of a token sequence, in order (a trailing
 * partial block is left out, as vLLM caches only full blocks).
 */
export function prefixBlockHashes(
  tokens: ArrayLike<number>,
  blockTokens: number,
  opts: BlockHashOptions = {},
): BlockHash[] {
  if (!Number.isSafeInteger(blockTokens) || blockTokens <= 0)
    throw new InvalidParamError(`prefixBlockHashes: bad blockTokens ${String(blockTokens)}`);
  const n = Math.floor(tokens.length / blockTokens);
  const out: BlockHash[] = [];
  let parent: BlockHash | null = null;
  for (let b = 0; b < n; b++) {
    const slice = Array.prototype.slice.call(tokens, b * blockTokens, (b + 1) * blockTokens);
    const extra = typeof opts.extraKeys === 'function' ? opts.extraKeys(b) : opts.extraKeys;
    parent = blockHash(parent, slice as number[], { seed: opts.seed, extraKeys: extra });
    out.push(parent);
  }
  return out;
}

export { checkHash as checkBlockHash };
