/**
 * The prefill side of the KV benchmark: one agent in its own process with a
 * KV cache of the benchmark's shape, every block filled with the test pattern
 * (testing/pattern.ts, fillKvBlocks) so the decode side can check where each
 * slice landed. Driven as a JsonLineChild over stdin/stdout: it announces
 * {event:'ready', md} once, then answers {id, cmd:'close'}.
 */
import { createInterface } from 'node:readline';

import { Agent } from '../../src/agent.js';
import { KvCache, type KvLayoutSpec } from '../../src/kv/index.js';
import { fillKvBlocks } from '../../testing/pattern.js';

const cfg = JSON.parse(process.argv[2] ?? '{}') as {
  name: string;
  spec: KvLayoutSpec;
  params: Record<string, string>;
  seed: number;
};
const agent = await Agent.create({
  name: cfg.name,
  backends: [{ type: 'TCP', params: cfg.params }],
});
const cache = KvCache.create(agent, cfg.spec);
// Writes every byte (so every page is touched: no zero-page reads).
fillKvBlocks(
  cache,
  Uint32Array.from({ length: cache.layout.blocks }, (_, b) => b),
  cfg.seed,
);

const keepAlive = setInterval(() => {}, 1 << 30);
process.stdout.write(
  JSON.stringify({ event: 'ready', md: Buffer.from(cache.getMetadata()).toString('base64') }) +
    '\n',
);

createInterface({ input: process.stdin }).on('line', async (line) => {
  const c = JSON.parse(line) as { id: number; cmd: string };
  if (c.cmd === 'close') {
    clearInterval(keepAlive);
    cache.close();
    await agent.close();
    process.stdout.write(JSON.stringify({ id: c.id }) + '\n');
    process.exit(0);
  }
});
