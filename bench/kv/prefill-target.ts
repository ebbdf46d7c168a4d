/**
 * The prefill side of the KV benchmark: one agent in its own process with a
 * KV cache of the benchmark's shape, every slice stamped with its (layer,
 * plane, block) so the decode side can check where each one landed. Driven
 * over stdin/stdout: it prints {md, bases} once, then answers {cmd:'quit'}.
 */
import { createInterface } from 'node:readline';

import { Agent } from '../../src/agent.js';
import { KvCache, type KvLayoutSpec } from '../../src/kv/index.js';

const cfg = JSON.parse(process.argv[2] ?? '{}') as {
  name: string;
  spec: KvLayoutSpec;
  params: Record<string, string>;
};
const agent = await Agent.create({
  name: cfg.name,
  backends: [{ type: 'TCP', params: cfg.params }],
});
const cache = KvCache.create(agent, cfg.spec);
const { layers, planes, blocks } = cache.layout;
// Touch every page (no zero-page reads), then stamp each slice.
for (const v of cache.views) v!.fill(0x5a);
for (let l = 0; l < layers; l++)
  for (let p = 0; p < planes; p++)
    for (let b = 0; b < blocks; b++) {
      const s = cache.sliceView(l, p, b);
      new DataView(s.buffer, s.byteOffset, 8).setUint32(0, (l << 24) | (p << 20) | b, true);
    }

const keepAlive = setInterval(() => {}, 1 << 30);
process.stdout.write(
  JSON.stringify({ md: Buffer.from(cache.getMetadata()).toString('base64') }) + '\n',
);

createInterface({ input: process.stdin }).on('line', async (line) => {
  const c = JSON.parse(line) as { cmd: string };
  if (c.cmd === 'quit') {
    clearInterval(keepAlive);
    cache.close();
    await agent.close();
    process.stdout.write('{"ok":true}\n');
    process.exit(0);
  }
});
