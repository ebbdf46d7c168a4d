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
 *   Two of the discovery's costs can be added on top, one at a time:
 *   `extraFrames` (frame sizes, in bytes: each agent sends that many more
 *   frames over the connections it holds, spread over the steps, each a
 *   gossip frame of records the receiver already has, decoded and dropped as
 *   duplicates; a frame smaller than one record is a pull of member ids) and
 *   `churn` (that many more connections per agent, each dialed to a node
 *   that is not a partner, one small frame on a stream, then closed: the
 *   handshakes of the discovery's seed dials, shed links and relays), and
 *   `refused` (that many more dials per agent to a node at its connection
 *   bound, one per host, which closes them before any handshake: the joiners'
 *   dials of full seeds).
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
  /** Per agent, the sizes (bytes) of the frames sent beyond the records' own (0 = none). */
  extraFrames: number[];
  /** Per agent, connections dialed, used for one frame and closed beyond the partners'. */
  churn: number;
  /** The extra frames one at a time, about this far apart (0: with each step's frame, in a burst). */
  frameGapMs: number;
  /** Per agent, dials of a node at its connection bound (refused before any handshake). */
  refused: number;
  /** This process runs its host's node at the bound (listening at refuserAddrs[hostIndex]). */
  refuser: boolean;
  refuserAddrs: string[];
  hostIndex: number;
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
  let extraOut = 0;
  let opened = 0;
  let churned = 0;
  let refusals = 0;
  if (cfg.refuser) {
    // A node whose connection bound is full: every inbound connection is closed before its handshake.
    const full = await createControlNode({
      listen: [cfg.refuserAddrs[cfg.hostIndex]!],
      clusterKey,
      privateKey: await generateKeyPair('Ed25519'),
      pubsub: false,
      identify: false,
      maxConnections: 256,
      admitInbound: () => false,
    });
    closers.push(async () => full.stop());
  }

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
    /** Per step, the partner's records once they came (the first gossip frame on the step's stream). */
    got: (SignedRecord[] | undefined)[];
    /** Records heard again in extra frames (duplicates, dropped as the discovery drops them). */
    duplicates: number;
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
        duplicates: 0,
        wake: () => {},
      };
      node.addEventListener('connection:open', () => opened++);
      await node.handle(
        `${PROTOCOL}/churn`,
        (stream: any) => {
          const lp = lpStream(stream, { maxDataLength: 1 << 20 });
          void lp
            .read()
            .then((b) => {
              decodeFrame(b.subarray());
              framesIn++;
            })
            .catch(() => {})
            .finally(() => stream.close?.().catch(() => {}));
        },
        { maxInboundStreams: 4, maxOutboundStreams: 4 },
      );
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
        if (f.got[k]) {
          for (const rec of msg.records) {
            const had = f.known.get(rec.id);
            if (had && had.version >= rec.version) f.duplicates++;
          }
          continue;
        }
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

  /** An extra frame of about `bytes`: known records (repeated if need be), or a pull of ids when smaller than one record. */
  function extraFrame(f: FloorNode, bytes: number): Uint8Array {
    const known = [...f.known.values()];
    const recordBytes = encodeFrame({
      kind: 'gossip',
      records: [known[0]!],
      deaths: [],
      suspects: [],
    }).byteLength;
    if (bytes < recordBytes) {
      const ids = Array.from(
        { length: Math.max(1, Math.round(bytes / 56)) },
        (_, i) => known[i % known.length]!.id,
      );
      return encodeFrame({ kind: 'pull', ids });
    }
    const count = Math.max(1, Math.round(bytes / recordBytes));
    const records = Array.from({ length: count }, (_, i) => known[i % known.length]!);
    return encodeFrame({ kind: 'gossip', records, deaths: [], suspects: [] });
  }

  /** One connection beyond the partners': dialed to a non-partner, one small frame, closed. */
  async function churnOnce(f: FloorNode): Promise<void> {
    let other: number;
    do other = Math.floor(Math.random() * n);
    while (other === f.index || Number.isInteger(Math.log2(other ^ f.index)));
    try {
      const conn = await f.node.dial(multiaddr(cfg.addrs[other]!));
      const stream = await conn.newStream(`${PROTOCOL}/churn`);
      const lp = lpStream(stream, { maxDataLength: 1 << 20 });
      await lp.write(encodeFrame({ kind: 'pull', ids: [f.node.peerId.toString()] }));
      await stream.close?.().catch(() => {});
      await conn.close();
      churned++;
    } catch {
      // not listening yet, or the other end closed first: counted by `opened` only if it opened
    }
  }

  /** A dial of a node at its bound: reset after the TCP connect (retried while it is not listening yet). */
  async function refusedOnce(f: FloorNode): Promise<void> {
    const addr = cfg.refuserAddrs[Math.floor(Math.random() * cfg.refuserAddrs.length)]!;
    for (let tries = 0; tries < 20; tries++) {
      try {
        const conn = await f.node.dial(multiaddr(addr));
        await conn.close(); // not expected: the node admits nothing
        return;
      } catch (err) {
        if (
          /ECONNREFUSED/.test(
            String((err as Error)?.message) + JSON.stringify((err as any)?.errors ?? []),
          )
        ) {
          await new Promise((r) => setTimeout(r, RETRY_MS));
          continue;
        }
        refusals++;
        return;
      }
    }
  }

  /**
   * The extra frames one at a time, `frameGapMs` apart (each its own turn of
   * both event loops, as the discovery's flushes, probes and digests come),
   * over the streams whose step frame has gone; until all are sent.
   */
  async function sendPaced(f: FloorNode, sent: () => number): Promise<void> {
    for (let i = 0; i < cfg.extraFrames.length; i++) {
      await new Promise((r) => setTimeout(r, cfg.frameGapMs * (0.5 + Math.random())));
      const extra = extraFrame(f, cfg.extraFrames[i]!);
      bytesOut += extra.byteLength;
      extraOut++;
      await (await f.streams[i % sent()]!).write(extra);
    }
  }

  async function run(f: FloorNode): Promise<void> {
    const paced = (cfg.frameGapMs ?? 0) > 0 && cfg.extraFrames.length > 0;
    let sentSteps = 0;
    for (let k = 0; k < steps; k++) if (!f.streams[k]) f.streams[k] = dialStep(f, k);
    const churns: Promise<void>[] = [];
    for (let k = 0; k < steps; k++) {
      const records = [...f.known.values()];
      const frame = encodeFrame({ kind: 'gossip', records, deaths: [], suspects: [] });
      bytesOut += frame.byteLength;
      await (await f.streams[k]!).write(frame);
      sentSteps = k + 1;
      if (k === 0 && paced) churns.push(sendPaced(f, () => sentSteps));
      // This step's share of the extra frames, over the streams of the steps so far.
      const extras = paced ? [] : cfg.extraFrames;
      const from = Math.floor((k * extras.length) / steps);
      const to = Math.floor(((k + 1) * extras.length) / steps);
      for (let i = from; i < to; i++) {
        const extra = extraFrame(f, extras[i]!);
        bytesOut += extra.byteLength;
        extraOut++;
        await (await f.streams[i % (k + 1)]!).write(extra);
      }
      const cFrom = Math.floor((k * cfg.churn) / steps);
      const cTo = Math.floor(((k + 1) * cfg.churn) / steps);
      for (let i = cFrom; i < cTo; i++) churns.push(churnOnce(f));
      const rFrom = Math.floor((k * (cfg.refused ?? 0)) / steps);
      const rTo = Math.floor(((k + 1) * (cfg.refused ?? 0)) / steps);
      for (let i = rFrom; i < rTo; i++) churns.push(refusedOnce(f));
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
    await Promise.all(churns);
  }

  await Promise.all(nodes.map(run));
  setTimeout(
    () =>
      reportStats({
        verifiedPerAgent: verified / nodes.length,
        framesInPerAgent: framesIn / nodes.length,
        bytesOutPerAgent: bytesOut / nodes.length,
        extraFramesOutPerAgent: extraOut / nodes.length,
        duplicatesPerAgent: nodes.reduce((x, f) => x + f.duplicates, 0) / nodes.length,
        connectionsOpenedPerAgent: opened / nodes.length,
        churnedPerAgent: churned / nodes.length,
        refusedPerAgent: refusals / nodes.length,
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
