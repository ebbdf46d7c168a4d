/**
 * A hostile libp2p node in its own process, for discovery tests. Run with
 * `node --import tsx rogue-member.ts '<json>'`; it reports JSON lines on
 * stdout and exits when stdin closes.
 *
 * Modes (`cfg.mode`):
 * - `outsider`: no cluster key (`key` absent) or a wrong one. Tries to dial the
 *   seed, open the cluster's mesh stream and write a frame; reports
 *   `{ev:'result', dial, fetch, topicPeers, published, connections}` (fetch:
 *   whether the mesh stream opened; topicPeers: mesh streams the seed opened
 *   to it; published: frames written).
 * - `flood`: a rogue member (holds the key). Waits until the seed links it
 *   (opens its mesh stream), then sends `junk` junk frames (random bytes,
 *   frames of another format version, records of the victim it signed
 *   itself, deaths and suspicions of made-up members) and `big` large records
 *   of its own claiming the victim's name (sizes cycling through `bigBytes`),
 *   and reports `{ev:'done', ms}`.
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
import { signingBytes, type SignedRecord } from '../../plugins/gossip/membership.js';
import { meshProtocolFor } from '../../plugins/gossip/mesh-transport.js';
import { encodeFrame, encodePayload } from '../../plugins/gossip/mesh-wire.js';
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
  /** flood: how many junk frames and large records. */
  junk?: number;
  big?: number;
  /** flood: record metadata sizes, used in turn. */
  bigBytes?: number[];
  /** flood: links to wait for before flooding (the seed's mesh stream). */
  topicPeers?: number;
  /** flood: an agent name it claims (it owns none). */
  victim?: string;
  /** flood: after flooding, dial the seed again and report whether a connection holds. */
  redial?: boolean;
  /** outsider: how long each attempt may take. */
  timeoutMs?: number;
}

const cfg = JSON.parse(process.argv[2]!) as RogueConfig;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const protocol = meshProtocolFor(cfg.cluster);

const key = await generateKeyPair('Ed25519');
const node = await createControlNode({
  listen: ['/ip4/127.0.0.1/tcp/0'],
  clusterKey: cfg.key ? parseClusterKey(cfg.key) : undefined,
  privateKey: key,
  pubsub: false,
  start: false,
});
let inbound = 0;
await node.handle(protocol, async (stream) => {
  inbound++;
  const lp = lpStream(stream);
  try {
    for (;;) await lp.read();
  } catch {
    // Closed by the seed.
  }
});
await node.start();
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

let version = 1;
function record(id: string, name: string, bytes: number): SignedRecord {
  const metadata = encodeMetadata({
    name,
    agentId: randomBytes(16),
    hostId: 'rogue',
    partial: false,
    conns: [{ backend: 'TCP', connInfo: randomBytes(bytes) }],
    sections: [],
    labels: new Map(),
  });
  const payload = encodePayload({ name, addrs: [], metadata });
  const v = version++;
  const sig = key.sign(signingBytes(id, v, false, payload)) as Uint8Array;
  return { id, version: v, left: false, payload, sig };
}

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
  result.published = 0;
  try {
    const stream = await node.dialProtocol(seed, protocol, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    result.fetch = 'ok';
    const lp = lpStream(stream);
    await lp.write(encodeFrame({ kind: 'digest', hash: '0', count: 1 }));
    result.published = 1;
  } catch (err) {
    result.fetch = 'failed';
    result.fetchError = String((err as Error)?.message ?? err).slice(0, 200);
  }
  await sleep(500);
  result.topicPeers = inbound;
  result.connections = node.getConnections().length;
  out({ ev: 'result', ...result });
} else {
  const conn = await node.dial(seed, { signal: AbortSignal.timeout(30_000) });
  const deadline = Date.now() + 30_000;
  while (inbound < (cfg.topicPeers ?? 1)) {
    if (Date.now() > deadline) {
      out({ ev: 'fatal', message: `the seed did not link the rogue` });
      await stop();
    }
    await sleep(20);
  }
  const self = node.peerId.toString();
  const seedId = conn.remotePeer;
  out({ ev: 'joined', peerId: self, topicPeers: inbound });
  const stream = await node.dialProtocol(seedId, protocol);
  const lp = lpStream(stream, { maxDataLength: 64 * 1024 * 1024 });
  const write = (bytes: Uint8Array) => lp.write(bytes).catch(() => {});

  const fake: string[] = [];
  for (let i = 0; i < 50; i++)
    fake.push(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString());
  const t0 = Date.now();
  const junk = cfg.junk ?? 10_000;
  const victim = cfg.victim ?? 'a';
  // A record of another member (one of the made-up ids), signed by the rogue.
  const forged = record(fake[0]!, victim, 64);
  for (let i = 0; i < junk && !stopping; i++) {
    const k = i % 10;
    if (k < 7) await write(randomBytes(64 + (i % 256)));
    else if (k === 7) {
      // A frame of another format version: field 1 (version) = 99, no body.
      await write(new Uint8Array([0x08, 99]));
    } else if (k === 8) {
      await write(encodeFrame({ kind: 'gossip', records: [forged], deaths: [], suspects: [] }));
    } else {
      const deaths = fake.map((id) => ({ id, version: i }));
      await write(encodeFrame({ kind: 'gossip', records: [], deaths, suspects: deaths }));
    }
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  out({ ev: 'junk-sent', ms: Date.now() - t0 });
  const sizes = cfg.bigBytes ?? [1024 * 1024 - 16 * 1024];
  const big = cfg.big ?? 200;
  for (let i = 0; i < big && !stopping; i++) {
    // Its own record, validly signed, claiming the victim's name.
    const rec = record(self, victim, sizes[i % sizes.length]!);
    await write(encodeFrame({ kind: 'gossip', records: [rec], deaths: [], suspects: [] }));
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
