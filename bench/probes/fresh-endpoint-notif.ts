/**
 * What the first notified WRITE on a fresh UCX endpoint costs: the
 * initiator drops and reloads the target's metadata (new endpoints, so a new
 * HELLO), then posts a 4 KiB WRITE with a notification and awaits it (DONE
 * once the target holds the notification, notif_ack); then a second one on
 * the same endpoint. µs per WRITE, median and quartiles over --rounds
 * rounds (at most 100: the target has never loaded this agent's metadata, so
 * each HELLO spends a token of its first-use bucket, 256 at once; at most
 * 20 s). UCX over tcp on lo, against nixl-ts-bench's own target process.
 *
 *   npx tsx bench/probes/fresh-endpoint-notif.ts [--rounds 100]
 */
import { parseArgs } from 'node:util';

import '../../src/polyfills.js';
import { Agent } from '../../src/agent.js';
import { startCliTarget } from './cli-target.js';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '100' } } });
const ROUNDS = Math.min(100, Number(args.rounds));
const params = { profile: 'tcp', devices: 'lo' };
const SIZE = 4096;

const a = await Agent.create({ name: `fresh-${process.pid}`, backends: [{ type: 'UCX', params }] });
const local = a.registerMem(a.alloc(SIZE).buffer).descs.at(0)!;
const target = await startCliTarget('UCX', params, SIZE, { backendAlloc: true });

async function notifiedWrite(): Promise<number> {
  const t0 = performance.now();
  await a.write(
    [{ addr: local.addr, len: SIZE }],
    [{ addr: target.addr, len: SIZE }],
    target.name,
    {
      notif: 'n',
      signal: AbortSignal.timeout(20_000),
    },
  );
  return (performance.now() - t0) * 1000;
}

const first: number[] = [];
const second: number[] = [];
const end = performance.now() + 20_000;
for (let i = 0; i < ROUNDS && performance.now() < end; i++) {
  if (i > 0) a.invalidateRemoteMD(target.name);
  a.loadRemoteMD(target.md);
  first.push(await notifiedWrite());
  second.push(await notifiedWrite());
}
const q = (xs: number[], p: number) =>
  [...xs].sort((x, y) => x - y)[Math.floor(p * (xs.length - 1))]!;
const summary = (xs: number[]) => ({
  p25: +q(xs, 0.25).toFixed(0),
  median: +q(xs, 0.5).toFixed(0),
  p75: +q(xs, 0.75).toFixed(0),
});
console.log(
  JSON.stringify({ rounds: first.length, firstUs: summary(first), secondUs: summary(second) }),
);
await target.stop();
await a.close();
