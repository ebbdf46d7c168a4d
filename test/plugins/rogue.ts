/**
 * A misbehaving peer for trust tests: a bare libp2p control node that speaks
 * the discovery mesh but is not an agent. It holds the cluster key (a rogue
 * member). It can relay records it did not sign (forged), claim names it
 * does not own, and publish its own record with forged metadata (e.g.
 * another format version).
 */
import { randomBytes } from 'node:crypto';

import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { lpStream } from '@libp2p/utils';
import protobuf from 'protobufjs';

import { parseClusterKey } from '../../plugins/gossip/cluster-key.js';
import { signingBytes, type SignedRecord } from '../../plugins/gossip/membership.js';
import { meshProtocolFor } from '../../plugins/gossip/mesh-transport.js';
import { encodeFrame, encodePayload } from '../../plugins/gossip/mesh-wire.js';
import { encodeMetadata } from '../../src/metadata.js';
import { METADATA_MAGIC, METADATA_PROTO } from '../../src/metadata-schema.js';
import { createControlNode, type ControlNode } from '../../plugins/libp2p-node/index.js';

export interface Rogue {
  readonly peerId: string;
  readonly node: ControlNode;
  /** True once the seed has opened its mesh stream to the rogue (it counts the rogue as a link). */
  linked(): boolean;
  /** Relays a record of `owner` (another peer) that the rogue signed itself. */
  forgeRecord(owner: string, name: string, left: boolean): Promise<void>;
  /** Publishes its own, validly signed record claiming `name`. */
  claim(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** Metadata of `name` with any format version, encoded as the schema says. */
export function forgedMetadata(name: string, formatVersion: number): Uint8Array {
  const type = protobuf.parse(METADATA_PROTO).root.lookupType('nixl_ts.AgentMetadata');
  return type
    .encode(
      type.fromObject({
        magic: METADATA_MAGIC,
        formatVersion,
        agentName: name,
        agentId: randomBytes(16),
        hostId: 'rogue',
        conns: [{ backend: 'TCP', connInfo: new TextEncoder().encode('rogue') }],
      }),
    )
    .finish();
}

const rogueMetadata = (name: string) =>
  encodeMetadata({
    name,
    agentId: randomBytes(16),
    hostId: 'rogue',
    partial: false,
    conns: [{ backend: 'TCP', connInfo: new TextEncoder().encode('rogue') }],
    sections: [],
    labels: new Map(),
  });

export async function startRogue(opts: {
  seed: string;
  /** The cluster key: a rogue *member* holds it. */
  clusterKey: string;
  cluster?: string;
  serve?: { name: string; formatVersion: number };
}): Promise<Rogue> {
  const protocol = meshProtocolFor(opts.cluster ?? 'test');
  const key = await generateKeyPair('Ed25519');
  const node = await createControlNode({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    clusterKey: parseClusterKey(opts.clusterKey),
    privateKey: key,
    pubsub: false,
    start: false,
  });
  let linked = false;
  await node.handle(protocol, async (stream) => {
    linked = true;
    const lp = lpStream(stream);
    try {
      for (;;) await lp.read();
    } catch {
      // The seed closed it.
    }
  });
  await node.start();
  const seed = multiaddr(opts.seed);
  const conn = await node.dial(seed);
  const seedId = conn.remotePeer;
  let version = 1;
  const record = (id: string, name: string, left: boolean, metadata: Uint8Array): SignedRecord => {
    const payload = encodePayload({ name, addrs: [], metadata });
    const v = version++;
    return {
      id,
      version: v,
      left,
      payload,
      sig: key.sign(signingBytes(id, v, left, payload)) as Uint8Array,
    };
  };
  const send = async (rec: SignedRecord) => {
    const stream = await node.dialProtocol(seedId, protocol);
    const lp = lpStream(stream);
    await lp.write(encodeFrame({ kind: 'gossip', records: [rec], deaths: [], suspects: [] }));
    await stream.close();
  };
  const self = node.peerId.toString();
  if (opts.serve) {
    await send(
      record(
        self,
        opts.serve.name,
        false,
        forgedMetadata(opts.serve.name, opts.serve.formatVersion),
      ),
    );
  }
  return {
    peerId: self,
    node,
    linked: () => linked,
    forgeRecord: (owner, name, left) => {
      peerIdFromString(owner);
      version += 1000;
      return send(record(owner, name, left, rogueMetadata(name)));
    },
    claim: (name) => send(record(self, name, false, rogueMetadata(name))),
    stop: async () => {
      await node.stop();
    },
  };
}
