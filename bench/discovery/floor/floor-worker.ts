/**
 * One process of the discovery floor probe (floor.ts): the irreducible work of
 * a cluster start on the discovery's libp2p stack, without its membership.
 *
 * Layers (`layer`):
 * - `idle`: a node process that only stays alive (no imports past node's own).
 * - `imports`: the same, after importing what a scale.ts worker imports (the
 *   agent, the gossip discovery, its libp2p node, the seeds source).
 * - `stack`: K agents (TCP backend, as scale.ts's workers) and K control
 *   nodes built as the discovery builds them (createControlNode: tcp, the
 *   cluster key's private network, noise, yamux; no identify, no pubsub).
 *   Every node's address is known up front (fixed ports: no discovery), and
 *   each spreads one signed record of the real size (its agent's payload as
 *   the discovery encodes it) to all by recursive doubling on a hypercube:
 *   step k exchanges everything known so far with partner `index XOR 2^k`.
 *   That is log2(N) connections per node (7 at 128: about the 8.3 the
 *   discovery opens per agent), each record received exactly once and its
 *   signature checked once per process (the discovery's process-wide cache).
 *   With `load`, each record's metadata is also loaded into the agent.
 *
 * Reports JSON lines like worker.ts: `ready`, `loaded-all`, and `stats`
 * (`statsAfterMs` after its nodes are complete; for idle and imports,
 * `holdMs` after ready) with this process's CPU per agent, split at ready.
 *
 * argv: JSON { layer, indices, addrs (every index's multiaddr), ip, clusterKey (hex),
 *              load, holdMs, statsAfterMs, limitMs }
 */
import { splitSince, threadCpuMs } from '../thread-cpu.js';

const cpu0 = process.cpuUsage();
const threadsBefore = threadCpuMs();
let threadsAtReady = threadsBefore;

interface FloorConfig {
  layer: 'idle' | 'imports' | 'stack';
  /** Global indices of this process's nodes (0..N-1); N is addrs.length. */
  indices: number[];
  /** Every node's listen address, by global index. */
  addrs: string[];
  ip: string;
  clusterKey: string;
  /** Load each record's metadata into the node's agent (loadRemoteMD). */
  load: boolean;
  holdMs: number;
  statsAfterMs: number;
  limitMs: number;
}

const cfg = JSON.parse(process.argv[2]!) as FloorConfig;
const out = (o: object) => process.stdout.write(JSON.stringify({ ...o, t: Date.now() }) + '\n');
process.stdout.on('error', () => process.exit(1));
const limit = setTimeout(() => process.exit(1), cfg.limitMs);
const PROTOCOL = '/nixl-ts/floor/1';
const RETRY_MS = 100;

let cpuToReady: NodeJS.CpuUsage = { user: 0, system: 0 };
let importCpuMs = 0;
const closers: (() => Promise<unknown>)[] = [];

function reportStats(extra: object): void {
  const cpu = process.cpuUsage(cpu0);
  const k = cfg.indices.length;
  const threads = splitSince(threadsAtReady, threadCpuMs(), new Set(threadsBefore.keys()));
  const ms = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
  out({
    ev: 'stats',
    agents: k,
    importCpuMs,
    cpuMsPerAgent: ms(cpu) / k,
    cpuAfterReadyMsPerAgent: (ms(cpu) - ms(cpuToReady)) / k,
    // The same by thread: main, V8/libuv helpers, threads started since (TCP engines).
    threadsAfterReadyMsPerAgent: {
      main: threads.main / k,
      helpers: threads.helpers / k,
      started: threads.started / k,
    },
    ...extra,
  });
}

if (cfg.layer !== 'idle') {
  await import('../../../src/polyfills.js');
  await import('../../../src/agent.js');
  await import('../../../plugins/gossip/index.js');
  await import('../../../plugins/libp2p-node/index.js');
  await import('../../../plugins/seeds/index.js');
  const c = process.cpuUsage(cpu0);
  importCpuMs = (c.user + c.system) / 1000;
}

if (cfg.layer === 'stack') await startStack();
else {
  cpuToReady = process.cpuUsage(cpu0);
  threadsAtReady = threadCpuMs();
  for (const i of cfg.indices) out({ ev: 'ready', index: i });
  for (const i of cfg.indices) out({ ev: 'loaded-all', index: i });
  setTimeout(() => reportStats({}), cfg.holdMs).unref();
}

async function startStack(): Promise<void> {
  const { createHash, createPublicKey, verify } = await import('node:crypto');
  const { generateKeyPair } = await import('@libp2p/crypto/keys');
  const { peerIdFromString } = await import('@libp2p/peer-id');
  const { multiaddr } = await import('@multiformats/multiaddr');
  const { lpStream } = await import('@libp2p/utils');
  const { Agent } = await import('../../../src/agent.js');
  const { createControlNode } = await import('../../../plugins/libp2p-node/index.js');
  const { withCachedSigning } = await import('../../../plugins/libp2p-node/signing-key.js');
  const { encodeFrame, decodeFrame, encodePayload, decodePayload } =
    await import('../../../plugins/gossip/mesh-wire.js');
  const { signingBytesOf } = await import('../../../plugins/gossip/membership.js');
  const { rememberVerified, signatureKey, wasVerified } =
    await import('../../../plugins/gossip/verified-signatures.js');
  type SignedRecord = import('../../../plugins/gossip/membership.js').SignedRecord;

  const n = cfg.addrs.length;
  const steps = Math.log2(n);
  if (!Number.isInteger(steps)) throw new Error(`the floor needs a power of two nodes, got ${n}`);
  const clusterKey = new Uint8Array(Buffer.from(cfg.clusterKey, 'hex'));
  const publicKeys = new Map<string, import('node:crypto').KeyObject>();
  let verified = 0;
  let framesIn = 0;
  let bytesOut = 0;

  /** As the discovery checks a record: once per process, the member's key imported once. */
  function verifyRecord(rec: SignedRecord): boolean {
    const digest = new Uint8Array(createHash('sha256').update(rec.payload).digest());
    const bytes = signingBytesOf(rec.id, rec.version, rec.left, digest);
    const triple = signatureKey(rec.id, bytes, rec.sig);
    if (wasVerified(triple)) return true;
    let key = publicKeys.get(rec.id);
    if (!key) {
      const raw = peerIdFromString(rec.id).publicKey!.raw;
      key = createPublicKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
        format: 'jwk',
      });
      publicKeys.set(rec.id, key);
    }
    verified++;
    if (!verify(null, bytes, key, rec.sig)) return false;
    rememberVerified(triple);
    return true;
  }

  type Lp = ReturnType<typeof lpStream>;
  interface FloorNode {
    index: number;
    agent: import('../../../src/agent.js').Agent;
    node: Awaited<ReturnType<typeof createControlNode>>;
    known: Map<string, SignedRecord>;
    /** Per step: the stream to the partner (the answering side's, once the partner opened it). */
    streams: Promise<Lp>[];
    /** Per step, the partner's records once they came. */
    got: (SignedRecord[] | undefined)[];
    wake: () => void;
  }

  const nodes = await Promise.all(
    cfg.indices.map(async (index): Promise<FloorNode> => {
      const agent = await Agent.create({
        name: `f${index}`,
        backends: [{ type: 'TCP', params: { bind_addr: cfg.ip, port: '0' } }],
      });
      const key = withCachedSigning(await generateKeyPair('Ed25519'));
      const node = await createControlNode({
        listen: [cfg.addrs[index]!],
        clusterKey,
        privateKey: key,
        pubsub: false,
        identify: false,
        maxConnections: 256,
      });
      const id = node.peerId.toString();
      const payload = encodePayload({
        name: agent.name,
        addrs: node.getMultiaddrs().map(String),
        metadata: agent.getLocalMD(),
      });
      const digest = new Uint8Array(createHash('sha256').update(payload).digest());
      const sig = key.sign(signingBytesOf(id, 1, false, digest)) as Uint8Array;
      const self: SignedRecord = { id, version: 1, left: false, payload, sig };
      const f: FloorNode = {
        index,
        agent,
        node,
        known: new Map([[id, self]]),
        streams: [],
        got: [],
        wake: () => {},
      };
      // One protocol per step: the answering side knows the step from the negotiation.
      for (let k = 0; k < steps; k++) {
        if (index < (index ^ (1 << k))) continue;
        let opened!: (lp: Lp) => void;
        f.streams[k] = new Promise((r) => (opened = r));
        await node.handle(
          `${PROTOCOL}/${k}`,
          (stream: any) => {
            const lp = lpStream(stream, { maxDataLength: 1 << 20 });
            opened(lp);
            void readFrames(f, k, stream, lp);
          },
          { maxInboundStreams: 2, maxOutboundStreams: 2 },
        );
      }
      closers.push(
        async () => node.stop(),
        () => agent.close(),
      );
      return f;
    }),
  );
  cpuToReady = process.cpuUsage(cpu0);
  threadsAtReady = threadCpuMs();
  for (const f of nodes) out({ ev: 'ready', index: f.index });

  async function readFrames(f: FloorNode, k: number, stream: any, lp: Lp): Promise<void> {
    try {
      for (;;) {
        const msg = decodeFrame((await lp.read()).subarray());
        framesIn++;
        if (msg.kind !== 'gossip') continue;
        f.got[k] = msg.records;
        f.wake();
      }
    } catch {
      // the other side closed
    }
    await stream.close?.().catch(() => {});
  }

  /** The lower index dials step k's partner (retrying until it listens) and opens the step's stream. */
  async function dialStep(f: FloorNode, k: number): Promise<Lp> {
    const partner = f.index ^ (1 << k);
    for (;;) {
      try {
        const conn = await f.node.dial(multiaddr(cfg.addrs[partner]!));
        const stream = await conn.newStream(`${PROTOCOL}/${k}`);
        const lp = lpStream(stream, { maxDataLength: 1 << 20 });
        void readFrames(f, k, stream, lp);
        return lp;
      } catch {
        await new Promise((r) => setTimeout(r, RETRY_MS)); // not listening yet
      }
    }
  }

  async function run(f: FloorNode): Promise<void> {
    for (let k = 0; k < steps; k++) if (!f.streams[k]) f.streams[k] = dialStep(f, k);
    for (let k = 0; k < steps; k++) {
      const records = [...f.known.values()];
      const frame = encodeFrame({ kind: 'gossip', records, deaths: [], suspects: [] });
      bytesOut += frame.byteLength;
      await (await f.streams[k]!).write(frame);
      while (!f.got[k]) await new Promise<void>((r) => (f.wake = r));
      for (const rec of f.got[k]!) {
        if (f.known.has(rec.id)) continue;
        if (!verifyRecord(rec)) throw new Error(`bad signature from ${rec.id}`);
        f.known.set(rec.id, rec);
        if (cfg.load) f.agent.loadRemoteMD(decodePayload(rec.payload).metadata);
      }
    }
    if (f.known.size !== n) throw new Error(`node ${f.index}: ${f.known.size} of ${n} records`);
    out({ ev: 'loaded-all', index: f.index });
  }

  await Promise.all(nodes.map(run));
  setTimeout(
    () =>
      reportStats({
        verifiedPerAgent: verified / nodes.length,
        framesInPerAgent: framesIn / nodes.length,
        bytesOutPerAgent: bytesOut / nodes.length,
        connections: nodes.map((f) => f.node.getConnections().length),
      }),
    cfg.statsAfterMs,
  ).unref();
}

async function shutdown(code: number): Promise<void> {
  clearTimeout(limit);
  await Promise.all(closers.map((c) => c().catch(() => {})));
  process.exit(code);
}
process.stdin.on('end', () => void shutdown(0));
process.stdin.resume();
