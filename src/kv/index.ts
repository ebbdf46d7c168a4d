export { BlockPool } from './block-pool.js';
export { BlockIdChecker, blockPairs } from './block-transfer.js';
export { checkCompatible, kvCompatHash } from './compat.js';
export {
  DEFAULT_KV_LABEL,
  KvCache,
  type BlockXferOptions,
  type KvCacheOptions,
} from './kv-cache.js';
export {
  KV_ARRANGEMENTS,
  KV_LAYOUT_FORMAT,
  KvLayout,
  decodeLayout,
  encodeLayout,
  type KvArrangement,
  type KvCompatFields,
  type KvLayoutSpec,
  type PublishedKvLayout,
} from './layout.js';
export {
  MAX_KV_REQUEST_ID_BYTES,
  NotifTracker,
  chunkNotif,
  lastChunkNotif,
  parseKvNotif,
  readDoneNotif,
  type ChunksResult,
  type KvNotif,
  type ReadsResult,
  type WaitOptions,
} from './notif-tracker.js';
export {
  PushSession,
  awaitPushedBlocks,
  pullBlocks,
  pushBlocks,
  releaseAfterReads,
} from './patterns.js';
export {
  DEFAULT_BLOCK_HASH_SEED,
  blockHash,
  prefixBlockHashes,
  type BlockHash,
  type BlockHashOptions,
} from './block-hash.js';
export {
  KvBlockManager,
  type KvBlockManagerEvents,
  type KvBlockManagerOptions,
  type KvManagerStats,
  type KvRemovedEvent,
  type KvStoredEvent,
  type OnboardResult,
} from './block-manager.js';
export type { KvMoveCounters, KvTierSpec, KvTierStats } from './kv-tier.js';
