/**
 * Heap bytes per directory entry when several members of one process hold
 * the same records (as the simulation's members do): `MEMBERS` members each
 * receive the same `RECORDS` record objects from a linked member. Run with
 * `node --expose-gc --import tsx directory-heap-process.ts MEMBERS RECORDS`;
 * prints `{"bytesPerEntry": …, "held": …}` (held: entries the members hold).
 */
import { SIM_SIGNER, SimNetwork } from '../../bench/discovery/sim/network.js';
import { Membership, type SignedRecord } from '../../plugins/gossip/membership.js';

const members = Number(process.argv[2] ?? 20);
const count = Number(process.argv[3] ?? 2000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const records: SignedRecord[] = Array.from({ length: count }, (_, i) => ({
  id: `r${String(i).padStart(5, '0')}`,
  version: 1,
  left: false,
  payload: new Uint8Array(512),
  sig: new Uint8Array(64),
}));
const net = new SimNetwork(10, {});
const transport = { send() {}, connect() {}, disconnect() {} };
const ms = Array.from(
  { length: members },
  (_, i) =>
    new Membership(
      `m${i}`,
      new Uint8Array(1),
      transport,
      SIM_SIGNER,
      net.clock,
      {},
      {
        maxMembers: 2 * count,
      },
    ),
);
for (const m of ms) m.linkUp('feeder', false);
gc();
const before = process.memoryUsage().heapUsed;
for (const m of ms) m.receive('feeder', { kind: 'gossip', records, deaths: [], suspects: [] });
gc();
const after = process.memoryUsage().heapUsed;
const held = ms.reduce((n, m) => n + m.size, 0);
console.log(JSON.stringify({ bytesPerEntry: (after - before) / held, held }));
