/**
 * The TCP backend's promise for a transfer with a notification: once it is
 * DONE at the initiator, the target has the notification. The target here is
 * another process that does not listen for 'notif'; the moment this process
 * sees DONE it says so on the target's stdin, and the target calls getNotifs
 * synchronously as that line arrives: the notification must be there, with
 * the data (hash of the target's range at that moment). Every path: socket
 * (one stream, striped over two from 4 MiB, busy_poll_us, poll_progress,
 * pollSend),
 * same-host copies, shared memory; WRITE and READ, one descriptor and
 * batches, 1 B to 8 MiB; polled (getXferStatus in a loop) and awaited waits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { notifRoundsAtDone } from './notif-done-rounds.js';
import { TcpPeer } from './tcp-peer-process.js';

const MiB = 1024 * 1024;
const REGION = 32 * MiB;
const SIZES = [1, 4093, 65_536, MiB + 3, 4 * MiB, 8 * MiB];
const ROUNDS = 288; // every size × WRITE/READ × one descriptor/batch × polled/awaited, 6 times
const LIMIT_MS = 120_000;

describe.each([
  ['socket', { same_host: 'off' }],
  ['socket, busy_poll_us=300', { same_host: 'off', busy_poll_us: '300' }],
  ['socket, poll_progress=on', { same_host: 'off', poll_progress: 'on' }],
  ['same-host copies', { same_host: 'auto', same_host_shm: 'off' }],
  ['same-host shared memory', { same_host: 'auto', same_host_shm: 'auto' }],
])('TCP, %s: a transfer DONE at the initiator has its notification at the target', (path, p) => {
  const params = { timeout_ms: '20000', ...p } as Record<string, string>;
  let a: Agent;
  let peer: TcpPeer;
  let local: Buffer;
  let localBase: bigint;

  beforeAll(async () => {
    const tag = `${path.replace(/\W+/g, '-')}-${process.pid}`;
    a = await Agent.create({ name: `notif-init-${tag}`, backends: [{ type: 'TCP', params }] });
    local = a.alloc(REGION).buffer;
    localBase = a.registerMem(local).descs.at(0).addr;
    peer = await TcpPeer.start(`notif-target-${tag}`, REGION, params, { listen: false });
    a.loadRemoteMD(peer.mdBytes);
  }, 120_000);

  afterAll(async () => {
    await peer?.close();
    await a?.close();
  }, 60_000);

  it(
    `${ROUNDS} transfers: getNotifs at the target returns each one's notification at DONE`,
    async () => {
      const late = await notifRoundsAtDone(
        { a, local, localBase, peer },
        { region: REGION, sizes: SIZES, rounds: ROUNDS, limitMs: LIMIT_MS },
      );
      expect(late, `${late.length} notifications were not at the target at DONE`).toEqual([]);
    },
    LIMIT_MS + 60_000,
  );
});
