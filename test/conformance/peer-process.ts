/**
 * A peer agent in its own process, driven by the conformance suite over
 * stdin/stdout (see peer-protocol.ts). It registers one region, serves it,
 * and reports notifications with the region's hash at their arrival.
 */
import { createInterface } from 'node:readline';

import { Agent } from '../../src/agent.js';
import type { Registration } from '../../src/registration.js';
import { fillPattern, sha256 } from './pattern.js';
import type { PeerCommand, PeerReply } from './peer-protocol.js';
import { NOTIF_WINDOW } from './transfer-pair.js';

let agent: Agent | undefined;
let region: Registration | undefined;
let buffer: Buffer | undefined;
const arrived: { from: string; msg: string; hash: string }[] = [];
const waiting: { msg: string; resolve: (r: { from: string; hash: string }) => void }[] = [];

function reply(r: PeerReply): void {
  process.stdout.write(JSON.stringify(r) + '\n');
}

function onNotif(from: string, msg: Uint8Array): void {
  const text = Buffer.from(msg).toString();
  // The same window the in-process pairs hash (transfer-pair.ts).
  const entry = { from, msg: text, hash: sha256(buffer!.subarray(0, NOTIF_WINDOW)) };
  const w = waiting.findIndex((x) => x.msg === text);
  if (w >= 0) waiting.splice(w, 1)[0]!.resolve(entry);
  else arrived.push(entry);
}

async function handle(c: PeerCommand): Promise<PeerReply> {
  switch (c.cmd) {
    case 'init': {
      agent = await Agent.create({
        name: c.name,
        plugins: c.plugins,
        backends: [{ type: c.backend, params: c.params }],
      });
      agent.on('notif', onNotif);
      buffer = agent.alloc(c.size, { backend: c.allocBackend }).buffer;
      region = agent.registerMem(buffer);
      const d = region.descs.at(0);
      return {
        id: c.id,
        md: Buffer.from(agent.getLocalMD()).toString('base64'),
        addr: d.addr.toString(),
        len: d.len,
      };
    }
    case 'load':
      agent!.loadRemoteMD(Buffer.from(c.md, 'base64'));
      return { id: c.id };
    case 'fill':
      fillPattern(buffer!.subarray(c.off, c.off + c.len), c.seed);
      return { id: c.id };
    case 'hash':
      return { id: c.id, hash: sha256(buffer!.subarray(c.off, c.off + c.len)) };
    case 'notif': {
      const i = arrived.findIndex((x) => x.msg === c.msg);
      if (i >= 0) {
        const e = arrived.splice(i, 1)[0]!;
        return { id: c.id, from: e.from, hashAtArrival: e.hash };
      }
      const got = await new Promise<{ from: string; hash: string } | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), c.timeoutMs);
        waiting.push({ msg: c.msg, resolve: (r) => (clearTimeout(timer), resolve(r)) });
      });
      if (!got) return { id: c.id, error: `no notification '${c.msg}' within ${c.timeoutMs} ms` };
      return { id: c.id, from: got.from, hashAtArrival: got.hash };
    }
    case 'close':
      region?.close();
      await agent?.close();
      setImmediate(() => process.exit(0));
      return { id: c.id };
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const c = JSON.parse(line) as PeerCommand;
  handle(c).then(reply, (err: Error) => reply({ id: c.id, error: `${err.name}: ${err.message}` }));
});
// The parent is gone: close the agent (stopping its backends' threads) and
// exit; if closing hangs, the timer ends the process, so no peer outlives its test.
rl.on('close', () => {
  setTimeout(() => process.kill(process.pid, 'SIGKILL'), 5_000);
  Promise.resolve(agent?.close())
    .catch(() => {})
    .finally(() => process.exit(0));
});
