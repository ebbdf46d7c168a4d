/**
 * The UCX backend's promise for a transfer with a notification (notif_ack,
 * on by default): once it is DONE at the initiator, the target has the
 * notification. As test/integration/tcp-notif-done.test.ts: the target is
 * another process that does not listen for 'notif'; the moment this process
 * sees DONE it says so on the target's stdin, and the target calls getNotifs
 * synchronously as that line arrives: the notification must be there, with
 * the data (hash of the target's range at that moment). Over tcp, over shared
 * memory (error_handling process) and with event-fd progress; WRITE and READ,
 * one descriptor and batches, polled and awaited.
 *
 * Then what an older peer (notif_ack off: its regions offer no
 * acknowledgement, it asks for none) still gets, and a target that freezes or
 * dies: an error within a bounded time, never a hang.
 */
import { randomFillSync } from 'node:crypto';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { RemoteDisconnectError } from '../../src/errors.js';
import { sha256 } from '../../testing/pattern.js';
import { reportUcxUnavailable, UCX_AVAILABLE } from '../backends/ucx-gate.js';
import { notifRoundsAtDone, split } from './notif-done-rounds.js';
import { TcpPeer } from './tcp-peer-process.js';

const MiB = 1024 * 1024;
const REGION = 16 * MiB;
const SIZES = [1, 4093, 65_536, MiB + 3, 4 * MiB];
const ROUNDS = 120; // every size × WRITE/READ × one descriptor/batch × polled/awaited, 3 times
const LIMIT_MS = 120_000;
const TCP = { profile: 'tcp', devices: 'lo' };

/** An initiator in this process and a UCX target in another. */
async function pair(tag: string, params: Record<string, string>, targetParams = params) {
  const name = `${tag.replace(/\W+/g, '-')}-${process.pid}`;
  const a = await Agent.create({
    name: `ucx-notif-init-${name}`,
    backends: [{ type: 'UCX', params }],
  });
  const local = a.alloc(REGION).buffer;
  const localBase = a.registerMem(local).descs.at(0).addr;
  const peer = await TcpPeer.start(`ucx-notif-target-${name}`, REGION, targetParams, {
    listen: false,
    backend: 'UCX',
  });
  a.loadRemoteMD(peer.mdBytes);
  return { a, local, localBase, peer };
}

if (!UCX_AVAILABLE) reportUcxUnavailable('UCX notifications at DONE');
else {
  describe.each([
    ['tcp', TCP],
    ['tcp, progress=event', { ...TCP, progress: 'event' }],
    ['shared memory (error_handling process)', { error_handling: 'process' }],
  ])('UCX, %s: a transfer DONE at the initiator has its notification at the target', (path, p) => {
    const params = { timeout_ms: '20000', ...p } as Record<string, string>;
    let s: Awaited<ReturnType<typeof pair>>;

    beforeAll(async () => {
      s = await pair(path, params);
    }, 120_000);

    afterAll(async () => {
      await s?.peer.close();
      await s?.a.close();
    }, 60_000);

    it(
      `${ROUNDS} transfers: getNotifs at the target returns each one's notification at DONE`,
      async () => {
        const late = await notifRoundsAtDone(s, {
          region: REGION,
          sizes: SIZES,
          rounds: ROUNDS,
          limitMs: LIMIT_MS,
        });
        expect(late, `${late.length} notifications were not at the target at DONE`).toEqual([]);
      },
      LIMIT_MS + 60_000,
    );
  });

  describe('UCX notif_ack with a peer without it, and with a target that stops', () => {
    let s: Awaited<ReturnType<typeof pair>> | undefined;
    afterEach(async () => {
      s?.peer.signal('SIGCONT');
      s?.peer.signal('SIGKILL');
      await s?.a.close();
      s = undefined;
    }, 60_000);

    /** WRITEs with notifications: each one arrives (at DONE or later) after its data. */
    async function writesArrive(rounds: number): Promise<void> {
      const { a, local, localBase, peer } = s!;
      for (let i = 0; i < rounds; i++) {
        const size = SIZES[i % SIZES.length]!;
        const off = i * 8;
        const { locals, remotes } = split(off, size, 1, localBase, peer.addr);
        randomFillSync(local, off, size);
        await a.write(locals, remotes, peer.name, { notif: `n${i}` });
        await expect
          .poll(async () => (await peer.send({ cmd: 'takeNotifs', off: 0, len: 0 })).list, {
            timeout: 10_000,
          })
          .toEqual([[a.name, `n${i}`]]);
        const { hash } = await peer.send({ cmd: 'hash', off, len: size });
        expect(hash).toBe(sha256(local.subarray(off, off + size)));
      }
    }

    it('a target that offers no acknowledgement (notif_ack off, as an older agent): DONE as before', async () => {
      s = await pair('old-target', TCP, { ...TCP, notif_ack: 'off' });
      await writesArrive(20);
    }, 90_000);

    it('an initiator that asks for none (notif_ack off) toward a target that offers it', async () => {
      s = await pair('old-initiator', { ...TCP, notif_ack: 'off' }, TCP);
      await writesArrive(20);
    }, 90_000);

    for (const how of ['frozen (SIGSTOP)', 'killed'] as const) {
      it(`a target ${how} under WRITEs with notifications: the transfer fails within timeout_ms, never hangs`, async () => {
        const params = { ...TCP, timeout_ms: '2000' };
        s = await pair(`stop-${how}`, params);
        const { a, localBase, peer } = s;
        const { locals, remotes } = split(0, 65_536, 1, localBase, peer.addr);
        await a.write(locals, remotes, peer.name, { notif: 'before' });
        peer.signal(how === 'killed' ? 'SIGKILL' : 'SIGSTOP');
        const started = Date.now();
        let error: unknown;
        // Bounded: the first failure ends it; each WRITE fails within timeout_ms.
        for (let i = 0; i < 1000 && error === undefined; i++) {
          error = await a.write(locals, remotes, peer.name, { notif: `n${i}` }).then(
            () => undefined,
            (e: unknown) => e,
          );
        }
        expect(error).toBeInstanceOf(RemoteDisconnectError);
        // timeout_ms plus two check intervals, with a wide margin for 2 noisy cores.
        expect(Date.now() - started).toBeLessThan(30_000);
      }, 90_000);
    }
  });
}
