/**
 * A hostile libp2p node in its own process, for discovery tests and the
 * rogue-member benchmark. Run with `node --import tsx rogue-member.ts '<json>'`;
 * it reports JSON lines on stdout and exits when stdin closes.
 *
 * Modes (`cfg.mode`):
 * - `outsider`: no cluster key (`key` absent) or a wrong one. Tries to dial the
 *   seed, fetch metadata and publish on the cluster topic; reports
 *   `{ev:'result', dial, fetch, topicPeers, published}`.
 * - `flood`: a rogue member (holds the key). Joins the topic, then publishes
 *   `junk` junk messages (random bytes, other-cluster messages, claims on a
 *   name it does not own, hellos listing made-up peers) and `big` large
 *   updates about itself (sizes cycling through `bigBytes`), and reports
 *   `{ev:'done', ms}`. It serves the fetch protocol by never answering
 *   (`hang`, the default: its metadata never loads, so its updates wait) or
 *   not at all (`none`).
 *
 * Everything goes to the seed's address (127.0.0.1 in tests).
 */
import '../../src/polyfills.js';

import { randomBytes } from 'node:crypto';

import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';

import { parseClusterKey } from '../../plugins/gossip/cluster-key.js';
import {
  DISCOVERY_FORMAT_VERSION,
  FETCH_PROTOCOL,
  encodeFetchRequest,
  encodeGossip,
  topicFor,
  type GossipBody,
} from '../../plugins/gossip/wire.js';
import { createControlNode } from '../../plugins/libp2p-node/index.js';
import { encodeMetadata } from '../../src/metadata.js';
import { serveJsonLines } from '../../testing/json-line-server.js';

export interface RogueConfig {
  mode: 'outsider' | 'flood';
  /** The seed multiaddr (with /p2p/<id>) to dial. */
  seed: string;
  cluster: string;
  /** The cluster key; absent: a node with no private network at all. */
  key?: string;
  /** flood: how many junk messages and large updates. */
  junk?: number;
  big?: number;
  /** flood: update metadata sizes, used in turn. */
  bigBytes?: number[];
  /** flood: subscribers to wait for before flooding. */
  topicPeers?: number;
  /** flood: an agent name it claims (it owns none). */
  victim?: string;
  fetch?: 'hang' | 'none';
  /** flood: after flooding, dial the seed again and report whether a connection holds. */
  redial?: boolean;
  /** outsider: how long each attempt may take. */
  timeoutMs?: number;
}

const cfg = JSON.parse(process.argv[2]!) as RogueConfig;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const node = await createControlNode({
  listen: ['/ip4/127.0.0.1/tcp/0'],
  clusterKey: cfg.key ? parseClusterKey(cfg.key) : undefined,
  heartbeatIntervalMs: 200,
  start: false,
});
const hung: unknown[] = [];
if (cfg.mode === 'flood' && (cfg.fetch ?? 'hang') === 'hang') {
  // Accept fetches and never answer: the peers' fetch stays in flight, so the
  // rogue stays "not loaded" and its updates are held for later.
  await node.handle(FETCH_PROTOCOL, (stream) => void hung.push(stream), { maxInboundStreams: 64 });
}
await node.start();
const topic = topicFor(cfg.cluster);
const pubsub = node.services.pubsub;
pubsub.subscribe(topic);
const seed = multiaddr(cfg.seed);

let stopping = false;
// No commands: the parent only reads the events, and ends the input to stop the rogue.
const lines = serveJsonLines<never>({}, { eventField: 'ev', onEnd: () => void stop() });
const out = ({ ev, ...fields }: { ev: string; [k: string]: unknown }) =>
  lines.emit(ev, { ...fields, t: Date.now() });
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.resolve(node.stop()).catch(() => {});
  process.exit(0);
}

const publish = (agent: string, body: GossipBody, cluster = cfg.cluster) =>
  pubsub.publish(topic, encodeGossip({ version: DISCOVERY_FORMAT_VERSION, cluster, agent, body }));

if (cfg.mode === 'outsider') {
  const timeoutMs = cfg.timeoutMs ?? 10_000;
  const result: Record<string, unknown> = {};
  const t0 = Date.now();
  try {
    await node.dial(seed, { signal: AbortSignal.timeout(timeoutMs) });
    result.dial = 'ok';
  } catch (err) {
    result.dial = 'failed';
    result.dialError = String((err as Error)?.message ?? err).slice(0, 200);
  }
  result.dialMs = Date.now() - t0;
  try {
    const stream = await node.dialProtocol(seed, FETCH_PROTOCOL, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    const lp = lpStream(stream);
    await lp.write(encodeFetchRequest({ version: DISCOVERY_FORMAT_VERSION, cluster: cfg.cluster }));
    const res = await lp.read({ signal: AbortSignal.timeout(timeoutMs) });
    result.fetch = 'ok';
    result.fetchBytes = res.byteLength;
  } catch (err) {
    result.fetch = 'failed';
    result.fetchError = String((err as Error)?.message ?? err).slice(0, 200);
  }
  await sleep(500);
  result.topicPeers = pubsub.getSubscribers(topic).length;
  try {
    const r = await publish('intruder', { kind: 'tombstone' });
    result.published = r.recipients.length;
  } catch (err) {
    result.published = 0;
    result.publishError = String((err as Error)?.message ?? err).slice(0, 200);
  }
  result.connections = node.getConnections().length;
  out({ ev: 'result', ...result });
} else {
  await node.dial(seed, { signal: AbortSignal.timeout(30_000) });
  const want = cfg.topicPeers ?? 1;
  const deadline = Date.now() + 30_000;
  while (pubsub.getSubscribers(topic).length < want) {
    if (Date.now() > deadline) {
      out({ ev: 'fatal', message: `only ${pubsub.getSubscribers(topic).length} topic peers` });
      await stop();
    }
    await sleep(20);
  }
  out({ ev: 'joined', peerId: node.peerId.toString(), topicPeers: want });

  // Made-up peers for hellos: valid peer ids at an address nobody listens on.
  const fake: { peerId: string; addrs: string[] }[] = [];
  for (let i = 0; i < 50; i++) {
    const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
    fake.push({ peerId: id, addrs: ['/ip4/127.0.0.1/tcp/9'] });
  }
  const t0 = Date.now();
  const junk = cfg.junk ?? 10_000;
  for (let i = 0; i < junk && !stopping; i++) {
    const k = i % 10;
    if (k < 7) {
      await pubsub.publish(topic, randomBytes(64 + (i % 256)));
    } else if (k === 7) {
      await publish('rogue', { kind: 'tombstone' }, `${cfg.cluster}-not`);
    } else if (k === 8) {
      await publish(cfg.victim ?? 'a', { kind: 'tombstone' });
    } else {
      await publish('rogue', { kind: 'hello', addrs: [], seq: i, peers: fake });
    }
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  out({ ev: 'junk-sent', ms: Date.now() - t0 });
  const sizes = cfg.bigBytes ?? [1024 * 1024 - 16 * 1024];
  const big = cfg.big ?? 200;
  for (let i = 0; i < big && !stopping; i++) {
    const metadata = encodeMetadata({
      name: 'rogue',
      agentId: randomBytes(16),
      hostId: 'rogue',
      partial: false,
      conns: [{ backend: 'TCP', connInfo: randomBytes(sizes[i % sizes.length]!) }],
      sections: [],
      labels: new Map(),
    });
    await publish('rogue', { kind: 'update', seq: i + 1, full: true, metadata });
    // Let the socket drain a little, or the rogue only fills its own memory.
    if (i % 4 === 3) await sleep(5);
  }
  out({ ev: 'done', ms: Date.now() - t0, junk, big, connections: node.getConnections().length });
  if (cfg.redial) {
    let dial = 'ok';
    try {
      await node.dial(seed, { signal: AbortSignal.timeout(10_000) });
    } catch {
      dial = 'failed';
    }
    await sleep(1000);
    out({ ev: 'redial', dial, connections: node.getConnections().length });
  }
}
