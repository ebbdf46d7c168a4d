/**
 * Is a transfer's notification at the target when the initiator reads DONE?
 * Two agents of one process (as the README's snippet): WRITEs with a
 * notification, and at each DONE the target's getNotifs, called at once.
 * Prints how many were missing then, and how many came later (within 5 s).
 * The TCP backend promises none missing (backends/tcp/README.md,
 * "Notifications and DONE"), and so does UCX with notif_ack on (its default);
 * with notif_ack off it settles, as NIXL's, once the notification is sent
 * (its local completion), and makes no such promise.
 *
 *   npx tsx bench/probes/notif-at-done.ts [--backend TCP|UCX] [--rounds 500] [--size 65536]
 *                                         [--params '{"profile":"tcp","devices":"lo"}']
 */
import { parseArgs } from 'node:util';

import '../../src/polyfills.js';
import { Agent } from '../../src/agent.js';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'TCP' },
    rounds: { type: 'string', default: '500' },
    size: { type: 'string', default: '65536' },
    params: { type: 'string', default: '{}' },
  },
});
const ROUNDS = Number(args.rounds);
const SIZE = Number(args.size);
const backends = [{ type: args.backend!, params: JSON.parse(args.params!) }];

const target = await Agent.create({ name: `target-${process.pid}`, backends });
const initiator = await Agent.create({ name: `initiator-${process.pid}`, backends });
const dst = target.registerMem(Buffer.alloc(SIZE));
const src = initiator.registerMem(Buffer.alloc(SIZE, 7));
initiator.loadRemoteMD(target.getLocalMD());

let missing = 0;
let received = 0;
const until = Date.now() + 120_000;
for (let i = 0; i < ROUNDS && Date.now() < until; i++) {
  await initiator.write(src.descs, dst.descs, target.name, { notif: `n${i}` });
  const now = target.getNotifs().get(initiator.name)?.length ?? 0;
  received += now;
  if (now === 0) missing++;
}
const late = Date.now() + 5000;
while (received < ROUNDS && Date.now() < late) {
  await new Promise((r) => setTimeout(r, 10));
  received += target.getNotifs().get(initiator.name)?.length ?? 0;
}
console.log(
  JSON.stringify({
    backend: args.backend,
    size: SIZE,
    rounds: ROUNDS,
    missingAtDone: missing,
    received,
  }),
);
await initiator.close();
await target.close();
