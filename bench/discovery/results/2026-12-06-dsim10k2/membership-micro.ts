/**
 * A real agent's membership work, before and after the compact entries: one
 * member (one per process, as an agent) receives 4096 members' records, each
 * its own object (as decoded off the wire), over 4 links (each record from
 * all 4: one new, three duplicates), then answers 2000 digests (bucket
 * hashes over its directory) and 200 entry lists (a whole-directory answer).
 * Prints ns per record receipt, µs per digest answer, µs per entries answer.
 *
 *   [SIM_TREE=/tmp/main-before] node --import tsx membership-micro.ts
 */
import { fileURLToPath } from 'node:url';

const tree = process.env.SIM_TREE ?? fileURLToPath(new URL('../../../..', import.meta.url));
const { SimNetwork, SIM_SIGNER } = (await import(
  `${tree}/bench/discovery/sim/network.ts`
)) as typeof import('../../sim/network.js');
const { Membership } = (await import(
  `${tree}/plugins/gossip/membership.ts`
)) as typeof import('../../../../plugins/gossip/membership.js');

const N = 4096;
const ROUNDS = 5;
const links = ['p', 'q', 'r', 's'];
const result = { receiveNs: [] as number[], digestUs: [] as number[], entriesUs: [] as number[] };
for (let round = 0; round < ROUNDS; round++) {
  const net = new SimNetwork(10, {});
  let sent = 0;
  const m = new Membership(
    'agent',
    new Uint8Array(512),
    { send: () => void sent++, connect() {}, disconnect() {} },
    SIM_SIGNER,
    net.clock,
    {},
    { maxMembers: 2 * N, batchMs: 20 },
  );
  for (const l of links) m.linkUp(l, false);
  const batches = links.map(() =>
    Array.from({ length: N / 64 }, (_, b) =>
      Array.from({ length: 64 }, (_, i) => ({
        id: `12D3KooW${String(b * 64 + i).padStart(44, 'x')}`,
        version: 1,
        left: false,
        payload: new Uint8Array(512),
        sig: new Uint8Array(64),
      })),
    ),
  );
  let t = performance.now();
  for (let b = 0; b < N / 64; b++)
    for (let l = 0; l < links.length; l++)
      m.receive(links[l]!, { kind: 'gossip', records: batches[l]![b]!, deaths: [], suspects: [] });
  result.receiveNs.push(((performance.now() - t) * 1e6) / (N * links.length));
  net.clock.run(net.clock.now() + 1000);
  // A digest from a link that differs in every bucket: the answer is the whole directory.
  const d = m.digest();
  const other = {
    kind: 'digest' as const,
    hash: '0',
    count: 1,
    buckets: new Uint8Array(d.buckets.byteLength),
  };
  t = performance.now();
  for (let i = 0; i < 2000; i++) m.digest();
  result.digestUs.push(((performance.now() - t) * 1000) / 2000);
  t = performance.now();
  for (let i = 0; i < 200; i++) m.receive('p', other);
  result.entriesUs.push(((performance.now() - t) * 1000) / 200);
  m.stop();
  void sent;
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(
  JSON.stringify({
    tree,
    receiveNsPerRecord: +med(result.receiveNs).toFixed(0),
    digestUs: +med(result.digestUs).toFixed(1),
    entriesAnswerUs: +med(result.entriesUs).toFixed(1),
    all: result,
  }),
);
