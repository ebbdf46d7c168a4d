/**
 * The target side of the TCP benchmarks: one agent in its own process that
 * registers a region and serves it. Driven over stdin/stdout, one JSON object
 * a line: {cmd:'load', md} | {cmd:'elu-start'} | {cmd:'elu-stop'} | {cmd:'quit'}.
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
  md: Buffer.from(agent.getLocalMD()).toString('base64'),
  addr: reg.descs.at(0).addr.toString(),
});

// Keeps the process alive while it serves (the engine thread does the work).
const keepAlive = setInterval(() => {}, 1 << 30);

createInterface({ input: process.stdin }).on('line', async (line) => {
  const c = JSON.parse(line) as { cmd: string; md?: string };
  if (c.cmd === 'load') {
    agent.loadRemoteMD(Buffer.from(c.md!, 'base64'));
    reply({ ok: true });
  } else if (c.cmd === 'elu-start') {
    elu = performance.eventLoopUtilization();
    eluStart = performance.now();
    reply({ ok: true });
  } else if (c.cmd === 'elu-stop') {
    const d = performance.eventLoopUtilization(elu);
    reply({ utilization: d.utilization, activeMs: d.active, wallMs: performance.now() - eluStart });
  } else if (c.cmd === 'quit') {
    clearInterval(keepAlive);
    reg.close();
    await agent.close();
    reply({ ok: true });
    process.exit(0);
  }
});
