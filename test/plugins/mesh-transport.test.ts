/**
 * The membership's libp2p transport (plugins/gossip/mesh-transport.ts)
 * between two control nodes on 127.0.0.1 under one cluster key: a frame for
 * a member this node holds no connection to opens none (a handshake to answer
 * or flood a member that went away, or whose link was shed, would bring the
 * link back), unless the membership allows it (a relayed probe); over a
 * connection, frames arrive: many of all sizes sent at once arrive whole and
 * in order (cut from deliveries that split and join them), and a frame over
 * the receiver's limit is reported and ends the stream.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { generateClusterKey, parseClusterKey } from '../../plugins/gossip/cluster-key.js';
import type { MeshMessage } from '../../plugins/gossip/membership.js';
import { Libp2pMeshTransport, meshProtocolFor } from '../../plugins/gossip/mesh-transport.js';
import { createControlNode, type ControlNode } from '../../plugins/libp2p-node/index.js';
import { testMeshTransportOptions } from './mesh-transport-options.js';

const KEY = parseClusterKey(generateClusterKey());
const PROTOCOL = meshProtocolFor('mesh-transport-test');
const nodes: ControlNode[] = [];
const transports: Libp2pMeshTransport[] = [];
afterEach(async () => {
  for (const t of transports.splice(0)) t.close();
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

/** A control node and its mesh transport; the transport's callbacks default to doing nothing. */
async function member(
  addrsOf: (id: string) => string[],
  {
    maxFrameBytes = 1024 * 1024,
    refusedByLive = () => {},
    unreachable = () => {},
    awaitsAnswer = () => true,
  }: {
    maxFrameBytes?: number;
    refusedByLive?: (id: string) => void;
    unreachable?: (id: string) => void;
    awaitsAnswer?: (id: string) => boolean;
  } = {},
) {
  const node = await createControlNode({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    clusterKey: KEY,
    pubsub: false,
    identify: false,
    start: false,
  });
  const received: { from: string; msg: MeshMessage }[] = [];
  const invalid: Error[] = [];
  const transport = new Libp2pMeshTransport(
    node,
    testMeshTransportOptions(node, PROTOCOL, {
      maxFrameBytes,
      addrsOf,
      receive: (from, msg) => received.push({ from, msg }),
      invalid: (_from, err) => invalid.push(err),
      refusedByLive,
      awaitsAnswer,
      unreachable,
    }),
  );
  await transport.install();
  await node.start();
  nodes.push(node);
  transports.push(transport);
  return { node, transport, received, invalid, id: node.peerId.toString() };
}

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('mesh transport', { timeout: 60_000 }, () => {
  it('opens no connection for a frame unless the membership allows it; over a connection frames arrive', async () => {
    const addrs = new Map<string, string[]>();
    const a = await member((id) => addrs.get(id) ?? []);
    const b = await member((id) => addrs.get(id) ?? []);
    addrs.set(b.id, b.node.getMultiaddrs().map(String));

    // No connection: an answer, a flood, an unlink are dropped, not dialed.
    a.transport.send(b.id, { kind: 'ack', nonce: 1 });
    a.transport.send(b.id, { kind: 'gossip', records: [], deaths: [], suspects: [] });
    await until('the frames to be dropped', () => a.transport.sent.dropped === 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(a.node.getConnections()).toHaveLength(0);
    expect(a.transport.sent.dialed).toBe(0);
    expect(b.received).toEqual([]);

    // A relayed probe may connect: it arrives, on one new connection.
    a.transport.send(b.id, { kind: 'ping', nonce: 7 }, { dial: true });
    await until('the ping', () => b.received.length === 1);
    expect(b.received[0]!.msg).toMatchObject({ kind: 'ping', nonce: 7 });
    expect(a.transport.sent.dialed).toBe(1);
    expect(a.node.getConnections()).toHaveLength(1);

    // Over the connection now held, any frame goes (and opens nothing more).
    a.transport.send(b.id, { kind: 'ack', nonce: 8 });
    await until('the ack', () => b.received.length === 2);
    expect(b.received[1]!.msg).toMatchObject({ kind: 'ack', nonce: 8 });
    expect(a.transport.sent.dialed).toBe(1);

    // The connection goes (the other side hung up): frames are dropped again.
    await b.node.hangUp(a.node.peerId);
    await until('the hang-up', () => a.node.getConnections().length === 0);
    a.transport.peerGone(b.id);
    const dropped = a.transport.sent.dropped;
    a.transport.send(b.id, { kind: 'ack', nonce: 9 });
    await until('the frame to be dropped', () => a.transport.sent.dropped === dropped + 1);
    expect(a.node.getConnections()).toHaveLength(0);
    expect(a.transport.sent.dialed).toBe(1);
  });

  it('delivers frames of all sizes sent at once whole and in order; an oversized one ends the stream', async () => {
    const addrs = new Map<string, string[]>();
    const a = await member((id) => addrs.get(id) ?? []);
    const b = await member((id) => addrs.get(id) ?? [], { maxFrameBytes: 256 * 1024 });
    addrs.set(b.id, b.node.getMultiaddrs().map(String));

    // 300 frames from 1 byte to ~200 KiB of payload, queued in one turn.
    const sizes = Array.from({ length: 300 }, (_, i) =>
      i % 50 === 49 ? 150_000 + i * 100 : 1 + ((i * 7919) % 3000),
    );
    const payloads = sizes.map((n) => new Uint8Array(randomBytes(n)));
    payloads.forEach((payload, i) =>
      a.transport.send(
        b.id,
        {
          kind: 'gossip',
          records: [{ id: a.id, version: i + 1, left: false, payload, sig: new Uint8Array(64) }],
          deaths: [],
          suspects: [],
        },
        { dial: true },
      ),
    );
    await until('300 frames', () => b.received.length === 300);
    const digest = (x: Uint8Array) => createHash('sha256').update(x).digest('hex');
    const got = b.received.map(({ msg }) => {
      if (msg.kind !== 'gossip') throw new Error(`unexpected ${msg.kind}`);
      return { version: msg.records[0]!.version, hash: digest(msg.records[0]!.payload) };
    });
    expect(got).toEqual(payloads.map((p, i) => ({ version: i + 1, hash: digest(p) })));
    expect(b.invalid).toEqual([]);

    // Over b's limit (checked from the length prefix): reported, and the stream ends.
    const big = new Uint8Array(300 * 1024);
    a.transport.send(b.id, {
      kind: 'gossip',
      records: [{ id: a.id, version: 999, left: false, payload: big, sig: new Uint8Array(64) }],
      deaths: [],
      suspects: [],
    });
    a.transport.send(b.id, { kind: 'ack', nonce: 1 });
    await until('the oversized frame to be reported', () => b.invalid.length === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(b.received).toHaveLength(300);
  });

  it('reads a reset dial as life only when a second dial a moment later is reset too; a refused one as unreachable', async () => {
    // Stand-ins for a member's port: one resets every connection it accepts
    // (a live member at its connection bound), one resets the first and
    // then closes its listener (a process killed with our connect in its
    // accept queue: the next connect is refused, as at a port nothing
    // listens on).
    const resetting = async (closeAfterFirst: boolean) => {
      let accepted = 0;
      const server: Server = createServer((socket) => {
        accepted++;
        socket.resetAndDestroy();
        if (closeAfterFirst) server.close();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      return { server, port, accepted: () => accepted };
    };
    const live = await resetting(false);
    const dying = await resetting(true);
    try {
      const stranger = async () =>
        (
          await createControlNode({
            listen: [],
            clusterKey: KEY,
            pubsub: false,
            identify: false,
            start: false,
          })
        ).peerId.toString();
      const liveId = await stranger();
      const dyingId = await stranger();
      const goneId = await stranger();
      // A port nothing listens on: one the OS gave a listener that closed.
      const gone = await resetting(false);
      await new Promise((r) => gone.server.close(r));
      const addrs = new Map([
        [liveId, [`/ip4/127.0.0.1/tcp/${live.port}`]],
        [dyingId, [`/ip4/127.0.0.1/tcp/${dying.port}`]],
        [goneId, [`/ip4/127.0.0.1/tcp/${gone.port}`]],
      ]);
      const proofs: string[] = [];
      const unreachable: string[] = [];
      const a = await member((id) => addrs.get(id) ?? [], {
        refusedByLive: (id) => proofs.push(id),
        unreachable: (id) => unreachable.push(id),
      });
      a.transport.connect(goneId, 'link');
      await until('the closed port to be unreachable', () => unreachable.includes(goneId));

      a.transport.connect(liveId, 'probe');
      a.transport.connect(dyingId, 'probe');
      await until('the live member to be read as live', () => proofs.includes(liveId));
      await until('the dying member to be dialled', () => dying.accepted() >= 1);
      // Well past the second look (250 ms), and its refused dial.
      await new Promise((r) => setTimeout(r, 1500));
      expect(proofs).toEqual([liveId]);
      expect(unreachable.sort()).toEqual([dyingId, goneId].sort());
      expect(live.accepted()).toBeGreaterThanOrEqual(2);
      expect(dying.accepted()).toBe(1);

      // With no probe waiting on the member (a link dial at a full member,
      // many of them in a large start), a reset costs no second dial.
      const full = await resetting(false);
      const fullId = await stranger();
      addrs.set(fullId, [`/ip4/127.0.0.1/tcp/${full.port}`]);
      const b = await member((id) => addrs.get(id) ?? [], {
        refusedByLive: (id) => proofs.push(id),
        unreachable: (id) => unreachable.push(id),
        awaitsAnswer: () => false,
      });
      b.transport.connect(fullId, 'link');
      await until('the full member to be dialled', () => full.accepted() >= 1);
      await new Promise((r) => setTimeout(r, 1000));
      expect(full.accepted()).toBe(1);
      expect(proofs).toEqual([liveId]);
      full.server.close();
    } finally {
      live.server.close();
      dying.server.close();
    }
  });
});
