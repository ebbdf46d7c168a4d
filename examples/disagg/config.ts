import type { KvLayoutSpec } from '../../src/kv/index.js';

/** What run.ts passes to both sides (as JSON in argv[2]). */
export interface DisaggConfig {
  /** The model's KV shape; both sides must agree on all but blocks and arrangement. */
  layout: KvLayoutSpec;
  /** Decode's own block count and arrangement. */
  decode: { blocks: number; arrangement: KvLayoutSpec['arrangement'] };
  requests: number;
  /** Blocks per request: from min to max, chosen deterministically per request. */
  minBlocks: number;
  maxBlocks: number;
  /** Requests decode pulls at once. */
  concurrency: number;
  /** How long prefill holds a request's blocks for a reader that does not come. */
  holdTimeoutMs: number;
  /** TCP backend parameters (loopback by default). */
  params: Record<string, string>;
  /** Find prefill through the gossip discovery plugin (default) instead of a metadata blob. */
  discovery: boolean;
  /** Set by run.ts for decode: prefill's name and the address to seed discovery with. */
  seed?: { name: string; addr: string };
}

export const DEFAULT_CONFIG: DisaggConfig = {
  // 16 tokens × 2 KV heads × 128 dims × bf16 = 8 KiB per block, layer and plane.
  layout: {
    layers: 16,
    blocks: 512,
    blockBytes: 8192,
    elementSize: 2,
    planes: 2,
    arrangement: 'layer-kv',
    model: 'example-1b/bf16',
  },
  decode: { blocks: 256, arrangement: 'layer-kv' },
  requests: 200,
  minBlocks: 4,
  maxBlocks: 32,
  concurrency: 4,
  holdTimeoutMs: 30_000,
  params: { bind_addr: '127.0.0.1', port: '0' },
  discovery: true,
};

/** Blocks of request r (deterministic, so both sides could compute it). */
export function blocksOf(cfg: DisaggConfig, r: number): number {
  const h = Math.imul(r + 7, 0x9e3779b1) >>> 0;
  return cfg.minBlocks + (h % (cfg.maxBlocks - cfg.minBlocks + 1));
}

/** One line of the control channel from prefill to decode (JSON). */
export type ControlMessage =
  | { type: 'metadata'; md: string }
  /** With discovery: prefill's name and its libp2p address, the seed decode starts from. */
  | { type: 'seed'; name: string; addr: string }
  | { type: 'request'; request: number; id: string; blocks: number[]; at: number }
  | { type: 'end' }
  | { type: 'summary'; released: number; failed: number; freeBlocks: number; totalBlocks: number };
