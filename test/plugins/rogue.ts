/**
 * A misbehaving peer for trust tests: a bare libp2p control node that speaks
 * the discovery wire format but is not an agent. It holds the cluster key (a
 * rogue member). It can gossip claims about names it does not own and serve
 * forged metadata (e.g. another version).
 */
import { randomBytes } from 'node:crypto';

import { multiaddr } from '@multiformats/multiaddr';
import { lpStream } from '@libp2p/utils';
import protobuf from 'protobufjs';

import { parseClusterKey } from '../../plugins/gossip/cluster-key.js';
import { encodeMetadata } from '../../src/metadata.js';
import { METADATA_MAGIC, METADATA_PROTO } from '../../src/metadata-schema.js';
import { createControlNode, type ControlNode } from '../../plugins/libp2p-node/index.js';
import {
  DISCOVERY_FORMAT_VERSION,
  FETCH_PROTOCOL,
  decodeFetchRequest,
  encodeFetchResponse,
  encodeGossip,
  topicFor,
  type GossipBody,
} from '../../plugins/gossip/wire.js';

export interface Rogue {
  readonly peerId: string;
  readonly node: ControlNode;
  topicPeers(): number;
  publishTombstone(agent: string): Promise<void>;
  publishUpdate(agent: string, seq: number): Promise<void>;
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

export async function startRogue(opts: {
  seed: string;
  /** The cluster key: a rogue *member* holds it. */
  clusterKey: string;
  cluster?: string;
  serve?: { name: string; formatVersion: number };
}): Promise<Rogue> {
  const cluster = opts.cluster ?? 'test';
  const topic = topicFor(cluster);
  const node = await createControlNode({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    clusterKey: parseClusterKey(opts.clusterKey),
    heartbeatIntervalMs: 200,
    start: false,
  });
  if (opts.serve) {
    const { name, formatVersion } = opts.serve;
    await node.handle(FETCH_PROTOCOL, async (stream) => {
      const lp = lpStream(stream);
      decodeFetchRequest((await lp.read()).subarray());
      const md = forgedMetadata(name, formatVersion);
      await lp.write(
        encodeFetchResponse({
          version: DISCOVERY_FORMAT_VERSION,
          cluster,
          error: '',
          seq: 0,
          metadata: md,
          peers: [],
        }),
      );
      await stream.close();
    });
  }
  await node.start();
  node.services.pubsub.subscribe(topic);
  await node.dial(multiaddr(opts.seed));
  const publish = async (agent: string, body: GossipBody) => {
    await node.services.pubsub.publish(
      topic,
      encodeGossip({ version: DISCOVERY_FORMAT_VERSION, cluster, agent, body }),
    );
  };
  return {
    peerId: node.peerId.toString(),
    node,
    topicPeers: () => node.services.pubsub.getSubscribers(topic).length,
    publishTombstone: (agent) => publish(agent, { kind: 'tombstone' }),
    publishUpdate: (agent, seq) =>
      publish(agent, {
        kind: 'update',
        seq,
        full: true,
        metadata: encodeMetadata({
          name: agent,
          agentId: randomBytes(16),
          hostId: 'rogue',
          partial: false,
          conns: [{ backend: 'TCP', connInfo: new TextEncoder().encode('rogue') }],
          sections: [],
          labels: new Map(),
        }),
      }),
    stop: async () => {
      await node.stop();
    },
  };
}
