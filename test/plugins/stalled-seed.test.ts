/**
 * A seed whose process does not answer a connection the kernel accepted (in
 * a start, a seed whose event loop turns slowly leaves joiners in its accept
 * queue for seconds), seen from that seed's side, in its own process: a plain
 * TCP server that takes every connection and never writes. The joiner gives
 * the dial up after seeds' stall limit (1.5 s), not the 10 s dial limit, and
 * dials again (its only seed here; with several, the next one) without the
 * back-off of a failed dial.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

import { afterEach, describe, expect, it } from 'vitest';

import { parseClusterKey } from '../../plugins/gossip/cluster-key.js';
import { createControlNode, type ControlNode } from '../../plugins/libp2p-node/index.js';
import { seeds } from '../../plugins/seeds/index.js';
import { createLogger } from '../../src/logger.js';
import { TEST_CLUSTER_KEY } from './helpers.js';

/** Prints its port, then one line per connection opened and closed, with the time. */
const SILENT_SERVER = `
const net = require('node:net');
const say = (o) => process.stdout.write(JSON.stringify({ ...o, at: Date.now() }) + '\\n');
let n = 0;
const server = net.createServer((s) => {
  const id = ++n;
  say({ event: 'open', id });
  s.on('error', () => {});
  s.resume(); // reads (and drops) what the joiner sends: a socket not read never sees its close
  s.on('close', () => say({ event: 'close', id }));
});
server.listen(0, '127.0.0.1', () => say({ event: 'listening', port: server.address().port }));
setTimeout(() => process.exit(0), 60_000).unref();
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

interface Line {
  event: 'listening' | 'open' | 'close';
  id?: number;
  port?: number;
  at: number;
}

const children: ChildProcess[] = [];
const nodes: ControlNode[] = [];
const stops: AbortController[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) s.abort();
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
  for (const c of children.splice(0)) c.kill();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('a seed that accepts and does not answer', { timeout: 40_000 }, () => {
  it('the joiner gives the dial up within ~1.5 s, not 10 s, and dials again', async () => {
    const child = spawn(process.execPath, ['-e', SILENT_SERVER], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.push(child);
    const lines: Line[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(JSON.parse(l)));
    await until(() => lines.some((l) => l.event === 'listening'), 'the silent seed', 10_000);
    const port = lines.find((l) => l.event === 'listening')!.port!;

    const joiner = await createControlNode({
      listen: ['/ip4/127.0.0.1/tcp/0'],
      clusterKey: parseClusterKey(TEST_CLUSTER_KEY),
      identify: false,
      pubsub: false,
    });
    nodes.push(joiner);
    const stop = new AbortController();
    stops.push(stop);
    seeds([`/ip4/127.0.0.1/tcp/${port}`], { retryMs: 250, maxRetryMs: 5000 }).start!({
      cluster: 'stalled-seed-test',
      node: joiner,
      dial: (addr, options) => joiner.dial(addr, options),
      linking: () => joiner.getConnections().length > 0,
      log: createLogger('nixl-ts:stalled-seed-test'),
      signal: stop.signal,
    });

    const at = (event: Line['event'], id: number) =>
      lines.find((l) => l.event === event && l.id === id)?.at;
    await until(() => at('open', 1) !== undefined, 'the joiner to connect', 10_000);
    // The 10 s dial limit would close it at 10 s; wait past the stall limit
    // with room for two busy cores, well short of that.
    await until(() => at('close', 1) !== undefined, 'the joiner to give the dial up', 6_000);
    expect(at('close', 1)! - at('open', 1)!).toBeLessThan(4_000);
    // The next dial comes without a back-off (a refused or unreachable seed's
    // waits are 250 ms and more, growing); allow for the busy machine.
    await until(() => at('open', 2) !== undefined, 'the joiner to dial again', 3_000);
    expect(at('open', 2)! - at('close', 1)!).toBeLessThan(2_000);
  });
});
