/**
 * A UCX notification under the target's own name. The target's own
 * notifications never cross the wire, so no HELLO under its name opens a
 * session (ucx-auth.test.ts covers other agents' names; see
 * bench/probes/results/2026-12-ucx-name-binding.md).
 * The forger is a UCX agent in another process named like the target, which
 * loads the target's metadata under another name and sends to it.
 */
import { randomFillSync } from 'node:crypto';

import { afterEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { sha256 } from '../../testing/pattern.js';
import { reportUcxUnavailable, UCX_AVAILABLE } from '../backends/ucx-gate.js';
import { TcpPeer } from './tcp-peer-process.js';

const TCP = { profile: 'tcp', devices: 'lo' };
/** How long a forged notification gets to show up: it takes milliseconds when accepted. */
const FORGERY_WAIT_MS = 3_000;

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return check();
}

if (!UCX_AVAILABLE) reportUcxUnavailable('UCX notification sender names');
else {
  describe('UCX: a notification under the target’s own name', () => {
    let target: Agent | undefined;
    let forger: TcpPeer | undefined;
    afterEach(async () => {
      await forger?.close();
      await target?.close();
    });

    it('is refused; the target’s own notifications to itself still arrive', async () => {
      const name = `ucx-spoof-target-${process.pid}`;
      target = await Agent.create({ name, backends: [{ type: 'UCX', params: TCP }] });
      const got: [string, string][] = [];
      target.on('notif', (from, msg) => got.push([from, Buffer.from(msg).toString()]));

      forger = await TcpPeer.start(name, 4096, TCP, { backend: 'UCX' });
      const md = Buffer.from(target.getLocalMD()).toString('base64');
      await forger.send({ cmd: 'loadAs', md, as: `${name}-alias` });
      await forger.send({ cmd: 'genNotif', to: `${name}-alias`, msg: 'forged' });
      const forged = await until(() => got.some(([, m]) => m === 'forged'), FORGERY_WAIT_MS);
      expect(forged, `notifications: ${JSON.stringify(got)}`).toBe(false);

      // What the target sends itself, standalone and after a loopback WRITE.
      target.genNotif(name, 'to myself');
      const buf = target.alloc(1 << 16).buffer;
      const base = target.registerMem(buf).descs.at(0).addr;
      randomFillSync(buf, 0, 4096);
      const want = sha256(buf.subarray(0, 4096));
      await target.write([{ addr: base, len: 4096 }], [{ addr: base + 8192n, len: 4096 }], name, {
        notif: 'written',
        signal: AbortSignal.timeout(20_000),
      });
      expect(await until(() => got.length >= 2, 10_000)).toBe(true);
      expect(got).toEqual([
        [name, 'to myself'],
        [name, 'written'],
      ]);
      expect(sha256(buf.subarray(8192, 8192 + 4096))).toBe(want);
    }, 60_000);
  });
}
