/**
 * Dials refused by a full node (a seed at its connection bound, in its own
 * process), seen from outside. The refusal happens at accept: the refused
 * socket never reaches libp2p (its connection manager is not asked), so a
 * refused dial costs the full node no upgrade work. And joiners the seed
 * refused come back spread out and further apart than they retry a seed
 * that does not answer at all: a seed that stays full is not redialed at the
 * unreachable seed's pace (×1.5 up to 4 × retryMs). A member's mesh probe of
 * the full node reads the refusal as a sign of its life, whatever shape
 * libp2p gives the reset (the socket's error, the connection's abort event,
 * an AggregateError over the peer's addresses).
 */
import { fileURLToPath } from 'node:url';

import { createServer } from 'node:net';

import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, describe, expect, it } from 'vitest';

import { parseClusterKey } from '../../plugins/gossip/cluster-key.js';
import { Libp2pMeshTransport, meshProtocolFor } from '../../plugins/gossip/mesh-transport.js';
import { refusedEverywhere, resetAfterConnect } from '../../plugins/libp2p-node/dial-failure.js';
import { createControlNode, type ControlNode } from '../../plugins/libp2p-node/index.js';
import { seeds } from '../../plugins/seeds/index.js';
import { createLogger } from '../../src/logger.js';
import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';
import { TEST_CLUSTER_KEY } from './helpers.js';
import { testMeshTransportOptions } from './mesh-transport-options.js';

const FULL_NODE = fileURLToPath(new URL('./full-node-process.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

type Counts = JsonLineReply & { asked: number; reachedLibp2p: number };
type Ready = { event: string; addr?: string; peerId?: string };
const children: JsonLineChild<Counts, Ready>[] = [];
const nodes: ControlNode[] = [];
const stops: AbortController[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) s.abort();
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
  await Promise.all(children.splice(0).map((c) => c.close().catch(() => {})));
});

async function fullNode(): Promise<{ child: JsonLineChild<Counts>; addr: string; id: string }> {
  const child = new JsonLineChild<Counts, Ready>(
    FULL_NODE,
    'full node',
    {},
    { args: [JSON.stringify({ clusterKey: TEST_CLUSTER_KEY })], cwd: ROOT },
  );
  children.push(child);
  const ready = await child.nextEvent('ready', 30_000);
  return { child, addr: ready.addr!, id: ready.peerId! };
}

async function controlNode(): Promise<ControlNode> {
  const n = await createControlNode({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    clusterKey: parseClusterKey(TEST_CLUSTER_KEY),
    identify: false,
    pubsub: false,
  });
  nodes.push(n);
  return n;
}

/** A loopback port nothing listens on (one the OS gave a listener that closed). */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return `/ip4/127.0.0.1/tcp/${port}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('dials refused by a full node', { timeout: 60_000 }, () => {
  it('are reset at accept: the refused sockets never reach libp2p', async () => {
    const { child, addr } = await fullNode();
    const dialer = await controlNode();
    const errors: string[] = [];
    for (let i = 0; i < 20; i++) {
      await dialer.dial(multiaddr(addr)).then(
        () => errors.push('connected'),
        // (a reset after the TCP connect fails the dial with the connection's abort event)
        (err: { error?: Error; message?: string }) =>
          errors.push(String((err.error ?? err).message)),
      );
    }
    expect(errors.filter((e) => /ECONNRESET/.test(e))).toHaveLength(20);
    const counts = await child.send({ cmd: 'counts' });
    expect(counts.asked).toBe(20);
    expect(counts.reachedLibp2p).toBe(0);
  });

  it('a joiner the seed refused waits longer before each next dial, drawn, than it would for an unreachable seed', async () => {
    const { child, addr } = await fullNode();
    const retryMs = 50;
    /** Per joiner: when each of its seed dials started and when it failed. */
    const dials: { start: number; end: number }[][] = [];
    for (let j = 0; j < 6; j++) {
      const joiner = await controlNode();
      const stop = new AbortController();
      stops.push(stop);
      const mine: { start: number; end: number }[] = [];
      dials.push(mine);
      seeds([addr], { retryMs, maxRetryMs: 5000 }).start!({
        cluster: 'refused-dials-test',
        node: joiner,
        dial: async (a, options) => {
          const d = { start: performance.now(), end: Infinity };
          mine.push(d);
          try {
            return await joiner.dial(a, options);
          } finally {
            d.end = performance.now();
          }
        },
        linking: () => joiner.getConnections().length > 0,
        log: createLogger('nixl-ts:refused-dials-test'),
        signal: stop.signal,
      });
    }
    await sleep(4000);
    for (const s of stops) s.abort();
    // The waits between a failed dial and the next, past the first four of
    // each joiner (an unreachable seed's waits have reached 4 × retryMs = 200 ms
    // by then and stay there; a refusing seed's are drawn around 6 × retryMs).
    const waits: number[] = [];
    for (const mine of dials) {
      const done = mine.filter((d) => d.end !== Infinity);
      for (let i = 4; i + 1 < done.length; i++) waits.push(done[i + 1]!.start - done[i]!.end);
    }
    expect(waits.length).toBeGreaterThan(20);
    // Their mean: 4 × retryMs (200 ms) for an unreachable seed, 6 × retryMs
    // (300 ms, each drawn in 150-450 ms) for a refusing one.
    expect(mean(waits)).toBeGreaterThan(5 * retryMs);
    // Drawn, not in step: the waits spread over more than a third of the cap.
    expect(Math.max(...waits) - Math.min(...waits)).toBeGreaterThan(2 * retryMs);
    // Every one of those dials reached the seed and was refused there.
    const counts = await child.send({ cmd: 'counts' });
    expect(counts.asked).toBe(dials.reduce((n, mine) => n + mine.length, 0));
  });

  it('a dial by peer id reads as reset after connect when one address resets it, as refused when every address refuses', async () => {
    const { addr, id } = await fullNode();
    const dialer = await controlNode();
    const closed = await closedPort();
    const full = peerIdFromString(id);
    await dialer.peerStore.merge(full, { multiaddrs: [multiaddr(addr), multiaddr(closed)] });
    // Whether the reset reaches the dialer as the connect's error or as the
    // connection's abort event (its nonce already written) is a race: 8 tries.
    for (let i = 0; i < 8; i++) {
      const reset = await dialer.dial(full).then(
        () => 'connected',
        (err: unknown) => err,
      );
      expect(resetAfterConnect(reset)).toBe(true);
      expect(refusedEverywhere(reset)).toBe(false);
    }

    const gone = (await controlNode()).peerId;
    await dialer.peerStore.merge(gone, {
      multiaddrs: [multiaddr(closed), multiaddr(await closedPort())],
    });
    const refused = await dialer.dial(gone).then(
      () => 'connected',
      (err: unknown) => err,
    );
    expect(resetAfterConnect(refused)).toBe(false);
    expect(refusedEverywhere(refused)).toBe(true);
  });

  it("a member's mesh probe of the full node reads its refusals as life", async () => {
    const { addr, id } = await fullNode();
    const closed = await closedPort();
    const prober = await controlNode();
    const proofs: string[] = [];
    const unreachable: string[] = [];
    const transport = new Libp2pMeshTransport(
      prober,
      testMeshTransportOptions(prober, meshProtocolFor('refused-dials-test'), {
        addrsOf: (peer) => (peer === id ? [addr, closed] : []),
        refusedByLive: (peer) => proofs.push(peer),
        unreachable: (peer) => unreachable.push(peer),
      }),
    );
    await transport.install();
    try {
      // Each probe: the dial, the second look 250 ms later, its dial; each
      // reset's shape is a race (see above), so 6 probes.
      for (let round = 1; round <= 6; round++) {
        transport.connect(id, 'probe');
        for (let i = 0; i < 50 && proofs.length < round; i++) await sleep(100);
        expect(proofs).toHaveLength(round);
      }
      expect(new Set(proofs)).toEqual(new Set([id]));
      expect(unreachable).toEqual([]);
    } finally {
      transport.close();
    }
  });
});
