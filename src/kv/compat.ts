import { createHash } from 'node:crypto';

import { MismatchError } from '../errors.js';
import type { KvCompatFields, KvLayout, PublishedKvLayout } from './layout.js';

/** Bumped when the hashed fields or their encoding change. */
const COMPAT_VERSION = 1;

const FIELDS: readonly (keyof KvCompatFields)[] = [
  'layers',
  'planes',
  'blockBytes',
  'elementSize',
  'memType',
  'model',
];

/**
 * A hash over everything two caches must agree on to exchange blocks, as
 * vLLM's compatibility hash: layers, K/V planes, block size, element size,
 * memory type and model. Block counts and arrangements may differ.
 */
export function kvCompatHash(fields: KvCompatFields): string {
  const h = createHash('sha256');
  h.update(`nixl-ts/kv-compat/${COMPAT_VERSION}\n`);
  for (const f of FIELDS) h.update(`${f}=${String(fields[f])}\n`);
  return h.digest('hex');
}

/**
 * Refuses a peer's layout that this cache cannot exchange blocks with, with a
 * MismatchError naming each field that differs (or a hash that does not
 * match its own fields, e.g. from another compatibility version).
 */
export function checkCompatible(local: KvLayout, remote: PublishedKvLayout, peer: string): void {
  const mine = local.compatFields();
  const theirs = remote.layout.compatFields();
  const diffs = FIELDS.filter((f) => mine[f] !== theirs[f]).map(
    (f) => `${f}: local ${JSON.stringify(mine[f])}, '${peer}' ${JSON.stringify(theirs[f])}`,
  );
  if (diffs.length > 0)
    throw new MismatchError(`KV layout of '${peer}' is incompatible (${diffs.join('; ')})`, {
      op: 'kv.connectPeer',
    });
  if (remote.compatHash !== kvCompatHash(theirs))
    throw new MismatchError(
      `KV layout of '${peer}' carries compatibility hash ${remote.compatHash.slice(0, 12)}… that does not match its fields (another compatibility version?)`,
      { op: 'kv.connectPeer' },
    );
}
