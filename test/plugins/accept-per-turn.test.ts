/**
 * A control node accepts more than one queued connection per event-loop
 * iteration (accept-per-turn.ts), seen from outside: a node in its own
 * process blocks its loop while this process opens many connections at once,
 * then counts its accepts between iterations. Node 20 alone accepts one per
 * iteration per listening socket, so a busy seed kept dials, even those it
 * refuses at once, in the kernel's accept queue for seconds. And the extra
 * handles share the node's one socket: the port libp2p reports is the one
 * that accepts, and once the node stops nothing accepts there.
 */
import { createConnection, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';
import { TEST_CLUSTER_KEY } from './helpers.js';

const BUSY_NODE = fileURLToPath(new URL('./accept-per-turn-process.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const QUEUED = 40;

type Counts = JsonLineReply & { perIteration: number[]; queuedAtRelease: number };
const children: JsonLineChild<Counts, { event: string; port?: number }>[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(children.splice(0).map((c) => c.close().catch(() => {})));
});

async function busyNode(listen: string) {
  const child = new JsonLineChild<Counts, { event: string; port?: number }>(
    BUSY_NODE,
    'busy node',
    {},
    { args: [JSON.stringify({ clusterKey: TEST_CLUSTER_KEY, listen })], cwd: ROOT },
  );
  children.push(child);
  const ready = await child.nextEvent('ready', 30_000);
  return { child, port: ready.port! };
}

/** Opens a TCP connection; resolves with how it ended up: connected or its error code. */
function connect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    sockets.push(s);
    s.on('connect', () => resolve('connected'));
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** Whether this machine's loopback has an address for `host` (::1 may be off). */
async function canListenOn(host: string): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(0, host, () => server.close(() => resolve(true)));
  });
}

describe('a control node with a busy loop', { timeout: 60_000 }, () => {
  for (const [family, host] of [
    ['ip4', '127.0.0.1'],
    ['ip6', '::1'],
  ] as const) {
    it(`accepts more than one queued connection per loop iteration (${family})`, async (ctx) => {
      if (!(await canListenOn(host))) ctx.skip();
      const { child, port } = await busyNode(`/${family}/${host}/tcp/0`);
      await child.send({ cmd: 'block', queued: QUEUED });
      const opened = await Promise.all(Array.from({ length: QUEUED }, () => connect(host, port)));
      // Every connect completes in the kernel while the node's loop is blocked.
      expect(opened.filter((o) => o === 'connected')).toHaveLength(QUEUED);
      const { perIteration, queuedAtRelease } = await child.send({ cmd: 'counts' });
      expect(queuedAtRelease).toBe(QUEUED);
      expect(perIteration.reduce((a, b) => a + b, 0)).toBe(QUEUED);
      // One per iteration on Node 20 alone; several with the extra handles.
      expect(Math.max(...perIteration)).toBeGreaterThan(1);
      expect(perIteration.length).toBeLessThanOrEqual(QUEUED / 2);
    });
  }

  it('accepts on the port libp2p reports, and nowhere once stopped', async () => {
    const { child, port } = await busyNode('/ip4/127.0.0.1/tcp/0');
    expect(await connect('127.0.0.1', port)).toBe('connected');
    await child.send({ cmd: 'stop' });
    // The process lives on: a descriptor left open would still accept.
    expect(await connect('127.0.0.1', port)).toBe('ECONNREFUSED');
  });
});
