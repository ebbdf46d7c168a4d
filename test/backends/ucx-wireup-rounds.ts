/**
 * The UCX wireup scenario that crashed Debian UCX 1.13's tcp transport (see
 * UcxEngine::MakePeer). Each round makes a pair, remade endpoints (a full
 * reload) and a one-way initiator, posts WRITEs with notifications at once,
 * then READs back; every byte is checked. ucx.test.ts runs it on loopback in
 * its own process, and through fixtures/ucx-wireup-rounds.ts inside a private
 * network namespace, where UCX's default devices include a second interface
 * beside lo: the condition under which the crash reproduced.
 */
import { randomBytes } from 'node:crypto';

import '../../src/polyfills.js';
import { Agent } from '../../src/agent.js';
import { fillPattern, sha256 } from '../../testing/pattern.js';

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`check failed: ${what}`);
}
/** Resolves with the sender of the next notification `text` to `agent` (30 s bound). */
export function notified(agent: Agent, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no notification '${text}'`)), 30_000);
    const on = (from: string, msg: Uint8Array) => {
      if (Buffer.from(msg).toString() !== text) return;
      clearTimeout(timer);
      agent.off('notif', on);
      resolve(from);
    };
    agent.on('notif', on);
  });
}

/** Runs the rounds; throws on the first difference. `devices` unset: UCX's default list. */
export async function runWireupRounds(rounds: number, devices?: string): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const params: Record<string, string> = {
      profile: 'tcp',
      errorHandling: round % 2 ? 'none' : 'peer',
    };
    if (devices) params.devices = devices;
    const make = (tag: string) =>
      Agent.create({
        name: `${tag}-${process.pid}-${randomBytes(3).toString('hex')}`,
        backends: [{ type: 'UCX', params }],
      });
    const [a, b, c] = [await make('a'), await make('b'), await make('c')];
    try {
      a.loadRemoteMD(b.getLocalMD());
      b.loadRemoteMD(a.getLocalMD());
      const lb = b.alloc(1 << 20).buffer;
      const rb = b.registerMem(lb).descs.at(0);
      const la = a.alloc(1 << 20).buffer;
      const ra = a.registerMem(la).descs.at(0);
      const lc = c.alloc(1 << 20).buffer;
      const rc = c.registerMem(lc).descs.at(0);
      fillPattern(la, round);
      fillPattern(lc, round + 100);
      // a reloads full metadata (its endpoints are remade); c is one-way: b never loads it.
      a.loadRemoteMD(b.getLocalMD());
      c.loadRemoteMD(b.getLocalMD());
      const half = 1 << 19;
      const notifs = [notified(b, `a${round}`), notified(b, `c${round}`)];
      const signal = AbortSignal.timeout(30_000);
      await Promise.all([
        a.write([{ addr: ra.addr, len: half }], [{ addr: rb.addr, len: half }], b.name, {
          notif: `a${round}`,
          signal,
        }),
        c.write(
          [{ addr: rc.addr + BigInt(half), len: half }],
          [{ addr: rb.addr + BigInt(half), len: half }],
          b.name,
          { notif: `c${round}`, signal },
        ),
      ]);
      const from = await Promise.all(notifs);
      check(from[0] === a.name && from[1] === c.name, `notifications from ${from.join(', ')}`);
      check(
        sha256(lb.subarray(0, half)) === sha256(la.subarray(0, half)),
        `round ${round}: a's WRITE`,
      );
      check(sha256(lb.subarray(half)) === sha256(lc.subarray(half)), `round ${round}: c's WRITE`);
      await c.read([{ addr: rc.addr, len: half }], [{ addr: rb.addr, len: half }], b.name, {
        signal,
      });
      check(
        sha256(lc.subarray(0, half)) === sha256(la.subarray(0, half)),
        `round ${round}: c's READ`,
      );
    } finally {
      for (const x of [a, b, c]) await x.close();
    }
  }
}
