/**
 * The control plane's private network (pnet with key confirmation) between
 * bare control nodes on 127.0.0.1: messages larger than the cipher's initial
 * memory, on several connections at once, arrive intact (with `@libp2p/pnet`
 * 3.0.27 such traffic grows the shared `xsalsa20` memory until an uncaught
 * RangeError; seen under the rogue-member flood), and a wrong key or none is
 * refused. Also the limit primitives and key parsing.
 */
import { createHash, randomBytes } from 'node:crypto';

import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, describe, expect, it } from 'vitest';

import { generateClusterKey, parseClusterKey } from '../../plugins/gossip/cluster-key.js';
import { KeyedLimiter, TokenBucket, resolveLimits } from '../../plugins/gossip/limits.js';
import { createControlNode, type ControlNode } from '../../plugins/libp2p-node/index.js';

const PROTO = '/nixl-ts/test/echo-digest/1';
const nodes: ControlNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

async function node(key: Uint8Array | undefined): Promise<ControlNode> {
  const n = await createControlNode({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    clusterKey: key,
    start: false,
  });
  // Answers each message with the sha256 of what it received.
  await n.handle(PROTO, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: 64 * 1024 * 1024 });
    const data = await lp.read();
    await lp.write(createHash('sha256').update(data.subarray()).digest());
    await stream.close();
  });
  await n.start();
  nodes.push(n);
  return n;
}

describe('private network', { timeout: 120_000 }, () => {
  it.each([['keyed'], ['open']])(
    'carries 3 MiB messages both ways on three connections at once, intact (%s)',
    async (kind) => {
      const key = kind === 'keyed' ? parseClusterKey(generateClusterKey()) : undefined;
      const server = await node(key);
      const clients = await Promise.all([node(key), node(key), node(key)]);
      const addr = server.getMultiaddrs()[0]!;
      const send = async (from: ControlNode, to: typeof addr) => {
        const payload = randomBytes(3 * 1024 * 1024);
        const stream = await from.dialProtocol(to, PROTO);
        const lp = lpStream(stream, { maxDataLength: 64 * 1024 * 1024 });
        await lp.write(payload);
        const digest = await lp.read();
        await stream.close();
        return (
          Buffer.from(digest.subarray()).toString('hex') ===
          createHash('sha256').update(payload).digest('hex')
        );
      };
      // Client to server, and server back to each client, all at once.
      const results = await Promise.all([
        ...clients.map((c) => send(c, addr)),
        ...clients.map((c) => send(server, c.getMultiaddrs()[0]!)),
      ]);
      expect(results).toEqual([true, true, true, true, true, true]);
    },
  );

  it('refuses a wrong key, or none, within a round trip', async () => {
    const server = await node(parseClusterKey(generateClusterKey()));
    const addr = server.getMultiaddrs()[0]!;
    for (const key of [parseClusterKey(generateClusterKey()), undefined]) {
      const client = await node(key);
      const t0 = Date.now();
      await expect(client.dial(addr, { signal: AbortSignal.timeout(15_000) })).rejects.toThrow();
      if (key) expect(Date.now() - t0).toBeLessThan(5000);
      expect(server.getConnections()).toHaveLength(0);
    }
  });

  it('a node without a key cannot reach a keyed one even by multiaddr with its peer id', async () => {
    const server = await node(parseClusterKey(generateClusterKey()));
    const client = await node(undefined);
    const target = multiaddr(server.getMultiaddrs()[0]!.toString());
    await expect(
      client.dialProtocol(target, PROTO, { signal: AbortSignal.timeout(15_000) }),
    ).rejects.toThrow();
  });
});

describe('limit primitives and cluster keys', () => {
  it('token buckets refill at their rate and cap at the burst', () => {
    const b = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) expect(b.take(1, 0)).toBe(true);
    expect(b.take(1, 0)).toBe(false);
    expect(b.take(1, 100)).toBe(true); // 0.1 s at 10/s: one token
    expect(b.take(1, 100)).toBe(false);
    expect(b.full(10_000)).toBe(true);
  });

  it('a keyed limiter stays bounded: full buckets are swept, a full table fails closed', () => {
    const l = new KeyedLimiter(1, 1, 2);
    expect(l.take('a')).toBe(true);
    expect(l.take('b')).toBe(true);
    expect(l.take('c')).toBe(false); // a and b are busy: no room
    expect(l.size).toBe(2);
  });

  it('resolves limits and refuses nonsense', () => {
    expect(resolveLimits({ maxMessageBytes: 1000 }).maxMessageBytes).toBe(1000);
    expect(() => resolveLimits({ nope: 1 } as any)).toThrow(/unknown limit/);
    expect(() => resolveLimits({ maxMessageBytes: 64 << 20 })).toThrow(/byteBurst/);
  });

  it('parses every accepted key form to the same 32 bytes', () => {
    const hex = generateClusterKey();
    const bytes = parseClusterKey(hex);
    expect(bytes).toHaveLength(32);
    expect(parseClusterKey(`/key/swarm/psk/1.0.0/\n/base16/\n${hex}\n`)).toEqual(bytes);
    expect(parseClusterKey(new TextEncoder().encode(hex))).toEqual(bytes);
    expect(parseClusterKey(bytes)).toEqual(bytes);
    expect(() => parseClusterKey(hex.slice(2))).toThrow(/not a cluster key/);
  });
});
