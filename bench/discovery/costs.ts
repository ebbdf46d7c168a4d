/**
 * What the gossip discovery's per-connection and per-agent work costs, each
 * step in isolation, as CPU time of this process (both ends of a connection
 * run here, so a connection's figure is what the cluster pays for it, both
 * sides together). Everything stays on 127.0.0.1 or in memory.
 *
 *   npx tsx bench/discovery/costs.ts [--n 200] [--only conn,pnet,noise,frames,...]
 *
 * Steps:
 * - `tcp`: a loopback TCP connect, accept and close (the floor under the rest).
 * - `pnet`: the private network's nonce exchange and key confirmation, both
 *   sides, over an in-memory connection pair.
 * - `noise`: a noise XX handshake (with the early muxer choice), both sides,
 *   in memory.
 * - `conn`: two libp2p nodes as the discovery builds them (createControlNode:
 *   cluster key, no identify, no pubsub): dial and hang up. `conn-open` is
 *   the same without the private network (so conn − conn-open ≈ pnet on TCP).
 * - `stream`: on an open connection, a new stream on the mesh protocol
 *   (multistream-select), one 512-byte frame written and read, stream closed.
 * - `bulk`: 1 MiB through an established connection (pnet's XSalsa20 and
 *   noise's ChaCha20-Poly1305, yamux framing), µs per KiB.
 * - `frames`: one gossip frame (a record of 600 bytes) through the mesh
 *   transport (mesh-transport.ts) to a linked node, waiting until it is
 *   received and decoded; `frames-burst`: 20 such frames queued in one turn
 *   (a flood's burst), and the figure per frame; `frames-spaced`: one frame
 *   after a 3 ms pause each (as frames reach an agent during a start).
 * - `link`: a mesh link as the discovery makes one: the mesh transport dials
 *   a node for a frame (a ping), the other side answers (an ack) over that
 *   connection, then the connection is closed: the handshakes and the mesh
 *   stream negotiations of one link, both sides, without the membership.
 * - `monitor-ping`: one round of libp2p's connection monitor on an open
 *   connection (a ping stream opened, the protocol refused by a node that
 *   does not serve it, as in the discovery's nodes), both sides.
 * - `seeds-joined`: one second of an agent whose seed source has joined (its
 *   connection to the seed stays up), with the bench's retryMs of 100: what
 *   the seed source costs a member that is connected (and the two nodes' own
 *   timers, the same before and after).
 * - `verify`: one record signature verified (a member's key already imported)
 *   and `verify-first` with the key imported from the peer id first (as JWK;
 *   `verify-first-der` as DER, the discovery's way before); `verify-hit` the
 *   same triple found in the process-wide cache of verified signatures (what
 *   every agent of a process but the first pays for a record).
 * - `sign`: one record signed with a libp2p Ed25519 key as `@libp2p/crypto`
 *   makes it, `sign-cached` with the control node's key (one key object).
 * - `load`: one peer's metadata (TCP backend connection info) loaded into an
 *   agent (loadRemoteMD: decode, the backend's addPeer) and invalidated.
 * - `agent`: one agent with the TCP backend created and closed (no discovery),
 *   and `agent-gossip`: the same with the gossip discovery started (its
 *   libp2p node listening, no peers) — what comes before "ready".
 *
 * Prints one line per step: iterations, CPU µs per iteration, wall µs per
 * iteration. CPU is process.cpuUsage (user + system, every thread: the TCP
 * engine's I/O thread included).
 */
import '../../src/polyfills.js';

import { createPublicKey, randomBytes, verify as cryptoVerify } from 'node:crypto';
import net from 'node:net';
import { parseArgs } from 'node:util';

import { generateKeyPair } from '@libp2p/crypto/keys';
import { defaultLogger } from '@libp2p/logger';
import { noise } from '@libp2p/noise';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddrConnectionPair, lpStream } from '@libp2p/utils';

import { Agent } from '../../src/agent.js';
import { createLogger } from '../../src/logger.js';
import { createControlNode, type ControlNode } from '../../plugins/libp2p-node/index.js';
import type { MeshTransportOptions } from '../../plugins/gossip/mesh-transport.js';
import { privateNetwork } from '../../plugins/libp2p-node/private-network.js';
import { threadCpuMs } from './thread-cpu.js';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '200' },
    only: { type: 'string', default: '' },
  },
});
const N = Math.max(1, Math.min(10_000, Number(args.n)));
const only = new Set(args.only ? args.only.split(',') : []);
const wanted = (step: string) => only.size === 0 || only.has(step);
const PROTOCOL = '/nixl-ts/costs-probe/1';

interface Result {
  step: string;
  n: number;
  cpuUs: number;
  wallUs: number;
}
const results: Result[] = [];

/** Runs `fn` n times (after a short warm-up), in sequence; records CPU and wall time per run. */
async function measure(step: string, n: number, fn: (i: number) => unknown): Promise<void> {
  if (!wanted(step)) return;
  for (let i = 0; i < Math.min(10, n); i++) await fn(i);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn(i);
  const c = process.cpuUsage(c0);
  const wall = performance.now() - t0;
  const r = { step, n, cpuUs: (c.user + c.system) / n, wallUs: (wall * 1000) / n };
  results.push(r);
  console.log(
    `${step.padEnd(14)} n=${String(n).padEnd(6)} cpu ${r.cpuUs.toFixed(1).padStart(9)} µs   wall ${r.wallUs.toFixed(1).padStart(9)} µs`,
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const clusterKey = new Uint8Array(randomBytes(32));

// ---------------------------------------------------------------- tcp
{
  const server = net.createServer((s) => s.on('error', () => {}).on('end', () => s.end()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await measure('tcp', N, async () => {
    const s = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
    s.end();
    await new Promise<void>((resolve) => s.once('close', () => resolve()).resume());
  });
  server.close();
}

// ---------------------------------------------------------------- pnet (in memory)
await measure('pnet', N, async () => {
  const [a, b] = multiaddrConnectionPair();
  const protector = privateNetwork(clusterKey)();
  const [pa, pb] = await Promise.all([protector.protect(a), protector.protect(b)]);
  await Promise.all([pa.close(), pb.close()]);
});

// ---------------------------------------------------------------- noise (in memory)
{
  const components = async () => {
    const privateKey = await generateKeyPair('Ed25519');
    return {
      privateKey,
      peerId: peerIdFromPrivateKey(privateKey),
      logger: defaultLogger(),
      upgrader: { getStreamMuxers: () => new Map([['/yamux/1.0.0', {}]]) } as any,
    };
  };
  const ca = await components();
  const cb = await components();
  // As the control nodes build it (main's code before this probe had no controlNoise: stock noise).
  const factory =
    ((await import('../../plugins/libp2p-node/index.js')) as any).controlNoise ?? (() => noise());
  const na = factory()(ca);
  const nb = factory()(cb);
  await measure('noise', N, async () => {
    const [a, b] = multiaddrConnectionPair();
    const [sa, sb] = await Promise.all([
      na.secureOutbound(a, { remotePeer: cb.peerId }),
      nb.secureInbound(b),
    ]);
    await Promise.all([sa.connection.close(), sb.connection.close()]);
  });
}

// ---------------------------------------------------------------- libp2p connections
async function nodePair(withKey: boolean): Promise<[ControlNode, ControlNode]> {
  // With an identity key given, as the discovery gives one (the node then signs with it natively).
  const make = async () =>
    createControlNode({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      ...(withKey ? { clusterKey } : {}),
      pubsub: false,
      identify: false,
      maxConnections: 256,
    });
  const [a, b] = await Promise.all([make(), make()]);
  for (const n of [a, b]) {
    await n.handle(
      PROTOCOL,
      async (stream: any) => {
        const lp = lpStream(stream);
        try {
          for (;;) await lp.write((await lp.read()).subarray());
        } catch {
          // the dialer closed its side: close ours, so the stream is freed
        }
        await stream.close().catch(() => {});
      },
      { maxInboundStreams: 64, maxOutboundStreams: 64 },
    );
  }
  return [a, b];
}

for (const [step, withKey] of [
  ['conn', true],
  ['conn-open', false],
] as const) {
  if (!wanted(step) && !(step === 'conn' && (wanted('stream') || wanted('bulk')))) continue;
  const [a, b] = await nodePair(withKey);
  const addr = b.getMultiaddrs()[0]!;
  await measure(step, N, async () => {
    const c = await a.dial(addr);
    await c.close();
  });
  if (withKey) {
    // Let the last measured connection finish closing, so the dial opens a fresh one.
    for (let i = 0; i < 100 && a.getConnections().length > 0; i++) await sleep(10);
    const conn = await a.dial(addr);
    const frame = new Uint8Array(512);
    await measure('stream', N, async () => {
      const s = await conn.newStream(PROTOCOL);
      const lp = lpStream(s);
      await lp.write(frame);
      await lp.read();
      await s.close();
    });
    const big = new Uint8Array(1024 * 1024);
    const s = await conn.newStream(PROTOCOL);
    const lp = lpStream(s, { maxDataLength: 2 * big.byteLength });
    await measure('bulk', Math.max(5, Math.floor(N / 10)), async () => {
      await lp.write(big);
      await lp.read();
    });
    // bulk's figure is one MiB each way: per KiB of payload carried once.
    const r = results.find((x) => x.step === 'bulk');
    if (r) console.log(`bulk per KiB   cpu ${(r.cpuUs / 2048).toFixed(2)} µs (one direction)`);
    await s.close();
    await conn.close();
  }
  await Promise.all([a.stop(), b.stop()]);
}

// ---------------------------------------------------------------- mesh transports
/**
 * A mesh transport with no rate or size limit in the way of a probe: only the
 * protocol, where its peers listen, and what it does with a frame differ.
 */
async function probeTransport(
  node: ControlNode,
  protocol: string,
  addrsOf: MeshTransportOptions['addrsOf'],
  receive: MeshTransportOptions['receive'],
) {
  const { Libp2pMeshTransport } = await import('../../plugins/gossip/mesh-transport.js');
  const { ConnectionGate } = await import('../../plugins/libp2p-node/connection-gate.js');
  return new Libp2pMeshTransport(node, {
    protocol,
    maxFrameBytes: 1 << 20,
    maxQueueBytes: 16 << 20,
    messagesPerSecond: 1e9,
    messageBurst: 1e9,
    bytesPerSecond: 1e12,
    byteBurst: 1e12,
    maxPeers: 16,
    dialTimeoutMs: 10_000,
    gate: new ConnectionGate(node, 16, () => 0),
    addrsOf,
    refused: () => false,
    receive,
    invalid: (_from, err) => {
      throw err;
    },
    rateLimited: () => {},
    foreign: () => {},
    refusedByLive: () => {},
    awaitsAnswer: () => false,
    linkRefused: () => {},
    unreachable: () => {},
    log: createLogger('nixl-ts:costs-probe'),
  });
}

// ---------------------------------------------------------------- mesh frames
if (wanted('frames') || wanted('frames-burst') || wanted('frames-spaced')) {
  const [a, b] = await nodePair(true);
  let received = 0;
  let wake: () => void = () => {};
  const transport = (node: ControlNode) =>
    probeTransport(
      node,
      '/nixl-ts/costs-mesh/1',
      () => [],
      () => {
        received++;
        wake();
      },
    );
  const [ta, tb] = await Promise.all([transport(a), transport(b)]);
  await Promise.all([ta.install(), tb.install()]);
  await a.dial(b.getMultiaddrs()[0]!);
  const to = b.peerId.toString();
  // A gossip frame with one record of a typical size (a TCP agent's payload, ~600 bytes).
  const record = {
    id: a.peerId.toString(),
    version: 1,
    left: false,
    payload: new Uint8Array(randomBytes(600)),
    sig: new Uint8Array(randomBytes(64)),
  };
  const frame = () => ({ kind: 'gossip' as const, records: [record], deaths: [], suspects: [] });
  const until = (count: number) =>
    new Promise<void>((resolve) => {
      wake = () => received >= count && resolve();
      wake();
    });
  // One frame, then wait for it (a quiet link); and 20 frames queued in one turn (a flood's burst).
  await measure('frames', N * 5, async () => {
    ta.send(to, frame());
    await until(received + 1);
  });
  // One frame after a 3 ms pause (the pause itself costs no CPU): how frames come to
  // each agent during a start, spread out, each one the first after other work.
  await measure('frames-spaced', N, async () => {
    await sleep(3);
    ta.send(to, frame());
    await until(received + 1);
  });
  await measure('frames-burst', Math.max(5, Math.floor(N / 4)), async () => {
    const target = received + 20;
    for (let i = 0; i < 20; i++) ta.send(to, frame());
    await until(target);
  });
  const r = results.find((x) => x.step === 'frames-burst');
  if (r) console.log(`frames-burst per frame cpu ${(r.cpuUs / 20).toFixed(1)} µs`);
  ta.close();
  tb.close();
  await Promise.all([a.stop(), b.stop()]);
}

// ---------------------------------------------------------------- mesh links
if (wanted('link') || wanted('monitor-ping')) {
  const [a, b] = await nodePair(true);
  const nodes = new Map([
    [a.peerId.toString(), a],
    [b.peerId.toString(), b],
  ]);
  let received = 0;
  let wake: () => void = () => {};
  const addrsOf = (id: string) => nodes.get(id)!.getMultiaddrs().map(String);
  const transports = await Promise.all(
    [a, b].map((node) =>
      probeTransport(node, '/nixl-ts/costs-link/1', addrsOf, (from, msg) => {
        received++;
        // The answer goes back over the connection the ping came on.
        if (msg.kind === 'ping') transports[1]!.send(from, { kind: 'ack', nonce: msg.nonce });
        wake();
      }),
    ),
  );
  const [ta, tb] = [transports[0]!, transports[1]!];
  await Promise.all([ta.install(), tb.install()]);
  const until = (count: number) =>
    new Promise<void>((resolve) => {
      wake = () => received >= count && resolve();
      wake();
    });
  const [ida, idb] = [a.peerId.toString(), b.peerId.toString()];
  await measure('link', N, async (i) => {
    const target = received + 2;
    ta.send(idb, { kind: 'ping', nonce: i }, { dial: true });
    await until(target);
    ta.peerGone(idb);
    tb.peerGone(ida);
    await a.hangUp(b.peerId);
    while (b.getConnections().length) await sleep(1);
  });
  if (wanted('monitor-ping')) {
    const conn = await a.dial(b.getMultiaddrs()[0]!);
    // What the connection monitor does every 10 s on every connection, from each end.
    await measure('monitor-ping', N, async () => {
      const s = await conn.newStream('/ipfs/ping/1.0.0').catch((err: Error) => {
        if (err.name !== 'UnsupportedProtocolError') throw err;
      });
      await s?.close();
    });
  }
  ta.close();
  tb.close();
  await Promise.all([a.stop(), b.stop()]);
}

// ---------------------------------------------------------------- seeds, joined
if (wanted('seeds-joined')) {
  const { seeds } = await import('../../plugins/seeds/index.js');
  const [a, b] = await nodePair(true);
  const stop = new AbortController();
  // The bench's retry period (worker.ts): a joined agent's seed source, left running.
  seeds([b.getMultiaddrs()[0]!.toString()], { retryMs: 100 }).start!({
    cluster: 'costs-probe',
    node: a,
    dial: (addr, options) => a.dial(addr, options),
    linking: () => a.getConnections().length > 0,
    log: createLogger('nixl-ts:costs-probe'),
    signal: stop.signal,
  });
  while (!a.getConnections().length) await sleep(10);
  // One second at a time of a joined agent whose connection stays up; the main
  // thread's CPU apart (the process's other threads add noise of their own here).
  await sleep(2000);
  const n = Math.max(3, Math.floor(N / 100));
  const main0 = threadCpuMs().get(process.pid)!;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await sleep(1000);
  const mainUs = (threadCpuMs().get(process.pid)! - main0) * 1000;
  const c = process.cpuUsage(cpu0);
  console.log(
    `seeds-joined   n=${n} main thread ${(mainUs / n).toFixed(1)} µs/s, process ${((c.user + c.system) / n).toFixed(1)} µs/s`,
  );
  stop.abort();
  await Promise.all([a.stop(), b.stop()]);
}

// ---------------------------------------------------------------- records
{
  const key = await generateKeyPair('Ed25519');
  const id = peerIdFromPrivateKey(key).toString();
  const bytes = new Uint8Array(randomBytes(600));
  const sig = key.sign(bytes) as Uint8Array;
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), key.publicKey.raw]);
  const keyObject = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  await measure('sign', N * 5, () => key.sign(bytes));
  // The control node's identity key (signing-key.ts; absent before it existed).
  const cachedSigning = await import('../../plugins/libp2p-node/signing-key.js').catch(() => null);
  if (cachedSigning) {
    const cached = cachedSigning.withCachedSigning(key);
    await measure('sign-cached', N * 5, () => cached.sign(bytes));
  }
  await measure('verify', N * 5, () => {
    if (!cryptoVerify(null, bytes, keyObject, sig)) throw new Error('bad signature');
  });
  // The same triple heard by another agent of the process (verified-signatures.ts; absent before).
  const verifiedSignatures = await import('../../plugins/gossip/verified-signatures.js').catch(
    () => null,
  );
  if (verifiedSignatures) {
    const { rememberVerified, signatureKey, wasVerified } = verifiedSignatures;
    rememberVerified(signatureKey(id, bytes, sig));
    await measure('verify-hit', N * 5, () => {
      if (!wasVerified(signatureKey(id, bytes, sig))) throw new Error('not cached');
    });
  }
  const { peerIdFromString } = await import('@libp2p/peer-id');
  // A member's first record: its key imported from its peer id, as JWK (the discovery's way
  // now) and as DER SubjectPublicKeyInfo (before).
  const imports = {
    'verify-first': (raw: Uint8Array) =>
      createPublicKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
        format: 'jwk',
      }),
    'verify-first-der': (raw: Uint8Array) =>
      createPublicKey({
        key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]),
        format: 'der',
        type: 'spki',
      }),
  };
  for (const [step, importKey] of Object.entries(imports)) {
    await measure(step, N * 5, () => {
      const k = importKey(peerIdFromString(id).publicKey!.raw);
      if (!cryptoVerify(null, bytes, k, sig)) throw new Error('bad signature');
    });
  }
}

// ---------------------------------------------------------------- metadata load
if (wanted('load')) {
  const backends = [{ type: 'TCP' as const, params: { bind_addr: '127.0.0.1', port: '0' } }];
  const target = await Agent.create({ name: 'costs-target', backends });
  const loader = await Agent.create({ name: 'costs-loader', backends });
  const md = target.getLocalMD();
  await measure('load', N * 5, () => {
    loader.loadRemoteMD(md);
    loader.invalidateRemoteMD('costs-target');
  });
  await Promise.all([target.close(), loader.close()]);
}

// ---------------------------------------------------------------- agent creation
{
  const backends = [{ type: 'TCP' as const, params: { bind_addr: '127.0.0.1', port: '0' } }];
  await measure('agent', Math.max(5, Math.floor(N / 4)), async (i) => {
    const a = await Agent.create({ name: `costs-agent-${i}`, backends });
    await a.close();
  });
  if (wanted('agent-gossip')) {
    const { gossip } = await import('../../plugins/gossip/index.js');
    await measure('agent-gossip', Math.max(5, Math.floor(N / 4)), async (i) => {
      const a = await Agent.create({
        name: `costs-gossip-${i}`,
        backends,
        discovery: gossip({ cluster: 'costs-probe', clusterKey, sources: [] }),
      });
      await a.close();
    });
  }
}

console.log(JSON.stringify({ ev: 'costs', results }));
process.exit(0);
