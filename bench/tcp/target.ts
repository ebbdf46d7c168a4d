/**
 * The target side of the TCP benchmarks: one agent in its own process that
 * registers a region and serves it. Driven by target-process.ts over
 * stdin/stdout, one JSON object a line: it announces {event:'ready', md, addr},
 * then answers {id, cmd:'load', md} | {id, cmd:'elu-start'} |
 * {id, cmd:'elu-stop'} | {id, cmd:'close'} with {id, ...}.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

import { Agent } from '../../src/agent.js';

const cfg = JSON.parse(process.argv[2] ?? '{}') as {
  name: string;
  size: number;
  params: Record<string, string>;
};
const agent = await Agent.create({
  name: cfg.name,
  backends: [{ type: 'TCP', params: cfg.params }],
});
const { buffer } = agent.alloc(cfg.size);
const reg = agent.registerMem(buffer);
let elu: EventLoopUtilization | undefined;
let eluStart = 0;

function reply(o: object): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

reply({
  event: 'ready',
  md: Buffer.from(agent.getLocalMD()).toString('base64'),
  addr: reg.descs.at(0).addr.toString(),
});

// Keeps the process alive while it serves (the engine thread does the work).
const keepAlive = setInterval(() => {}, 1 << 30);

createInterface({ input: process.stdin }).on('line', async (line) => {
  const c = JSON.parse(line) as { id: number; cmd: string; md?: string };
  if (c.cmd === 'load') {
    agent.loadRemoteMD(Buffer.from(c.md!, 'base64'));
    reply({ id: c.id, ok: true });
  } else if (c.cmd === 'elu-start') {
    elu = performance.eventLoopUtilization();
    eluStart = performance.now();
    reply({ id: c.id, ok: true });
  } else if (c.cmd === 'elu-stop') {
    const d = performance.eventLoopUtilization(elu);
    reply({
      id: c.id,
      utilization: d.utilization,
      activeMs: d.active,
      wallMs: performance.now() - eluStart,
    });
  } else if (c.cmd === 'close') {
    clearInterval(keepAlive);
    reg.close();
    await agent.close();
    reply({ id: c.id, ok: true });
    process.exit(0);
  }
});
