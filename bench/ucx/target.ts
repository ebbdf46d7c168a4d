/**
 * The target side of the UCX benchmark, in its own process: an agent with the
 * UCX backend and one registered region (allocated by UCX when argv[5] is
 * 'true'). Driven by target-process.ts, one JSON object a line: it announces
 * {event:'ready', md, addr}, answers {id, cmd:'load', md} (the initiator's
 * metadata) with {id}, and serves until stdin closes (its progress thread
 * does the serving; this thread only waits).
 */
import { createInterface } from 'node:readline';

import '../../src/polyfills.js';
import { Agent } from '../../src/agent.js';

const [name, paramsJson, bytes, ucxAlloc] = [
  process.argv[2]!,
  process.argv[3]!,
  Number(process.argv[4]),
  process.argv[5] === 'true',
];
const agent = await Agent.create({
  name,
  backends: [{ type: 'UCX', params: JSON.parse(paramsJson) as Record<string, string> }],
});
const buf = agent.alloc(bytes, ucxAlloc ? { backend: 'UCX' } : {}).buffer;
const reg = agent.registerMem(buf);
process.stdout.write(
  JSON.stringify({
    event: 'ready',
    md: Buffer.from(agent.getLocalMD()).toString('base64'),
    addr: reg.descs.at(0).addr.toString(),
  }) + '\n',
);
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const c = JSON.parse(line) as { id: number; cmd: 'load'; md: string };
  agent.loadRemoteMD(Buffer.from(c.md, 'base64'));
  process.stdout.write(JSON.stringify({ id: c.id }) + '\n');
});
rl.on('close', async () => {
  await agent.close();
  process.exit(0);
});
