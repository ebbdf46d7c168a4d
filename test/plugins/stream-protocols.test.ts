/**
 * A control node without identify and pubsub (the discovery mesh's) does not
 * write each stream's protocol into its peer store (stream-protocols.ts),
 * while the dial's own records (the address it reached) are kept and streams
 * work both ways. (gossipsub needs identify, which records a peer's protocols
 * itself: the other configurations keep them without the streams' writes.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { lpStream } from '@libp2p/utils';

import { generateClusterKey, parseClusterKey } from '../../plugins/gossip/cluster-key.js';
import { createControlNode, type ControlNode } from '../../plugins/libp2p-node/index.js';

const KEY = parseClusterKey(generateClusterKey());
const PROTOCOL = '/nixl-ts/stream-protocols-test/1';
const nodes: ControlNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

async function node(): Promise<ControlNode> {
  const n = await createControlNode({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    clusterKey: KEY,
    identify: false,
    pubsub: false,
  });
  nodes.push(n);
  // An echo of one frame per stream.
  await n.handle(PROTOCOL, async (stream: any) => {
    const lp = lpStream(stream);
    await lp.write((await lp.read()).subarray());
    await stream.close();
  });
  return n;
}

/** One stream from a to b, a frame echoed: both ends negotiated the protocol. */
async function echo(a: ControlNode, b: ControlNode): Promise<void> {
  const conn = await a.dial(b.getMultiaddrs()[0]!);
  const stream = await conn.newStream(PROTOCOL);
  const lp = lpStream(stream);
  await lp.write(new Uint8Array([1, 2, 3]));
  expect([...(await lp.read()).subarray()]).toEqual([1, 2, 3]);
  await stream.close();
}

describe('stream protocols in the peer store', () => {
  it('a mesh node records none, on either end, and keeps the address it dialed', async () => {
    const [a, b] = await Promise.all([node(), node()]);
    for (let i = 0; i < 3; i++) await echo(a, b);
    const seenByA = await a.peerStore.get(b.peerId);
    expect(seenByA.protocols).toEqual([]);
    // (stored without its /p2p/ suffix)
    const dialed = b.getMultiaddrs()[0]!.toString().split('/p2p/')[0]!;
    expect(seenByA.addresses.map((x) => x.multiaddr.toString())).toContain(dialed);
    // The accepting end keeps no entry for the dialer at all.
    const seenByB = (await b.peerStore.has(a.peerId)) ? await b.peerStore.get(a.peerId) : undefined;
    expect(seenByB?.protocols ?? []).toEqual([]);
  });
});
