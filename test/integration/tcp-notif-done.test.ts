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
import { randomFillSync } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import type { XferRequest } from '../../src/xfer-request.js';
import { sha256 } from '../../testing/pattern.js';
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
      const until = Date.now() + LIMIT_MS;
      const late: string[] = [];
      for (let i = 0; i < ROUNDS && Date.now() < until; i++) {
        const size = SIZES[i % SIZES.length]!;
        const op = Math.floor(i / SIZES.length) % 2 === 0 ? 'WRITE' : 'READ';
        const pieces = Math.floor(i / (2 * SIZES.length)) % 2 === 0 ? 1 : 3;
        const polled = Math.floor(i / (4 * SIZES.length)) % 2 === 0;
        // Both ranges move around (and start unaligned) from one round to the next.
        const off = ((i * 7919) % (REGION - 9 * MiB)) + (i % 3);
        const { locals, remotes } = split(off, size, pieces, localBase, peer.addr);
        if (op === 'WRITE') randomFillSync(local, off, size);
        else await peer.send({ cmd: 'fill', off, len: size, seed: i + 1 });
        const notif = `done-${i}-${op}-${size}x${pieces}`;

        if (polled) {
          const req: XferRequest = a.createXferReq(op, locals, remotes, peer.name);
          a.postXferReq(req, { notif });
          while (a.getXferStatus(req) !== 'DONE') {
            if (Date.now() > until) throw new Error(`${notif}: not DONE in time`);
          }
          a.releaseXferReq(req);
        } else if (op === 'WRITE') {
          await a.write(locals, remotes, peer.name, { notif });
        } else {
          await a.read(locals, remotes, peer.name, { notif });
        }
        const seen = await peer.send({ cmd: 'takeNotifs', off, len: size });
        if (seen.list.length === 0) {
          // Not there at DONE: note it, and take it once it comes, so the next
          // round starts clean (a lost one fails the wait).
          late.push(`${notif} (${polled ? 'polled' : 'awaited'})`);
          await expect
            .poll(async () => (await peer.send({ cmd: 'takeNotifs', off: 0, len: 0 })).list, {
              timeout: 10_000,
            })
            .toEqual([[a.name, notif]]);
        } else {
          expect(seen.list).toEqual([[a.name, notif]]);
        }
        expect(seen.hash, notif).toBe(sha256(local.subarray(off, off + size)));
      }
      expect(late, `${late.length} notifications were not at the target at DONE`).toEqual([]);
    },
    LIMIT_MS + 60_000,
  );
});

/** `size` bytes at `off` on both sides, as up to `pieces` descriptors. */
function split(off: number, size: number, pieces: number, localBase: bigint, remoteBase: bigint) {
  const locals: { addr: bigint; len: number }[] = [];
  const remotes: { addr: bigint; len: number }[] = [];
  const piece = Math.ceil(size / pieces);
  for (let at = 0; at < size; at += piece) {
    const len = Math.min(piece, size - at);
    locals.push({ addr: localBase + BigInt(off + at), len });
    remotes.push({ addr: remoteBase + BigInt(off + at), len });
  }
  return { locals, remotes };
}
