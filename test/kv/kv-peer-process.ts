/**
 * A serving-engine side (prefill or decode) in its own process, driven by
 * kv-two-process.test.ts over stdin/stdout, one JSON object a line.
 */
import '../../src/polyfills.js';

import { Agent } from '../../src/agent.js';
import {
  BlockPool,
  KvCache,
  NotifTracker,
  PushSession,
  awaitPushedBlocks,
  releaseAfterReads,
  type KvLayoutSpec,
} from '../../src/kv/index.js';
import { serveJsonLines } from '../../testing/json-line-server.js';
import { fillKvBlocks, verifyKvBlocks } from '../../testing/pattern.js';

export type KvPeerCommand =
  | { id: number; cmd: 'init'; name: string; spec: KvLayoutSpec; params: Record<string, string> }
  | { id: number; cmd: 'load'; md: string }
  | { id: number; cmd: 'alloc'; n: number }
  | { id: number; cmd: 'fill'; ids: number[]; seed: number }
  | { id: number; cmd: 'check'; ids: number[]; seed: number; pattern: number[] }
  | { id: number; cmd: 'holdForReads'; req: string; ids: number[]; timeoutMs: number }
  | { id: number; cmd: 'awaitPushed'; req: string; ids: number[]; from: string; timeoutMs: number }
  | { id: number; cmd: 'pushChunk'; peer: string; req: string; local: number[]; remote: number[] }
  | { id: number; cmd: 'result'; req: string }
  | { id: number; cmd: 'stats' }
  | { id: number; cmd: 'labelOnlyMd' }
  | { id: number; cmd: 'fullMd' }
  | { id: number; cmd: 'close' };

export interface KvPeerReply {
  id: number;
  error?: string;
  [k: string]: unknown;
}

let agent: Agent;
let cache: KvCache;
let pool: BlockPool;
let tracker: NotifTracker;
const results = new Map<string, Promise<{ ok: boolean; error?: string; detail?: unknown }>>();
const sessions: PushSession[] = [];

function track(req: string, p: Promise<unknown>): void {
  results.set(
    req,
    p.then(
      (detail) => ({ ok: true, detail }),
      (err: Error) => ({ ok: false, error: `${err.name}: ${err.message}` }),
    ),
  );
}

serveJsonLines<KvPeerCommand>(
  {
    init: async (c) => {
      agent = await Agent.create({ name: c.name, backends: [{ type: 'TCP', params: c.params }] });
      cache = KvCache.create(agent, c.spec);
      pool = new BlockPool(c.spec.blocks);
      tracker = new NotifTracker(agent);
      return { md: Buffer.from(cache.getMetadata()).toString('base64') };
    },
    load: (c) => ({ name: cache.loadPeer(Buffer.from(c.md, 'base64')) }),
    alloc: (c) => ({ ids: Array.from(pool.allocate(c.n)) }),
    fill: (c) => fillKvBlocks(cache, c.ids, c.seed),
    check: (c) => ({ mismatch: verifyKvBlocks(cache, c.ids, c.seed, c.pattern) ?? null }),
    holdForReads: (c) =>
      track(c.req, releaseAfterReads(tracker, pool, c.req, c.ids, { timeoutMs: c.timeoutMs })),
    awaitPushed: (c) =>
      track(
        c.req,
        awaitPushedBlocks(tracker, pool, c.req, c.ids, { timeoutMs: c.timeoutMs, from: c.from }),
      ),
    pushChunk: async (c) => {
      // One chunk of a push that never finishes (the process is killed after it is written).
      const s = new PushSession(cache, c.peer, c.req);
      sessions.push(s);
      await s.chunk(c.local, c.remote);
    },
    result: async (c) => ({ ...(await results.get(c.req)!), freeCount: pool.freeCount }),
    labelOnlyMd: () => {
      // Connection info, the layout label and another region, but none of the cache's.
      const other = agent.registerMem(agent.alloc(4096).buffer);
      const md = agent.getLocalPartialMD(other, { labels: [cache.label], includeConnInfo: true });
      return { md: Buffer.from(md).toString('base64') };
    },
    // What discovery publishes: the agent's whole metadata, labels included.
    fullMd: () => ({ md: Buffer.from(agent.getLocalMD()).toString('base64') }),
    stats: () => ({ freeCount: pool.freeCount, pending: tracker.pending }),
    close: async () => {
      tracker.close();
      cache.close();
      await agent.close();
      setImmediate(() => process.exit(0));
    },
  },
  { onEnd: () => process.exit(0) },
);
